"""Staff pages for patients: the list, enrolment with a one-time code, withdrawal.

Investigators and coordinators see the patients of their sites, an admin all
(accounts.scope); only coordinators and admins enrol, issue codes, withdraw.
"""
import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from diary import clock
from diary.accounts import scope, staff_services
from diary.accounts.decorators import role_required
from diary.accounts.models import Patient, Site
from diary.accounts.qr import qr_svg
from diary.accounts.staff_forms import ConfirmForm, EnrolPatientForm, WithdrawForm
from diary.errors import DomainError
from diary.extensions import db

bp = Blueprint("patients", __name__, url_prefix="/staff/patients")

VIEWERS = ("investigator", "coordinator", "admin")
MANAGERS = ("coordinator", "admin")


def enrolable_sites(user) -> list[Site]:
    """The sites `user` may enrol into: their own; an admin any."""
    stmt = sa.select(Site).order_by(Site.name)
    if user.role != "admin":
        stmt = stmt.where(Site.id.in_(user.site_ids or [-1]))
    return list(db.session.execute(stmt).scalars())


def apply_field_errors(form, exc: DomainError, aliases: dict[str, str] | None = None) -> bool:
    """Show a service's message under the field at fault; False when no field matched."""
    shown = False
    for name in exc.fields:
        field = getattr(form, (aliases or {}).get(name, name), None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors or []) + [exc.message]
            shown = True
    return shown


def code_page(patient: Patient, issued: staff_services.IssuedCode, status: int = 200):
    """The page that shows a one-time code, once: never cached, never stored in clear."""
    link = staff_services.enrolment_link(issued.code)
    tz = patient.site.timezone
    html = render_template(
        "accounts/enrolment_code.html", patient=patient, issued=issued, link=link,
        qr=qr_svg(link, _("QR code of the enrolment link for %(code)s", code=patient.study_code)),
        expires_local=clock.local_datetime(issued.expires_at, tz), tz=tz)
    response = make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("")
@role_required(*VIEWERS)
def index():
    patients = db.session.execute(
        scope.patients_query(current_user).join(Patient.site)
        .options(so.contains_eager(Patient.site), so.selectinload(Patient.user))
        .order_by(Site.name, Patient.study_code)
    ).scalars().all()
    return render_template("accounts/patients.html", patients=patients,
                           can_enrol=current_user.role in MANAGERS)


@bp.route("/new", methods=["GET", "POST"])
@role_required(*MANAGERS)
def new():
    form = EnrolPatientForm()
    sites = enrolable_sites(current_user)
    form.site_id.choices = [(s.id, s.name) for s in sites]
    if request.method == "GET" and len(sites) == 1:
        form.site_id.data = sites[0].id
    general_error = None
    if form.validate_on_submit():
        site = next((s for s in sites if s.id == form.site_id.data), None)
        if site is None:
            form.site_id.errors = [_("Choose one of your sites.")]
        else:
            now = clock.now_utc()
            try:
                patient, issued = staff_services.enrol_patient(
                    study_code=form.study_code.data, site=site,
                    cure1_start=form.cure1_start.data, timezone=form.timezone.data,
                    contact_email=form.contact_email.data, actor=current_user, now=now)
            except DomainError as exc:
                db.session.rollback()
                if not apply_field_errors(form, exc, {"email": "contact_email",
                                                      "site": "site_id"}):
                    general_error = exc.message
                return render_template("accounts/enrol_patient.html", form=form,
                                       general_error=general_error), exc.status
            db.session.commit()
            return code_page(patient, issued, 201)
    if form.site_id.errors:  # WTForms' "could not coerce" says nothing to a coordinator
        form.site_id.errors = [_("Choose one of your sites.")]
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/enrol_patient.html", form=form,
                           general_error=general_error), status


@bp.route("/<int:patient_id>")
@role_required(*VIEWERS)
def show(patient_id: int):
    patient = scope.get_patient_or_404(current_user, patient_id)
    return _show(patient, WithdrawForm())


def _show(patient: Patient, withdraw_form: WithdrawForm, status: int = 200):
    pending = staff_services.pending_code(patient.user, "enrolment", clock.now_utc())
    site_tz = patient.site.timezone
    return render_template(
        "accounts/patient.html", patient=patient, pending=pending,
        pending_local=clock.local_datetime(pending.expires_at, site_tz) if pending else None,
        enrolled_on=clock.local_date(patient.created_at, site_tz),
        withdrawn_on=clock.local_date(patient.withdrawn_at, site_tz)
        if patient.withdrawn_at else None,
        can_manage=current_user.role in MANAGERS,
        # the contact e-mail is for the site's coordinators only (clinical-rules.md, 7)
        show_contact=current_user.role == "coordinator",
        code_form=ConfirmForm(), withdraw_form=withdraw_form), status


@bp.route("/<int:patient_id>/code", methods=["POST"])
@role_required(*MANAGERS)
def new_code(patient_id: int):
    patient = scope.get_patient_or_404(current_user, patient_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("Your form expired. Please try again."), "error")
        return redirect(url_for("patients.show", patient_id=patient.id))
    issued = staff_services.new_enrolment_code(patient, actor=current_user, now=clock.now_utc())
    db.session.commit()
    return code_page(patient, issued)


@bp.route("/<int:patient_id>/withdraw", methods=["POST"])
@role_required(*MANAGERS)
def withdraw(patient_id: int):
    patient = scope.get_patient_or_404(current_user, patient_id)
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            staff_services.withdraw_patient(patient, reason=form.reason.data,
                                            actor=current_user, now=clock.now_utc())
        except DomainError as exc:
            db.session.rollback()
            if not apply_field_errors(form, exc):
                flash(exc.message, "error")
            return _show(patient, form, exc.status)
        db.session.commit()
        flash(_("%(code)s is withdrawn from the diary.", code=patient.study_code), "success")
        return redirect(url_for("patients.show", patient_id=patient.id))
    return _show(patient, form, 422)
