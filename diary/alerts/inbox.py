"""The investigating team's inbox: open alerts, the alert page, the acknowledgement."""
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from diary import clock
from diary.accounts import scope
from diary.accounts.decorators import role_required
from diary.alerts.acknowledgement import ACTION_MAX, acknowledge, alerts_query
from diary.alerts.forwarding import tier_label
from diary.alerts.models import Alert
from diary.errors import DomainError
from diary.extensions import db

bp = Blueprint("alert_inbox", __name__, url_prefix="/staff/alerts")

RECENT_DAYS = 14
#: the check-in feature's route that serves a photo to the patient's site staff
PHOTO_ENDPOINT = "checkins.photo"


class AcknowledgeForm(FlaskForm):
    action = TextAreaField(_l("Action taken"),
                           validators=[DataRequired(_l("Say what action was taken.")),
                                       Length(max=ACTION_MAX)])


def photo_url(checkin) -> str | None:
    if checkin is None or not checkin.photo_file:
        return None
    if PHOTO_ENDPOINT not in current_app.view_functions:
        return None
    return url_for(PHOTO_ENDPOINT, checkin_id=checkin.id)


@bp.app_template_global()
def alert_tier_label(tier: str) -> str:
    return tier_label(tier)


@bp.route("")
@role_required("investigator", "coordinator", "admin")
def inbox():
    status = request.args.get("status", "open")
    if status not in ("open", "acknowledged"):
        status = "open"
    alerts = db.session.execute(alerts_query(current_user, status).limit(300)).scalars().all()
    return render_template("alerts/inbox.html", alerts=alerts, status=status)


def _page(alert, form, status=200):
    from diary.checkins.models import CheckIn

    since = alert.diary_date - timedelta(days=RECENT_DAYS)
    recent = db.session.execute(
        scope.scoped(sa.select(CheckIn), CheckIn, current_user)
        .where(CheckIn.patient_id == alert.patient_id, CheckIn.diary_date >= since)
        .order_by(CheckIn.diary_date.desc(), CheckIn.received_at.desc()).limit(30)
    ).scalars().all()
    from diary.checkins.items import GRADES, SYMPTOMS, WARNING_SIGNS
    return render_template(
        "alerts/alert.html", alert=alert, checkin=alert.checkin, recent=recent, form=form,
        tz=alert.site.timezone,  # staff read the times of the patient's site
        photo_url=photo_url, symptoms=SYMPTOMS, grades=GRADES, warning_signs=WARNING_SIGNS,
        can_acknowledge=current_user.role == "investigator" and alert.status == "open",
    ), status


@bp.route("/<int:alert_id>")
@role_required("investigator", "coordinator", "admin")
def alert(alert_id: int):
    alert = scope.get_scoped_or_404(Alert, alert_id, current_user)
    return _page(alert, AcknowledgeForm())


@bp.route("/<int:alert_id>/acknowledge", methods=["POST"])
@role_required("investigator")
def acknowledge_view(alert_id: int):
    alert = scope.get_scoped_or_404(Alert, alert_id, current_user)
    form = AcknowledgeForm()
    if not form.validate_on_submit():
        return _page(alert, form, 422)
    try:
        acknowledge(alert, user=current_user, action=form.action.data, now=clock.now_utc())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".alert", alert_id=alert_id))
    db.session.commit()
    flash(_("Alert acknowledged. Thank you."), "success")
    return redirect(url_for(".inbox"))
