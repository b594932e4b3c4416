"""Patient pages (Today, record a dose, calendar) and staff pages (plan, corrections)."""
import uuid
from datetime import datetime, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from diary import clock
from diary.accounts.decorators import role_required
from diary.accounts.scope import get_patient_or_404, get_scoped_or_404, patients_query
from diary.core.forms import choices
from diary.core.setup import short_day
from diary.errors import Invalid
from diary.extensions import db
from diary.injections import services
from diary.injections.forms import (
    BY_LABELS,
    REASON_LABELS,
    SETTING_LABELS,
    SITE_LABELS,
    STATUS_LABELS,
    ChangeDoseForm,
    CorrectionForm,
    InjectionForm,
    ShiftCureForm,
)
from diary.injections.models import InjectionRecord, ScheduledDose

bp = Blueprint("injections", __name__)

STAFF = ("investigator", "coordinator", "admin")
CHANGERS = ("investigator", "coordinator")


@bp.app_context_processor
def _labels():
    return {"SITE_LABELS": SITE_LABELS, "BY_LABELS": BY_LABELS, "REASON_LABELS": REASON_LABELS,
            "SETTING_LABELS": SETTING_LABELS, "STATUS_LABELS": STATUS_LABELS}


def _local_input(moment: datetime, tz: str) -> str:
    return clock.local_datetime(moment, tz).strftime("%Y-%m-%dT%H:%M")


def _form_values(form: InjectionForm, taken) -> dict:
    return {"taken": taken, "taken_at": form.taken_at.data, "dose_miu": form.dose_miu.data,
            "site": form.site.data, "administered_by": form.administered_by.data,
            "lot": form.lot.data, "note": form.note.data,
            "not_taken_reason": None if taken else form.not_taken_reason.data}


def _show_errors(form, exc: Invalid) -> None:
    leftover = []
    for name, message in exc.fields.items():
        target = getattr(form, name, None)
        if target is not None and hasattr(target, "errors") and name != "csrf_token":
            target.errors = list(target.errors or []) + [message]
        else:
            leftover.append(message)
    # The patient reads the messages beside the fields, not the API's field codes.
    summary = (_("Please check the marked answers.") if isinstance(exc, services.InvalidValues)
               else exc.message)
    flash(" ".join([summary, *leftover]), "error")


def _prefill(form: InjectionForm, patient, dose: ScheduledDose, now: datetime) -> None:
    protocol = services.protocol_of(patient)
    today = clock.local_date(now, patient.tz)
    last_day = dose.planned_date + timedelta(days=protocol.windows.injection_days_after_dose)
    if dose.planned_date <= today <= last_day:
        form.taken_at.data = _local_input(now, patient.tz)
    else:
        form.taken_at.data = _local_input(clock.at_local(dose.planned_date, 9, 0, patient.tz),
                                          patient.tz)
    form.dose_miu.data = f"{dose.dose_miu:g}"
    form.site.data = services.suggested_site(patient)
    form.administered_by.data = "self" if dose.setting == "home" else "nurse"
    form.client_id.data = str(uuid.uuid4())


def _record(patient, dose: ScheduledDose, *, by_staff: bool, done_url: str, template: str):
    now = clock.now_utc()
    form = InjectionForm()
    status = 200
    if request.method == "GET":
        _prefill(form, patient, dose, now)
    elif form.validate_on_submit():
        action = request.form.get("action")
        taken = {"taken": True, "not_taken": False}.get(action)
        try:
            rec, created = services.record_injection(
                patient=patient, dose=dose, values=_form_values(form, taken),
                client_id=form.client_id.data or str(uuid.uuid4()), actor=current_user,
                now=now, by_staff=by_staff, tz_for_naive=patient.tz)
        except Invalid as exc:
            db.session.rollback()
            _show_errors(form, exc)
            status = 422
        else:
            db.session.commit()
            if created:
                flash(_("Dose recorded. Thank you.") if rec.taken
                      else _("Recorded as not taken."), "success")
            if rec.late:
                flash(_("This record is marked late: it was entered more than a day after "
                        "the fact."), "info")
            return redirect(done_url)
    else:
        status = 400
    return render_template(template, form=form, patient=patient, dose=dose,
                           by_staff=by_staff), status


# --- patient pages ------------------------------------------------------------

@bp.route("/today")
@role_required("patient")
def today():
    patient = current_user.patient
    now = clock.now_utc()
    summary = services.today_summary(patient, now)
    return render_template("injections/today.html", patient=patient, summary=summary, now=now,
                           may_record=services.patient_may_record)


@bp.route("/calendar")
@role_required("patient")
def calendar():
    patient = current_user.patient
    now = clock.now_utc()
    rows = services.plan_rows(patient, now)
    return render_template("injections/calendar.html", patient=patient, rows=rows,
                           today=clock.local_date(now, patient.tz),
                           may_record=services.patient_may_record)


@bp.route("/doses/<int:dose_id>/record", methods=["GET", "POST"])
@role_required("patient")
def record(dose_id: int):
    patient = current_user.patient
    dose = get_scoped_or_404(ScheduledDose, dose_id, current_user)
    return _record(patient, dose, by_staff=False, done_url=url_for("injections.today"),
                   template="injections/record.html")


# --- staff pages --------------------------------------------------------------

@bp.route("/plans")
@role_required(*STAFF)
def plans():
    from diary.accounts.models import Patient
    patients = db.session.execute(patients_query(current_user).order_by(Patient.study_code)
                                  ).scalars().all()
    return render_template("injections/plans.html", patients=patients)


def _plan_page(patient, shift_form=None, dose_form=None, status=200):
    now = clock.now_utc()
    rows = services.plan_rows(patient, now)
    shift_form = shift_form or ShiftCureForm()
    dose_form = dose_form or ChangeDoseForm()
    cures = sorted({r.dose.cure for r in rows})
    shift_form.cure.choices = choices((c, _("Cure %(n)d", n=c)) for c in cures)
    dose_form.dose_id.choices = choices(
        (r.dose.id, _("Cure %(cure)d day %(day)d (%(date)s)", cure=r.dose.cure, day=r.dose.day,
                      date=short_day(r.dose.planned_date)))
        for r in rows if r.record is None)
    return render_template("injections/staff_plan.html", patient=patient, rows=rows,
                           shift_form=shift_form, dose_form=dose_form,
                           protocol=services.protocol_of(patient),
                           may_change=current_user.role in CHANGERS), status


@bp.route("/patients/<int:patient_id>/plan")
@role_required(*STAFF)
def staff_plan(patient_id: int):
    return _plan_page(get_patient_or_404(current_user, patient_id))


@bp.route("/patients/<int:patient_id>/plan/shift", methods=["POST"])
@role_required(*CHANGERS)
def shift(patient_id: int):
    patient = get_patient_or_404(current_user, patient_id)
    form = ShiftCureForm()
    if form.validate_on_submit():
        try:
            days = services.shift_cure(patient, cure=form.cure.data, new_start=form.new_start.data,
                                       reason=form.reason.data, actor=current_user,
                                       now=clock.now_utc())
        except Invalid as exc:
            db.session.rollback()
            _show_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Cure %(cure)d moved by %(days)d days; later cures follow.",
                    cure=form.cure.data, days=days), "success")
            return redirect(url_for("injections.staff_plan", patient_id=patient.id))
    return _plan_page(patient, shift_form=form, status=422)


@bp.route("/patients/<int:patient_id>/plan/dose", methods=["POST"])
@role_required(*CHANGERS)
def change_dose(patient_id: int):
    patient = get_patient_or_404(current_user, patient_id)
    form = ChangeDoseForm()
    if form.validate_on_submit():
        dose = services.get_dose(patient, form.dose_id.data)
        try:
            services.change_dose(dose, dose_miu=form.dose_miu.data, reason=form.reason.data,
                                 actor=current_user, now=clock.now_utc(),
                                 rest_of_cure=form.rest_of_cure.data)
        except Invalid as exc:
            db.session.rollback()
            _show_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Planned dose changed."), "success")
            return redirect(url_for("injections.staff_plan", patient_id=patient.id))
    return _plan_page(patient, dose_form=form, status=422)


@bp.route("/patients/<int:patient_id>/doses/<int:dose_id>/record", methods=["GET", "POST"])
@role_required(*CHANGERS)
def staff_record(patient_id: int, dose_id: int):
    patient = get_patient_or_404(current_user, patient_id)
    dose = services.get_dose(patient, dose_id)
    return _record(patient, dose, by_staff=True,
                   done_url=url_for("injections.staff_plan", patient_id=patient.id),
                   template="injections/record.html")


@bp.route("/patients/<int:patient_id>/injections/<int:record_id>/correct",
          methods=["GET", "POST"])
@role_required(*CHANGERS)
def correct(patient_id: int, record_id: int):
    patient = get_patient_or_404(current_user, patient_id)
    rec = get_scoped_or_404(InjectionRecord, record_id, current_user)
    if rec.patient_id != patient.id:
        abort(404)
    form = CorrectionForm()
    status = 200
    if request.method == "GET":
        form.taken.data = "yes" if rec.taken else "no"
        form.taken_at.data = _local_input(rec.taken_at, patient.tz) if rec.taken_at else ""
        form.dose_miu.data = f"{rec.dose_miu:g}" if rec.dose_miu is not None else ""
        form.site.data = rec.site or services.suggested_site(patient)
        form.administered_by.data = rec.administered_by or "self"
        form.lot.data, form.note.data = rec.lot or "", rec.note
        form.not_taken_reason.data = rec.not_taken_reason or ""
    elif form.validate_on_submit():
        taken = {"yes": True, "no": False}.get(form.taken.data)
        try:
            services.correct_injection(rec, values=_form_values(form, taken),
                                       reason=form.reason.data, actor=current_user,
                                       now=clock.now_utc(), tz_for_naive=patient.tz)
        except Invalid as exc:
            db.session.rollback()
            _show_errors(form, exc)
            status = 422
        else:
            db.session.commit()
            flash(_("Record corrected. The earlier version stays in the audit trail."), "success")
            return redirect(url_for("injections.staff_plan", patient_id=patient.id))
    else:
        status = 400
    return render_template("injections/correct.html", form=form, patient=patient, record=rec,
                           history=services.record_history(rec.scheduled_dose)), status
