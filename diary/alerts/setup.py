"""Navigation: the alert-rules table for staff."""
from flask_babel import lazy_gettext as _l

from diary.core import nav


def init_app(app):
    nav.register("alerts.rules_table", _l("Alert rules"), ("investigator", "coordinator", "admin"),
                 order=70)
