"""`flask --app app diary ...`: the commands of the contract (api.md).

Each exits 0 on success and non-zero with a one-line reason on stderr.
"""
import sys
from datetime import date

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from diary import clock
from diary.accounts.services import DEFAULT_SITE_LANGUAGE
from diary.errors import DomainError
from diary.extensions import db


def fail(message: str, code: int = 1):
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class DomainErrorsAsExit(click.Group):
    """A domain error in any command becomes a one-line reason and exit 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DomainError as exc:
            detail = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
            fail(f"{exc.message}" + (f" ({detail})" if detail else ""))


@click.group("diary", cls=DomainErrorsAsExit)
def diary_cli():
    """The IL-2 diary's commands."""


def upgrade_database() -> None:
    from flask_migrate import upgrade
    upgrade()


@diary_cli.command("init")
@click.option("--admin-email")
@click.option("--admin-password")
@with_appcontext
def init_cmd(admin_email, admin_password):
    """Bring the database to the latest migration; create the first admin if given."""
    from diary.accounts import services
    from diary.accounts.models import User

    if bool(admin_email) != bool(admin_password):
        fail("--admin-email and --admin-password go together")
    upgrade_database()
    for hook in current_app.extensions.get("diary.on_init", []):
        hook()
    if admin_email:
        email = services.normalise_email(admin_email)
        existing = db.session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()
        if existing is not None:
            click.echo(f"admin {email} already exists; left unchanged")
        else:
            services.create_staff(role="admin", email=email, sites=[], actor=None,
                                  now=clock.now_utc(), password=admin_password)
            db.session.commit()
            click.echo(f"created admin {email}")
    click.echo("database is at the latest revision")


@diary_cli.command("create-site")
@click.option("--name", required=True)
@click.option("--timezone", "tz", default="Europe/Paris", show_default=True)
@click.option("--phone", required=True)
@click.option("--alert-email", "alert_emails", multiple=True)
@click.option("--escalation-email", "escalation_emails", multiple=True)
@click.option("--language", default=DEFAULT_SITE_LANGUAGE, show_default=True,
              help="language of the e-mails to the site's staff (one of config LANGUAGES)")
@with_appcontext
def create_site_cmd(name, tz, phone, alert_emails, escalation_emails, language):
    """Create a site (a hospital team)."""
    from diary.accounts import services

    # checked by the service (exit 1 with the reason), not by click.Choice (exit 2)
    site = services.create_site(name=name, timezone=tz, phone=phone,
                                alert_emails=list(alert_emails),
                                escalation_emails=list(escalation_emails), language=language,
                                actor=None, now=clock.now_utc())
    db.session.commit()
    click.echo(f"created site {site.name} (id {site.id}, e-mails to staff in {site.language})")


@diary_cli.command("create-user")
@click.option("--role", required=True)
@click.option("--login", help="study code (patients)")
@click.option("--email", help="e-mail (staff login; patients: optional reminder address)")
@click.option("--password", required=True)
@click.option("--site", "site_names", multiple=True, required=True)
@click.option("--cure1-start", help="YYYY-MM-DD, cure 1 day 1 (patients)")
@click.option("--timezone", "tz", help="patients: IANA zone if not the site's")
@with_appcontext
def create_user_cmd(role, login, email, password, site_names, cure1_start, tz):
    """Create a patient or a staff member."""
    from diary.accounts import services
    from diary.accounts.models import ROLES

    if role not in ROLES:
        fail(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    sites = [services.get_site_by_name(n) for n in site_names]
    now = clock.now_utc()
    if role == "patient":
        if not login:
            fail("a patient needs --login (the study code)")
        if len(sites) != 1:
            fail("a patient belongs to exactly one --site")
        if not cure1_start:
            fail("a patient needs --cure1-start YYYY-MM-DD")
        try:
            start = date.fromisoformat(cure1_start)
        except ValueError:
            fail(f"--cure1-start {cure1_start!r} is not a date YYYY-MM-DD")
        patient = services.create_patient(study_code=login, site=sites[0], cure1_start=start,
                                          timezone=tz, contact_email=email, password=password,
                                          actor=None, now=now)
        db.session.commit()
        click.echo(f"created patient {patient.study_code} at {sites[0].name}")
        return
    if not email:
        fail("staff need --email (their login)")
    if login:
        fail("--login is for patients; staff log in with --email")
    user = services.create_staff(role=role, email=email, sites=sites, password=password,
                                 actor=None, now=now)
    db.session.commit()
    click.echo(f"created {role} {user.email}")


@diary_cli.group("audit")
def audit_group():
    """The audit trail."""


@audit_group.command("verify")
@with_appcontext
def audit_verify_cmd():
    """Exit 0 when the hash chain is intact; 1 and the first bad event otherwise."""
    from diary.audit import verify

    result = verify()
    if result.ok:
        click.echo(f"audit trail intact: {result.checked} events")
        return
    if result.bad_event_id is None:
        fail(f"audit trail broken: {result.problem}")
    fail(f"audit trail broken at event id {result.bad_event_id} (chain {result.chain}, "
         f"seq {result.bad_seq}): {result.problem}")


@diary_cli.command("demo")
@click.option("--no-serve", is_flag=True, help="build the demo database and stop")
@click.option("--port", default=5000, show_default=True)
@with_appcontext
def demo_cmd(no_serve, port):
    """Fresh SQLite demo database with a site, staff and patients; then serve it."""
    from diary.demo import build_demo, serve_demo

    url, logins = build_demo()
    click.echo(f"demo database: {url}")
    click.echo("demo logins (login / password):")
    for role, login, password in logins:
        click.echo(f"  {role:<13} {login:<28} {password}")
    if no_serve:
        return
    serve_demo(url, port)


@diary_cli.command("backup")
@click.argument("destination", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def backup_cmd(destination):
    """A consistent copy of the live SQLite database (PostgreSQL: use pg_dump)."""
    import os
    import sqlite3

    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        fail("this database is PostgreSQL: back it up with pg_dump, e.g. "
             "`pg_dump --format=custom --file=diary.dump \"$DATABASE\"` (see README, Production)")
    if os.path.exists(destination):
        fail(f"{destination} exists already; choose a new file")
    source = sqlite3.connect(url.database)
    target = sqlite3.connect(destination)
    try:
        # SQLite's online backup API: a consistent snapshot while the app keeps writing.
        source.backup(target, pages=1024)
        check = target.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        target.close()
        source.close()
    if check != "ok":
        fail(f"the copy failed its integrity check: {check}")
    click.echo(f"backed up {url.database} to {destination}")
