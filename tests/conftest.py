"""Test fixtures: the app on SQLite (default) or on DIARY_TEST_DATABASE_URL.

The schema is created once per session; each test starts from empty tables.
Factories return functions (`make_site(...)`), as in Indico's test suite.
"""
import os
import tempfile
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from flask import g
from flask.testing import FlaskClient

_TMP = tempfile.mkdtemp(prefix="diary-tests-")
os.environ.setdefault("DIARY_INSTANCE_PATH", os.path.join(_TMP, "instance"))
os.environ.pop("DIARY_DATABASE_URL", None)

from diary import clock, create_app  # noqa: E402
from diary.extensions import db  # noqa: E402

PASSWORD = "correct horse battery"
TEST_DATABASE_URL = os.environ.get("DIARY_TEST_DATABASE_URL") or f"sqlite:///{_TMP}/test.db"
FIXED_NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def make_config(**extra) -> dict:
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL,
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 1024,
        "BASE_URL": "http://diary.test",
        "SERVER_NAME": None,
    }
    config.update(extra)
    return config


# What extensions cache in `g` for one request: Flask-Login's user, Flask-WTF's
# signed CSRF token, Flask-Babel's locale and translations.
_PER_REQUEST_G = ("_login_user", "csrf_token", "_flask_babel")


class _IsolatedClient(FlaskClient):
    """A test client whose requests never see another client's logged-in user.

    The `app` fixture keeps an app context open (so tests can use db.session),
    and Flask reuses it for each request: Flask-Login's user cached in `g`
    would then leak from one client's request to the next client's.
    """

    def open(self, *args, **kwargs):
        for name in _PER_REQUEST_G:
            g.pop(name, None)
        try:
            return super().open(*args, **kwargs)
        finally:
            for name in _PER_REQUEST_G:
                g.pop(name, None)


def _clear(engine) -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture(scope="session")
def _schema():
    # No app context stays pushed between tests: a command run by a test must
    # find no current app but its own.
    app = create_app(make_config())
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.engine.dispose()
    yield
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture
def app(_schema, request):
    marker = request.node.get_closest_marker("config")
    extra = marker.kwargs if marker else {}
    app = create_app(make_config(**extra))
    app.test_client_class = _IsolatedClient
    with app.app_context():
        _clear(db.engine)
        yield app
        db.session.remove()
        _clear(db.engine)
        db.engine.dispose()


def pytest_configure(config):
    config.addinivalue_line("markers", "config(**kw): extra app config for this test")
    config.addinivalue_line("markers", "e2e: drives a real browser")


@pytest.fixture
def smtp(app):
    """A real SMTP server (aiosmtpd) on 127.0.0.1, and the app configured to send to it."""
    from tests.helpers_notifications import SmtpServer

    server = SmtpServer().start()
    app.config.update(server.config())
    yield server
    server.stop()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def now():
    return FIXED_NOW


@pytest.fixture
def frozen_clock(monkeypatch):
    """Pin clock.now_utc(); returns a setter to move time."""
    state = {"now": FIXED_NOW}
    monkeypatch.setattr(clock, "now_utc", lambda: state["now"])

    def set_now(value: datetime):
        state["now"] = value
        return value

    set_now.state = state
    return set_now


@pytest.fixture
def make_site(app):
    from diary.accounts import services

    def make(name="Pitie-Salpetriere", timezone="Europe/Paris", phone="+33 1 42 16 00 00",
             alert_emails=("alerts@site.example.org",),
             escalation_emails=("escalate@site.example.org",), language=None):
        # language None: the service's default for a new site (French)
        extra = {"language": language} if language else {}
        site = services.create_site(name=name, timezone=timezone, phone=phone,
                                    alert_emails=list(alert_emails),
                                    escalation_emails=list(escalation_emails),
                                    actor=None, now=FIXED_NOW, **extra)
        db.session.commit()
        return site

    return make


@pytest.fixture
def make_staff(app):
    from diary.accounts import services

    def make(role="investigator", email=None, sites=(), password=PASSWORD):
        email = email or f"{role}{len(list(sites))}-{os.urandom(3).hex()}@example.org"
        user = services.create_staff(role=role, email=email, sites=list(sites), actor=None,
                                     now=FIXED_NOW, password=password)
        db.session.commit()
        return user

    return make


@pytest.fixture
def make_patient(app):
    from diary.accounts import services

    def make(site, study_code="P-0007", cure1_start=date(2026, 11, 2), password=PASSWORD,
             timezone=None, contact_email=None, protocol="vascu-il2"):
        patient = services.create_patient(study_code=study_code, site=site,
                                          cure1_start=cure1_start, password=password,
                                          timezone=timezone, contact_email=contact_email,
                                          actor=None, now=FIXED_NOW, protocol=protocol)
        db.session.commit()
        return patient

    return make


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, login, password=PASSWORD):
        return self._client.post("/login", data={"login": login, "password": password})

    def api_login(self, login, password=PASSWORD):
        resp = self._client.post("/api/v1/session", json={"login": login, "password": password})
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.get_json()["csrf_token"]

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def world(make_site, make_staff, make_patient):
    """Two sites, each with an investigator, a coordinator and a patient; one admin."""
    s1 = make_site("Site One")
    s2 = make_site("Site Two", alert_emails=("alerts2@site.example.org",))
    w = {
        "site1": s1, "site2": s2,
        "inv1": make_staff("investigator", "inv1@example.org", [s1]),
        "coord1": make_staff("coordinator", "coord1@example.org", [s1]),
        "inv2": make_staff("investigator", "inv2@example.org", [s2]),
        "coord2": make_staff("coordinator", "coord2@example.org", [s2]),
        "admin": make_staff("admin", "admin@example.org", []),
        "pat1": make_patient(s1, "P-0001"),
        "pat1b": make_patient(s1, "P-0002"),
        "pat2": make_patient(s2, "P-0101"),
    }
    return w
