"""Forms of the staff pages: filters of the dashboard, a check-in correction."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from diary.core.forms import choices
from diary.dashboards.history import REASON_MAX


class CheckInCorrectionForm(FlaskForm):
    """The simple fields; graded items and warning signs are rendered from the catalogue
    with the check-in page's field names, and read back by checkins.forms.to_api."""

    temperature_c = StringField(_l("Temperature in °C"),
                                render_kw={"inputmode": "decimal", "autocomplete": "off"})
    site_diameter_cm = StringField(_l("Largest redness or hardening at the injection site, in cm"),
                                   render_kw={"inputmode": "decimal", "autocomplete": "off"})
    site_ulceration = RadioField(_l("Ulceration at the injection site"),
                                 choices=choices((("", _l("Not answered")), ("no", _l("No")),
                                                  ("yes", _l("Yes")))),
                                 validate_choice=False)
    note = TextAreaField(_l("Patient's note"), render_kw={"rows": 3})
    reason = TextAreaField(_l("Reason for the correction"),
                           validators=[InputRequired(_l("Give the reason for the correction.")),
                                       Length(max=REASON_MAX)],
                           render_kw={"rows": 3, "maxlength": REASON_MAX})
