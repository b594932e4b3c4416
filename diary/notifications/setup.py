"""Wiring: the scheduler command, the outbox and alert-inbox pages, alert forwarding."""
import click
from flask.cli import with_appcontext
from flask_babel import lazy_gettext as _l


@click.command("scheduler")
@with_appcontext
def scheduler_cmd():
    """The scheduler process: delivery, escalation and adherence jobs (runs until stopped)."""
    from flask import current_app

    from diary.scheduler import run_forever

    run_forever(current_app._get_current_object())


def init_app(app):
    from diary.alerts import forwarding, inbox
    from diary.cli import diary_cli
    from diary.core import nav
    from diary.core.views import HOME_ENDPOINTS

    if "scheduler" not in diary_cli.commands:
        diary_cli.add_command(scheduler_cmd)
    app.register_blueprint(inbox.bp)
    forwarding.init_app(app)
    HOME_ENDPOINTS["investigator"] = "alert_inbox.inbox"
    nav.register("alert_inbox.inbox", _l("Alerts"), ("investigator", "coordinator", "admin"), 10)
    nav.register("notifications.outbox", _l("Outbox"), ("admin",), order=85)
