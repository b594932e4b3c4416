"""Forms of the injection diary. They only parse and render: the rules live in services."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from diary.core.forms import choices

SITE_LABELS = {
    "abdomen_left": _l("Belly, left side"), "abdomen_right": _l("Belly, right side"),
    "thigh_left": _l("Left thigh"), "thigh_right": _l("Right thigh"),
    "arm_left": _l("Left arm"), "arm_right": _l("Right arm"),
}
BY_LABELS = {"self": _l("Myself"), "nurse": _l("A nurse"), "carer": _l("A relative or carer")}
REASON_LABELS = {
    "forgot": _l("I forgot"), "side_effect": _l("Because of side effects"),
    "hospitalised": _l("I was in hospital"), "no_drug": _l("I had no medicine"),
    "other": _l("Another reason (say which in the note)"),
}
SETTING_LABELS = {"hospital": _l("in hospital"), "home": _l("at home")}


STATUS_LABELS = {"upcoming": _l("Upcoming"), "due": _l("Due today"), "taken": _l("Taken"),
                 "not_taken": _l("Not taken"), "missed": _l("Missed")}


class InjectionForm(FlaskForm):
    client_id = HiddenField()
    taken_at = StringField(_l("When did you inject it?"),
                           render_kw={"type": "datetime-local", "step": "60"})
    dose_miu = StringField(_l("Dose injected (MIU)"),
                           render_kw={"inputmode": "decimal", "autocomplete": "off"})
    site = SelectField(_l("Where did you inject it?"), validate_choice=False,
                       choices=choices(SITE_LABELS.items()))
    administered_by = SelectField(_l("Who injected it?"), validate_choice=False,
                                  choices=choices(BY_LABELS.items()))
    lot = StringField(_l("Lot number (optional)"), render_kw={"autocomplete": "off",
                                                              "maxlength": 40})
    note = TextAreaField(_l("Note (optional)"), render_kw={"maxlength": 1000})
    not_taken_reason = SelectField(_l("Why was it not taken?"), validate_choice=False,
                                   choices=choices([("", _l("Choose a reason")),
                                                    *REASON_LABELS.items()]))


class CorrectionForm(InjectionForm):
    taken = SelectField(_l("Dose taken?"), validate_choice=False,
                        choices=choices([("yes", _l("Taken")), ("no", _l("Not taken"))]))
    reason = TextAreaField(_l("Reason for the correction (required)"),
                           render_kw={"maxlength": 500})


class ShiftCureForm(FlaskForm):
    cure = SelectField(_l("Cure"), coerce=int, validate_choice=False)
    new_start = DateField(_l("New first day"), validators=[Optional()])
    reason = TextAreaField(_l("Reason (required)"), render_kw={"maxlength": 500})


class ChangeDoseForm(FlaskForm):
    dose_id = SelectField(_l("Dose"), coerce=int, validate_choice=False)
    dose_miu = StringField(_l("New planned dose (MIU)"), render_kw={"inputmode": "decimal"})
    rest_of_cure = BooleanField(_l("Also the later doses of this cure"))
    reason = TextAreaField(_l("Reason (required)"), render_kw={"maxlength": 500})
