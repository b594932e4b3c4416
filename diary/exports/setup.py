"""Navigation: the exports page, for coordinators and admins."""
from flask_babel import lazy_gettext as _l

from diary.core import nav


def init_app(app):
    nav.register("exports.index", _l("Exports"), ("coordinator", "admin"), order=60)
