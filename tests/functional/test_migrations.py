"""The migrations create exactly the tables the models describe, on SQLite and PostgreSQL."""
import uuid

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from diary import create_app
from diary.extensions import db
from tests.conftest import TEST_DATABASE_URL, make_config


def _fresh_database_url(tmp_path):
    if TEST_DATABASE_URL.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/migrated.db", None
    url = sa.engine.make_url(TEST_DATABASE_URL)
    name = f"diary_migr_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def test_models_and_migrations_agree(tmp_path):
    url, drop = _fresh_database_url(tmp_path)
    try:
        app = create_app(make_config(SQLALCHEMY_DATABASE_URI=url))
        with app.app_context():
            upgrade()
            upgrade()  # safe to run twice
            with db.engine.connect() as conn:
                ctx = MigrationContext.configure(conn, opts={"compare_type": True})
                diff = compare_metadata(ctx, db.metadata)
            assert diff == [], f"models and migrations differ: {diff}"
            tables = set(sa.inspect(db.engine).get_table_names())
            assert {"users", "patients", "sites", "audit_events"} <= tables
            db.engine.dispose()
    finally:
        if drop:
            drop()


def test_init_command_on_an_empty_database(tmp_path):
    url, drop = _fresh_database_url(tmp_path)
    try:
        app = create_app(make_config(SQLALCHEMY_DATABASE_URI=url))
        runner = app.test_cli_runner()
        with app.app_context():  # whatever else is pushed, the command uses this app
            r = runner.invoke(args=["diary", "init", "--admin-email", "Boss@Example.org",
                                    "--admin-password", "a long admin password"])
            assert r.exit_code == 0, r.output
            r = runner.invoke(args=["diary", "init", "--admin-email", "boss@example.org",
                                    "--admin-password", "a long admin password"])
            assert r.exit_code == 0 and "already exists" in r.output
        with app.app_context():
            from diary.accounts.models import User
            admins = db.session.execute(sa.select(User).where(User.role == "admin")).scalars().all()
            assert [a.email for a in admins] == ["boss@example.org"]
            db.session.remove()
            db.engine.dispose()
    finally:
        if drop:
            drop()
