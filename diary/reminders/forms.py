"""The patient's reminder settings form."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, TimeField
from wtforms.validators import InputRequired

from diary.core.forms import choices

WEEKDAYS = choices(enumerate((_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"),
                               _l("Friday"), _l("Saturday"), _l("Sunday"))))
LANGUAGE_CHOICES = choices((("en", "English"), ("fr", "Français")))


class SettingsForm(FlaskForm):
    injection_time = TimeField(_l("Injection reminder, on each injection day at"),
                               validators=[InputRequired()])
    checkin_time = TimeField(_l("Check-in reminder at"), validators=[InputRequired()])
    weekly_weekday = SelectField(_l("Weekly check-in reminder on (if not done by then)"),
                                 coerce=int, choices=WEEKDAYS, validators=[InputRequired()])
    quiet_start = TimeField(_l("Quiet hours from"), validators=[InputRequired()])
    quiet_end = TimeField(_l("Quiet hours until"), validators=[InputRequired()])
    push_enabled = BooleanField(_l("Notifications on my phone"))
    email_enabled = BooleanField(_l("E-mail reminders"))
    language = SelectField(_l("Language of the reminders"), choices=LANGUAGE_CHOICES,
                           validators=[InputRequired()])

    def values(self) -> dict:
        return {name: getattr(self, name).data for name in (
            "injection_time", "checkin_time", "weekly_weekday", "quiet_start", "quiet_end",
            "push_enabled", "email_enabled", "language")}
