"""Hooks: the plan at enrolment, demo history, navigation, the patient's home page."""
from flask_babel import lazy_gettext as _l

from diary.core import nav
from diary.core.views import HOME_ENDPOINTS


def _on_enrol(patient, *, actor, now):
    from diary.injections.services import materialise_plan
    materialise_plan(patient, actor=actor, now=now)


def _demo_history(*, now):
    from diary.injections.demo import record_demo_history
    record_demo_history(now=now)


def init_app(app):
    app.extensions.setdefault("diary.on_enrol", []).append(_on_enrol)
    app.extensions.setdefault("diary.demo_history", []).append(_demo_history)
    HOME_ENDPOINTS["patient"] = "injections.today"
    nav.register("injections.today", _l("Today"), ("patient",), order=10)
    nav.register("injections.calendar", _l("My cure calendar"), ("patient",), order=20)
    nav.register("injections.plans", _l("Cure plans"), ("investigator", "coordinator", "admin"),
                 order=30)
