"""Navigation: the staff dashboard (the coordinator's home page) and the patient's history."""
from flask_babel import lazy_gettext as _l

from diary.core import nav
from diary.core.views import HOME_ENDPOINTS


def init_app(app):
    HOME_ENDPOINTS["coordinator"] = "dashboards.dashboard"
    nav.register("dashboards.dashboard", _l("Adherence"), ("investigator", "coordinator", "admin"),
                 order=15)
    nav.register("dashboards.my_history", _l("My history"), ("patient",), order=25)
