"""The check-in page's form, and its translation into the API's shape.

WTForms carries the CSRF token and renders the simple fields; the checking is
done by `services.clean`, the same for the page and the API. The graded items
and the checklists are rendered from the item catalogue (items.py).
"""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, RadioField, StringField, TextAreaField

from diary.checkins.items import NOTE_MAX
from diary.core.forms import choices


class CheckInForm(FlaskForm):
    client_id = HiddenField()
    diary_date = RadioField(_l("Which day is this check-in for?"), choices=[],
                            validate_choice=False)
    temperature_c = StringField(
        _l("Temperature in °C, if you measured it"),
        render_kw={"inputmode": "decimal", "autocomplete": "off", "placeholder": _l("37.2")})
    site_diameter_cm = StringField(
        _l("Largest redness or hardening around an injection site, in cm"),
        render_kw={"inputmode": "decimal", "autocomplete": "off"})
    site_ulceration = RadioField(
        _l("Is there an open sore (ulcer) where you injected?"),
        choices=choices((("no", _l("No")), ("yes", _l("Yes")))), validate_choice=False)
    note = TextAreaField(_l("Anything else you want the team to know"),
                         render_kw={"rows": 3, "maxlength": NOTE_MAX})
    photo = FileField(_l("Photo of a skin change (optional, JPEG or PNG, at most 10 MB)"),
                      render_kw={"accept": "image/jpeg,image/png"})


class ConfirmForm(FlaskForm):
    """The review step: what will be saved travels back in one hidden field, checked again."""

    payload = HiddenField()
    photo_token = HiddenField()


def _number(raw):
    raw = (raw or "").strip().replace(",", ".")
    if raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        return raw  # the validation names it


def _grade(raw):
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        return raw


def to_api(form_data) -> dict:
    """The page's fields as the API body, so that both go through one validation."""
    symptoms = {}
    for key in form_data:
        if key.startswith("symptom-"):
            grade = _grade(form_data.get(key))
            if grade is not None:
                symptoms[key[len("symptom-"):]] = grade
    ulceration = {"yes": True, "no": False, "": None, None: None}.get(
        form_data.get("site_ulceration"), form_data.get("site_ulceration"))
    return {
        "client_id": form_data.get("client_id") or None,
        "diary_date": form_data.get("diary_date") or None,
        "temperature_c": _number(form_data.get("temperature_c")),
        "symptoms": symptoms,
        "new_or_worse": form_data.getlist("new_or_worse"),
        "warning_signs": form_data.getlist("warning_signs"),
        "injection_site": {"diameter_cm": _number(form_data.get("site_diameter_cm")),
                           "ulceration": ulceration},
        "note": form_data.get("note") or "",
    }


def from_api(data: dict) -> dict:
    """Form field values from an API-shaped dict (the "Change" button)."""
    site = data.get("injection_site") or {}
    ulc = site.get("ulceration")

    def text(x):
        return "" if x is None else str(x)

    return {
        "client_id": data.get("client_id") or "",
        "diary_date": data.get("diary_date") or "",
        "temperature_c": text(data.get("temperature_c")),
        "site_diameter_cm": text(site.get("diameter_cm")),
        "site_ulceration": {True: "yes", False: "no"}.get(ulc, ""),
        "note": data.get("note") or "",
    }


