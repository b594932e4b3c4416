"""The patient's reminder settings page, and the coordinator's view of reminders sent."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from diary import clock
from diary.accounts import scope
from diary.accounts.decorators import role_required
from diary.errors import Invalid
from diary.extensions import db
from diary.reminders import services, webpush
from diary.reminders.forms import SettingsForm

bp = Blueprint("reminders", __name__)

STAFF = ("coordinator", "admin")


@bp.route("/settings", methods=["GET", "POST"])
@role_required("patient")
def settings():
    patient = current_user.patient
    now = clock.now_utc()
    prefs = services.get_or_create_preferences(patient, now=now, language=str(get_locale()))
    form = SettingsForm(obj=prefs)
    status = 200
    if request.method == "POST":
        if not patient.contact_email:  # the box is not shown: keep what is stored
            form.email_enabled.data = prefs.email_enabled
        if form.validate():
            try:
                services.update_preferences(patient, form.values(), actor=current_user, now=now)
            except Invalid as exc:
                db.session.rollback()
                for name, message in exc.fields.items():
                    getattr(form, name).errors = [message]
            else:
                db.session.commit()
                flash(_("Your reminder settings are saved."), "success")
                return redirect(url_for(".settings"))
        status = 422
    else:
        db.session.commit()  # the preferences row created with the defaults
    public_key = webpush.public_key(current_app.config, current_app.instance_path)
    return render_template("reminders/settings.html", form=form, patient=patient,
                           public_key=public_key,
                           subscriptions=services.subscription_count(patient)), status


@bp.route("/staff/patients/<int:patient_id>/reminders")
@role_required(*STAFF)
def sent(patient_id: int):
    patient = scope.get_patient_or_404(current_user, patient_id)
    messages = services.sent_reminders(patient)
    rows = [(m, *services.describe(m)) for m in messages]
    return render_template("reminders/sent.html", patient=patient, rows=rows,
                           tz=patient.tz, local=clock.local_datetime)
