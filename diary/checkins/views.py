"""The patient's check-in page: answers, a review step, then the advice; the photo route."""
import json
import uuid
from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user, login_required

from diary import clock
from diary.accounts import scope
from diary.accounts.decorators import role_required
from diary.alerts.rules import highest_tier
from diary.checkins import photos, services
from diary.checkins.forms import CheckInForm, ConfirmForm, from_api, to_api
from diary.checkins.items import GRADES, SYMPTOMS, WARNING_SIGNS
from diary.checkins.models import CheckIn
from diary.core.transactions import commit_retrying
from diary.errors import Invalid

bp = Blueprint("checkins", __name__)

PENDING = "pending_photos"  # session key: photos uploaded at the review step, not yet saved


def _day_choices(patient, now):
    earliest, today = services.window(patient, now)
    choices, day = [], today
    while day >= earliest:
        when = _("Today") if day == today else (
            _("Yesterday") if day == today - timedelta(days=1) else "")
        label = f"{when}, {format_date(day, 'full')}" if when else format_date(day, "full")
        choices.append((day.isoformat(), label))
        day -= timedelta(days=1)
    return choices


def _render_form(form, data: dict, errors: dict, photo_token: str | None = None, status=200):
    patient = current_user.patient
    form.diary_date.choices = _day_choices(patient, clock.now_utc())
    for name in ("temperature_c", "note", "photo", "diary_date"):
        if name in errors:
            getattr(form, name).errors = [errors[name]]
    if "injection_site.diameter_cm" in errors:
        form.site_diameter_cm.errors = [errors["injection_site.diameter_cm"]]
    return render_template(
        "checkins/form.html", form=form, symptoms=SYMPTOMS, grades=GRADES,
        warning_signs=WARNING_SIGNS, answers=data.get("symptoms") or {},
        marked=data.get("new_or_worse") or [], signs=data.get("warning_signs") or [],
        errors=errors, photo_token=photo_token), status


def _pending() -> list[str]:
    """Photo tokens this user uploaded in this session (a shared phone may switch users)."""
    return [t for uid, t in session.get(PENDING, []) if uid == current_user.id]


def _remember(token: str) -> None:
    session[PENDING] = (list(session.get(PENDING, [])) + [[current_user.id, token]])[-5:]


def _forget(token: str) -> None:
    session[PENDING] = [[uid, t] for uid, t in session.get(PENDING, []) if t != token]


def _uploaded_photo() -> bytes | None:
    upload = request.files.get("photo")
    if upload is None or not upload.filename:
        return None
    return upload.stream.read(photos.MAX_BYTES + 1)


@bp.route("/checkin", methods=["GET", "POST"])
@role_required("patient")
def new():
    patient = current_user.patient
    form = CheckInForm()
    if request.method == "GET":
        _earliest, today = services.window(patient, clock.now_utc())
        form.client_id.data = str(uuid.uuid4())
        form.diary_date.data = today.isoformat()
        return _render_form(form, {}, {})
    if not form.validate_on_submit():
        return _render_form(form, to_api(request.form), {"csrf_token": _("expired")}, status=400)
    data = to_api(request.form)
    token = request.form.get("photo_token") or None
    if token not in _pending():
        token = None
    errors = {}
    try:
        services.clean(data, current_user.patient, clock.now_utc())
    except Invalid as exc:
        errors.update(exc.fields)
    upload = _uploaded_photo()
    if upload is not None:
        try:
            photos.clean_image(upload)
        except Invalid as exc:
            errors.update(exc.fields)
    if errors:
        return _render_form(form, data, errors, photo_token=token, status=422)
    if upload is not None:
        token, _ctype = photos.store(upload)
        _remember(token)
    confirm = ConfirmForm(formdata=None, payload=json.dumps(data), photo_token=token or "")
    return render_template("checkins/review.html", confirm=confirm, data=data,
                           symptoms=SYMPTOMS, grades=GRADES, warning_signs=WARNING_SIGNS,
                           late=services.clean(data, patient, clock.now_utc())["late"],
                           photo_token=token)


@bp.post("/checkin/save")
@role_required("patient")
def save():
    patient = current_user.patient
    confirm = ConfirmForm()
    if not confirm.validate_on_submit():
        abort(400)
    try:
        data = json.loads(confirm.payload.data or "")
    except ValueError:
        abort(400)
    if not isinstance(data, dict):
        abort(400)
    token = confirm.photo_token.data or None
    if token not in _pending() or not photos.is_stored_name(token):
        token = None
    if request.form.get("action") == "change":
        form = CheckInForm(formdata=None, data=from_api(data))
        return _render_form(form, data, {}, photo_token=token)
    photo = (token, photos.content_type_of(token)) if token else None
    try:
        saved = commit_retrying(lambda: services.record_checkin(
            patient, data, actor=current_user, now=clock.now_utc(), source="web", photo=photo))
    except Invalid as exc:
        form = CheckInForm(formdata=None, data=from_api(data))
        return _render_form(form, data, exc.fields, photo_token=token, status=422)
    if token:
        _forget(token)
    if not saved.created:
        flash(_("This check-in was already saved."), "info")
    return redirect(url_for("checkins.advice", checkin_id=saved.checkin.id))


@bp.get("/checkin/<int:checkin_id>")
@role_required("patient")
def advice(checkin_id: int):
    checkin = scope.get_scoped_or_404(CheckIn, checkin_id, current_user)
    result = services.stored_result(checkin)
    return render_template("checkins/advice.html", checkin=checkin, result=result,
                           tier=highest_tier(result.alerts), site=checkin.patient.site,
                           phone_uri=tel_uri(checkin.patient.site.phone))


@bp.get("/checkins/<int:checkin_id>/photo")
@login_required
def photo(checkin_id: int):
    # the patient, staff of the patient's site, or an admin; anyone else gets 404
    checkin = scope.get_scoped_or_404(CheckIn, checkin_id, current_user)
    if not checkin.photo_file:
        abort(404)
    try:
        path = photos.path_of(checkin.photo_file)
    except ValueError:
        abort(404)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=checkin.photo_content_type, max_age=0,
                         download_name=f"checkin-{checkin.id}{path.suffix}")
    response.headers["Cache-Control"] = "private, no-store"
    return response


def tel_uri(phone: str) -> str:
    """A tap-to-call link: digits and a leading + only (RFC 3966 global number)."""
    phone = (phone or "").strip()
    digits = "".join(ch for ch in phone if ch.isdigit())
    return "tel:" + ("+" if phone.startswith("+") else "") + digits
