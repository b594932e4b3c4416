"""Navigation: the patient's check-in page."""
from flask_babel import lazy_gettext as _l

from diary.core import nav


def _checkins_today(patient, now) -> int:
    from diary.checkins.services import count_for_day
    return count_for_day(patient, now)


def init_app(app):
    # used by templates/checkins/_today_card.html on the patient's Today page
    app.jinja_env.globals["checkins_today"] = _checkins_today
    nav.register("checkins.new", _l("Check-in"), ("patient",), order=15)
    from diary.checkins.demo import record_demo_history
    hooks = app.extensions.setdefault("diary.demo_history", [])
    if record_demo_history not in hooks:
        hooks.append(record_demo_history)
