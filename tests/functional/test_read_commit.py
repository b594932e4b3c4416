"""A GET that only read ends its transaction with COMMIT; anything else rolls back.

psycopg drops every statement it prepared on the server at each ROLLBACK, and
Flask-SQLAlchemy ends a request by closing its session (a rollback): reads ended
that way made PostgreSQL parse and plan every query of every request again. The
commit must never keep what a refused request did, so each way a view can change
the database without committing is tried here, and nothing of it may be stored.
"""
import pytest
import sqlalchemy as sa

from diary import clock
from diary.accounts.models import Site
from diary.audit import services as audit
from diary.audit.models import AuditEvent
from diary.extensions import db
from tests.conftest import TEST_DATABASE_URL


def _site_values(name):
    return {"name": name, "timezone": "Europe/Paris", "phone": "+33 1 00 00 00 00",
            "alert_emails": [], "escalation_emails": [], "language": "fr"}


@pytest.fixture
def routes(app):
    """Views that read, and views that change something and then refuse (a 400)."""

    def read():
        return {"sites": db.session.scalar(sa.select(sa.func.count(Site.id)))}

    def add_then_refuse():
        db.session.add(Site(**_site_values("added")))
        return {"error": "refused"}, 400

    def flush_then_refuse():
        db.session.add(Site(**_site_values("flushed")))
        db.session.flush()
        return {"error": "refused"}, 400

    def insert_then_refuse():
        db.session.execute(sa.insert(Site).values(**_site_values("inserted")))
        return {"error": "refused"}, 400

    def audit_then_refuse():
        audit.record("create", "site", 0, actor=None, now=clock.now_utc())
        return {"error": "refused"}, 400

    def raise_after_reading():
        db.session.scalar(sa.select(sa.func.count(Site.id)))
        raise RuntimeError("a bug after a read")

    def text_insert_then_refuse():
        db.session.execute(sa.text(
            "INSERT INTO sites (name, timezone, phone, alert_emails, escalation_emails, "
            "language, created_at) VALUES ('text', 'UTC', '0', '[]', '[]', 'fr', "
            "CURRENT_TIMESTAMP)"))
        return {"error": "refused"}, 400

    def statement_failed():
        try:
            db.session.execute(sa.text("SELECT * FROM no_such_table"))
        except sa.exc.DBAPIError:
            return {"error": "unavailable"}, 503
        return {}, 200

    for view in (read, add_then_refuse, flush_then_refuse, insert_then_refuse,
                 text_insert_then_refuse, audit_then_refuse, raise_after_reading,
                 statement_failed):
        app.add_url_rule(f"/_test/{view.__name__}", view.__name__, view)
    app.add_url_rule("/_test/post_read", "post_read", read, methods=["POST"])
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def _ends(app):
    """Count the database's COMMITs and ROLLBACKs."""
    seen = {"commit": 0, "rollback": 0}
    for name in seen:
        sa.event.listen(db.engine, name, lambda _conn, name=name: seen.__setitem__(
            name, seen[name] + 1))
    return seen


def _stored():
    """What another connection sees: what was committed."""
    with db.engine.connect() as conn:
        sites = conn.execute(sa.select(sa.func.count(Site.id))).scalar_one()
        events = conn.execute(sa.select(sa.func.count(AuditEvent.id))).scalar_one()
    return sites, events


def test_a_request_that_only_read_commits(routes, client):
    ends = _ends(routes)
    assert client.get("/_test/read").status_code == 200
    assert ends == {"commit": 1, "rollback": 0}


@pytest.mark.parametrize("view", ["add_then_refuse", "flush_then_refuse",
                                  "insert_then_refuse", "text_insert_then_refuse",
                                  "audit_then_refuse"])
def test_a_refused_request_keeps_nothing_it_changed(routes, client, view):
    before = _stored()
    ends = _ends(routes)
    assert client.get(f"/_test/{view}").status_code == 400
    assert ends["commit"] == 0
    db.session.remove()  # the request's end in a server (the tests keep the app context)
    assert _stored() == before


def test_a_failed_statement_keeps_its_answer(routes, client):
    """A read whose statement failed (the view answered 503) is not made worse at the
    end: the answer stands and the next request works."""
    assert client.get("/_test/statement_failed").status_code == 503
    db.session.remove()
    assert client.get("/_test/read").status_code == 200


def test_only_get_and_head_requests_end_with_commit(routes, client):
    ends = _ends(routes)
    assert client.post("/_test/post_read").status_code == 200
    assert ends["commit"] == 0


def test_a_request_that_failed_after_reading_is_not_committed(routes, client):
    ends = _ends(routes)
    assert client.get("/_test/raise_after_reading").status_code == 500
    assert ends["commit"] == 0


@pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgresql"),
                    reason="prepared statements are psycopg's, on PostgreSQL")
def test_prepared_statements_outlive_read_requests(routes, client):
    for _ in range(8):  # psycopg prepares a statement on its 5th execution
        assert client.get("/_test/read").status_code == 200
        db.session.remove()  # each request's end, as in a server process
    prepared = db.session.scalar(sa.text(
        "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%sites%'"))
    assert prepared >= 1
