"""The quick start: a fresh SQLite demo database with a site, staff and patients."""
import os
from datetime import timedelta

from diary import clock

DEMO_PASSWORDS = {
    "admin": "demo-admin-2026",
    "investigator": "demo-investigator-2026",
    "coordinator": "demo-coordinator-2026",
    "patient": "demo-patient-2026",
}


def demo_database_url(instance_path: str) -> str:
    return f"sqlite:///{os.path.join(instance_path, 'demo.db')}"


def build_demo() -> tuple[str, list[tuple[str, str, str]]]:
    """Build the demo database from nothing; return its URL and every demo login."""
    from flask import current_app

    from diary import create_app

    instance = current_app.instance_path
    path = os.path.join(instance, "demo.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    url = demo_database_url(instance)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        from diary.cli import upgrade_database
        upgrade_database()
        for hook in app.extensions.get("diary.on_init", []):
            hook()
        logins = populate()
    return url, logins


def populate() -> list[tuple[str, str, str]]:
    from diary.accounts import services
    from diary.extensions import db

    now = clock.now_utc()
    logins = []
    site = services.create_site(
        name="Pitie-Salpetriere", timezone="Europe/Paris", phone="+33 1 42 16 00 00",
        alert_emails=["alerts@pitie.example.org"],
        escalation_emails=["escalation@pitie.example.org"], actor=None, now=now)
    admin = services.create_staff(role="admin", email="admin@demo.example.org", sites=[],
                                  actor=None, now=now, password=DEMO_PASSWORDS["admin"])
    logins.append(("admin", admin.email, DEMO_PASSWORDS["admin"]))
    for role in ("investigator", "coordinator"):
        user = services.create_staff(role=role, email=f"{role}@demo.example.org", sites=[site],
                                     actor=admin, now=now, password=DEMO_PASSWORDS[role])
        logins.append((role, user.email, DEMO_PASSWORDS[role]))
    today = clock.local_date(now, site.timezone)
    # Patients at different points of the plan: in cure 2, between cures, just enrolled.
    starts = {"P-0001": today - timedelta(days=16), "P-0002": today - timedelta(days=40),
              "P-0003": today - timedelta(days=2)}
    for code, start in starts.items():
        patient = services.create_patient(study_code=code, site=site, cure1_start=start,
                                          actor=admin, now=now, password=DEMO_PASSWORDS["patient"],
                                          contact_email=f"{code.lower()}@demo.example.org")
        logins.append(("patient", patient.study_code, DEMO_PASSWORDS["patient"]))
    db.session.flush()
    for hook in _history_hooks():
        hook(now=now)
    db.session.commit()
    return logins


def _history_hooks():
    """Features that add weeks of demo history register themselves here."""
    from flask import current_app
    return current_app.extensions.get("diary.demo_history", [])


def serve_demo(url: str, port: int) -> None:
    from diary import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DIARY_RUN_SCHEDULER": True})
    try:
        from diary.scheduler import start_embedded
    except ImportError:
        start_embedded = None
    if start_embedded is not None:
        start_embedded(app)
    print(f"serving the demo on http://127.0.0.1:{port}/ (Ctrl-C to stop)", flush=True)
    # Not app.run(): Flask ignores it inside a `flask` CLI command.
    from werkzeug.serving import run_simple
    run_simple("127.0.0.1", port, app, use_reloader=False, threaded=True)
