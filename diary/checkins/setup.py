"""Navigation: the patient's check-in page."""
from flask_babel import lazy_gettext as _l

from diary.core import nav


def init_app(app):
    nav.register("checkins.new", _l("Check-in"), ("patient",), order=15)
