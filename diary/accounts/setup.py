"""Staff-facing account pages: their blueprints, nav entries and home pages."""
from flask_babel import lazy_gettext as _l

from diary.core import nav
from diary.core.views import HOME_ENDPOINTS


def init_app(app) -> None:
    from diary.accounts import admin_views, staff_views

    app.register_blueprint(staff_views.bp)
    app.register_blueprint(admin_views.bp)
    # Features registered later (alerts) may give investigators another home.
    HOME_ENDPOINTS["coordinator"] = "patients.index"
    HOME_ENDPOINTS["investigator"] = "patients.index"
    HOME_ENDPOINTS["admin"] = "accounts_admin.sites"
    nav.register("patients.index", _l("Patients"), ("investigator", "coordinator", "admin"), 20)
    nav.register("patients.new", _l("Enrol a patient"), ("coordinator", "admin"), 21)
    nav.register("accounts_admin.sites", _l("Sites"), ("admin",), 80)
    nav.register("accounts_admin.staff", _l("Staff"), ("admin",), 81)
