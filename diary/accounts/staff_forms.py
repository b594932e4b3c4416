"""Forms of the staff pages: enrolment, withdrawal, sites, invitations.

The forms check shape (required, length, choice); the services check meaning
(study code format, e-mail, time zone, duplicates) with the same messages as
the command line.
"""
from babel import Locale
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from diary.accounts.services import DEFAULT_SITE_LANGUAGE
from diary.accounts.staff_services import REASON_MAX


class EnrolPatientForm(FlaskForm):
    study_code = StringField(_l("Study code"), validators=[DataRequired(), Length(max=32)],
                             render_kw={"autocapitalize": "characters", "spellcheck": "false",
                                        "autocomplete": "off"})
    site_id = SelectField(_l("Site"), coerce=int, validators=[InputRequired()],
                          validate_choice=False)  # checked against the user's sites in the view
    cure1_start = DateField(_l("Start of cure 1 (day 1)"), validators=[InputRequired()])
    timezone = StringField(_l("Time zone (optional)"), validators=[Optional(), Length(max=64)],
                           render_kw={"spellcheck": "false", "autocomplete": "off"})
    contact_email = StringField(_l("Contact e-mail for reminders (optional)"),
                                validators=[Optional(), Length(max=254)],
                                render_kw={"type": "email", "autocomplete": "off",
                                           "spellcheck": "false"})


class WithdrawForm(FlaskForm):
    reason = TextAreaField(_l("Reason for the withdrawal"),
                           validators=[DataRequired(), Length(max=REASON_MAX)])


class ConfirmForm(FlaskForm):
    """A POST button with nothing but its CSRF token."""


class SiteForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    timezone = StringField(_l("Time zone"), default="Europe/Paris",
                           validators=[DataRequired(), Length(max=64)],
                           render_kw={"spellcheck": "false"})
    phone = StringField(_l("The team's phone number"), validators=[DataRequired(), Length(max=40)],
                        render_kw={"type": "tel", "autocomplete": "off"})
    alert_emails = TextAreaField(_l("Addresses that receive new alerts"),
                                 validators=[Length(max=4000)])
    escalation_emails = TextAreaField(_l("Addresses that receive escalations"),
                                      validators=[Length(max=4000)])
    # any value reaches the service, which refuses an unknown one with its own message
    language = SelectField(_l("Language of the e-mails to the team"),
                           default=DEFAULT_SITE_LANGUAGE,
                           validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = language_choices()


class SiteLanguageForm(FlaskForm):
    language = SelectField(_l("Language of the e-mails to the team"), validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = language_choices()


def language_choices() -> list[tuple[str, str]]:
    """The app's languages, each named in itself (English, Français), as the language menu."""
    return [(code, Locale.parse(code).get_display_name(code).capitalize())
            for code in current_app.config["LANGUAGES"]]


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class InviteStaffForm(FlaskForm):
    email = StringField(_l("E-mail"), validators=[DataRequired(), Length(max=254)],
                        render_kw={"type": "email", "autocomplete": "off", "spellcheck": "false"})
    role = SelectField(_l("Role"), validators=[DataRequired()])
    site_ids = MultiCheckboxField(_l("Sites"), coerce=int, validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # set here, not on the class: WTForms 3.3 deprecates class-level tuple choices
        self.role.choices = [("investigator", _l("Investigator")),
                             ("coordinator", _l("Coordinator")),
                             ("admin", _l("Administrator"))]
