"""Pooled connections: a busy one is used as it is, an idle one is tested first.

A connection cut by the server (a restart, a firewall) is found either by the ping
before use (it was idle) or by the failed statement (a 503, and the pool renews
every connection): the next request is served either way, with no restart.
"""
import psycopg
import pytest
import sqlalchemy as sa

from diary.extensions import db
from tests.conftest import TEST_DATABASE_URL

ON_POSTGRESQL = TEST_DATABASE_URL.startswith("postgresql")


def _pooled_backend() -> int:
    """The server process of the connection the pool hands out next (it holds one)."""
    db.session.remove()
    db.engine.dispose()
    with db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


def _cut(pid: int) -> None:
    """The server ends that connection, as a restart would."""
    url = TEST_DATABASE_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
        for _ in range(100):
            gone = admin.execute("SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = %s",
                                 (pid,)).fetchone()[0]
            if gone:
                return
            admin.execute("SELECT pg_sleep(0.05)")
    raise AssertionError("the connection was not ended")


def _count_pings(monkeypatch) -> list:
    pings = []
    real = db.engine.dialect.do_ping

    def counted(dbapi_conn):
        pings.append(dbapi_conn)
        return real(dbapi_conn)

    monkeypatch.setattr(db.engine.dialect, "do_ping", counted)
    return pings


def test_a_connection_back_from_a_request_a_moment_ago_is_not_pinged(app, client, monkeypatch):
    pings = _count_pings(monkeypatch)
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
        db.session.remove()  # the connection goes back to the pool after each request
    assert pings == []


@pytest.mark.config(DB_PING_AFTER_IDLE_SECONDS=0)
def test_an_idle_connection_is_pinged_before_use(app, client, monkeypatch):
    pings = _count_pings(monkeypatch)
    assert client.get("/healthz").status_code == 200
    db.session.remove()
    assert client.get("/healthz").status_code == 200
    assert len(pings) >= 1


@pytest.mark.skipif(not ON_POSTGRESQL, reason="ends a server connection: only on PostgreSQL")
@pytest.mark.config(DB_PING_AFTER_IDLE_SECONDS=0)
def test_an_idle_connection_cut_by_the_server_is_replaced_before_the_request_sees_it(app, client):
    pid = _pooled_backend()
    _cut(pid)
    resp = client.get("/healthz")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != pid


@pytest.mark.skipif(not ON_POSTGRESQL, reason="ends a server connection: only on PostgreSQL")
@pytest.mark.config(DB_PING_AFTER_IDLE_SECONDS=3600)
def test_a_busy_connection_cut_by_the_server_costs_one_503_then_the_pool_is_renewed(
        app, client):
    pid = _pooled_backend()
    _cut(pid)
    first = client.get("/healthz")
    assert first.status_code == 503
    assert first.get_json()["database"] == "down"
    db.session.remove()
    assert client.get("/healthz").status_code == 200
