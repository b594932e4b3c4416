"""Faults with real processes (gunicorn, the scheduler command, aiosmtpd, PostgreSQL):
a crash, a second scheduler, a mail server down, a database restart. Nothing that
got its 201 is lost, and nothing is sent twice.

Each test runs for at most about a minute; everything listens on 127.0.0.1.
"""
import re
import subprocess
import threading
import time
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from diary import scheduler
from diary.checkins.models import CheckIn
from diary.extensions import db
from diary.notifications import services
from diary.notifications.models import OutboxMessage, SchedulerLease
from tests.conftest import FIXED_NOW, TEST_DATABASE_URL
from tests.helpers_faults import Load, Phone, Web, process_env, wait_until
from tests.helpers_faults import scheduler as scheduler_process
from tests.helpers_notifications import SmtpServer

OUTBOX_ID = re.compile(r"outbox-(\d+)@")


def _stored_client_ids() -> dict[str, int]:
    db.session.rollback()
    rows = db.session.execute(
        sa.select(CheckIn.client_id, sa.func.count()).group_by(CheckIn.client_id)).all()
    db.session.rollback()
    return dict(rows)


def _outbox() -> list[OutboxMessage]:
    db.session.rollback()
    rows = list(db.session.execute(sa.select(OutboxMessage).order_by(OutboxMessage.id)).scalars())
    db.session.rollback()
    return rows


def _received_ids(smtp) -> list[int]:
    with smtp.handler.lock:
        return [int(OUTBOX_ID.search(m["Message-ID"]).group(1)) for m in smtp.messages]


def _audit_intact(runner):
    result = runner.invoke(args=["diary", "audit", "verify"])
    assert result.exit_code == 0, result.output


@pytest.fixture
def patients(make_site, make_patient):
    site = make_site("Fault Site", alert_emails=("alerts@site.example.org",))
    return [make_patient(site, f"P-{900 + i}") for i in range(6)]


def _finish(phones, timeout=30):
    """Each phone sends again what got no answer, all at once, as their queues would."""
    deadline = time.monotonic() + timeout
    threads = [threading.Thread(target=p.resend_unanswered, args=(deadline,)) for p in phones]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 5)


def test_web_server_killed_under_load_loses_no_acknowledged_checkin(app, runner, patients,
                                                                    tmp_path):
    env = process_env(tmp_path)
    web = Web(env, tmp_path / "web.log").start()
    phones = [Phone(web.url, p.study_code) for p in patients]
    load = Load(phones).start()
    try:
        assert wait_until(lambda: len(load.acknowledged()) >= 40, 30), web.output()[-2000:]
        web.kill()  # master and workers at once, mid-request
        time.sleep(1.0)  # the phones meet a dead server
        cut_off = len(load.unanswered())
        web = Web(env, tmp_path / "web2.log", port=web.port).start()
        before = len(load.acknowledged())
        assert wait_until(lambda: len(load.acknowledged()) >= before + 40, 30)
    finally:
        load.stop()
    try:
        _finish(phones)
    finally:
        web.stop()
    assert cut_off > 0, "the kill should have cut requests short"
    assert load.unanswered() == []
    acknowledged = load.acknowledged()
    stored = _stored_client_ids()
    # every check-in the server answered for is there, once; nothing else is
    assert set(stored) == set(acknowledged)
    assert set(stored.values()) == {1}
    assert 500 not in {s for p in phones for s in p.statuses}
    _audit_intact(runner)


def test_active_scheduler_killed_the_other_takes_over_and_nothing_is_lost(app, patients,
                                                                          tmp_path):
    """Two scheduler processes: one acts. SIGKILL to it under load: the other takes
    over once the lease has run out, frees the dead one's claims and sends the rest."""
    smtp = SmtpServer().start()
    env = process_env(tmp_path, smtp_port=smtp.port)
    web = Web(env, tmp_path / "web.log").start()
    scheds = [scheduler_process(env, tmp_path / f"sched{i}.log").start() for i in range(2)]
    phones = [Phone(web.url, p.study_code, warning_every=2) for p in patients]
    load = Load(phones, pause=0.05).start()
    in_flight = set()
    try:
        # a steady flow of messages besides the alerts the check-ins raise
        def enqueue_some(n):
            for _ in range(n):
                services.enqueue(channel="email", recipient=f"{uuid.uuid4().hex[:8]}@x.org",
                                 subject="s", body="b", kind="alert", now=FIXED_NOW)
            db.session.commit()

        enqueue_some(20)
        assert wait_until(lambda: len(smtp.messages) >= 15, 30), scheds[0].output()[-2000:]
        db.session.rollback()
        holder = db.session.execute(sa.select(SchedulerLease.holder)).scalar_one()
        db.session.rollback()
        active = next(s for s in scheds if f":{s.proc.pid}:" in holder)
        waiting = next(s for s in scheds if s is not active)
        assert "is now the active scheduler" not in waiting.output()
        enqueue_some(30)
        time.sleep(0.3)
        active.kill()
        # what the dead scheduler had claimed: the only messages that may go out twice
        in_flight = {m.id for m in _outbox() if m.claimed_by == holder}
        enqueue_some(20)
        sent_at_kill = len(smtp.messages)
        assert wait_until(lambda: "is now the active scheduler" in waiting.output(),
                          scheduler.LEASE_TTL.total_seconds() + 15), waiting.output()[-2000:]
        load.stop()
        _finish(phones)
        expected = len(_outbox())
        assert wait_until(lambda: {m.status for m in _outbox()} == {"sent"}, 30), \
            [(m.id, m.status, m.claimed_by) for m in _outbox() if m.status != "sent"]
        assert wait_until(lambda: len(smtp.messages) >= expected, 10)
        time.sleep(2.5)  # one more delivery interval: nothing else may arrive
    finally:
        load.stop()
        for proc in scheds:
            proc.stop()
        web.stop()
        smtp.stop()
    assert len(smtp.messages) > sent_at_kill  # the second one did send
    received = _received_ids(smtp)
    assert set(received) == {m.id for m in _outbox()}
    twice = {i for i in received if received.count(i) > 1}
    assert twice <= in_flight, (twice, in_flight)
    assert len(in_flight) <= 1  # one message at a time is in the mail server's hands
    alerts = [m for m in _outbox() if m.recipient == "alerts@site.example.org"]
    assert alerts, "the check-ins with a warning sign should have raised alerts"
    assert set(_stored_client_ids()) == set(load.acknowledged())


def test_mail_server_down_while_alerts_are_raised_then_back(app, patients, tmp_path):
    smtp = SmtpServer()  # not started: the mail server is down
    env = process_env(tmp_path, smtp_port=smtp.port)
    web = Web(env, tmp_path / "web.log").start()
    sched = scheduler_process(env, tmp_path / "sched.log").start()
    try:
        phones = [Phone(web.url, p.study_code, warning_every=1) for p in patients]
        for phone in phones:
            phone.send(str(uuid.uuid4()))
        assert all(len(p.acknowledged) == 1 for p in phones)
        # each alert's e-mail was tried, refused, and waits for its retry
        assert wait_until(lambda: {m.attempts for m in _outbox()} == {1}, 20), \
            sched.output()[-2000:]
        messages = _outbox()
        assert len(messages) == len(patients)
        assert all(m.status == "pending" and m.last_error for m in messages)
        smtp.start()
        assert wait_until(lambda: {m.status for m in _outbox()} == {"sent"},
                          services.RETRY_DELAYS[0].total_seconds() + 20), \
            [(m.id, m.status, m.attempts, m.last_error) for m in _outbox()]
        time.sleep(2.5)  # one more delivery interval: nothing else may arrive
    finally:
        sched.stop()
        web.stop()
        smtp.stop()
    received = _received_ids(smtp)
    assert sorted(received) == sorted(m.id for m in messages)  # each exactly once
    assert {m.attempts for m in _outbox()} == {2}
    assert {m["To"] for m in smtp.messages} == {"alerts@site.example.org"}
    assert all("P-9" in m["Subject"] for m in smtp.messages)


def test_a_new_active_scheduler_frees_the_claims_of_a_dead_one(app):
    msg = services.enqueue(channel="log", recipient="a@x.org", subject="s", body="b",
                           kind="alert", now=FIXED_NOW)
    db.session.commit()
    assert services.claim(msg.id, FIXED_NOW, "dead-host:1:abc")
    # the dead scheduler's lease runs out; a new one takes it
    scheduler.hold_lease("dead-host:1:abc", FIXED_NOW - scheduler.LEASE_TTL * 2)
    fresh = scheduler.Runner(app, "fresh")
    assert fresh.beat(FIXED_NOW)
    assert services.deliver_due(FIXED_NOW + timedelta(seconds=1), "fresh").sent == 1
    # while it holds the lease, it never frees its own claims
    other = services.enqueue(channel="log", recipient="b@x.org", subject="s", body="b",
                             kind="alert", now=FIXED_NOW)
    db.session.commit()
    assert services.claim(other.id, FIXED_NOW, "fresh")
    assert fresh.beat(FIXED_NOW + timedelta(seconds=5))
    db.session.expire_all()
    assert db.session.get(OutboxMessage, other.id).claimed_by == "fresh"


def _pg_restart():
    version = subprocess.run(["ls", "/etc/postgresql"], capture_output=True, text=True,
                             check=True).stdout.split()[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                   check=True, timeout=120, capture_output=True)


def _pg_ready() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode == 0


@pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgresql"),
                    reason="restarts the PostgreSQL server: only on PostgreSQL")
def test_postgresql_restarted_under_load_the_app_recovers_by_itself(app, runner, patients,
                                                                    tmp_path):
    smtp = SmtpServer().start()
    env = process_env(tmp_path, smtp_port=smtp.port)
    web = Web(env, tmp_path / "web.log").start()
    sched = scheduler_process(env, tmp_path / "sched.log").start()
    phones = [Phone(web.url, p.study_code) for p in patients]
    db.session.rollback()  # this test's own connection goes back to the pool
    load = Load(phones, pause=0.02).start()
    try:
        assert wait_until(lambda: len(load.acknowledged()) >= 30, 30)
        try:
            _pg_restart()
        finally:
            assert wait_until(_pg_ready, 60), "PostgreSQL did not come back"
        cut_off = len(load.unanswered()) + sum(
            s == 503 for p in phones for s in p.statuses)
        before = len(load.acknowledged())
        # the same web workers serve again: no restart of the app
        assert wait_until(lambda: len(load.acknowledged()) >= before + 30, 30), \
            web.output()[-3000:]
        load.stop()
        _finish(phones)
        # this test's own pool (not the app's processes): its connections died in the restart
        db.session.remove()
        db.engine.dispose()
        # the same scheduler delivers a message written after the restart
        msg = services.enqueue(channel="email", recipient="after@x.org", subject="s",
                               body="b", kind="alert", now=FIXED_NOW)
        db.session.commit()
        assert wait_until(lambda: smtp.messages and smtp.messages[-1]["To"] == "after@x.org",
                          scheduler.BEAT_SECONDS * 3 + 10), sched.output()[-3000:]
        assert sched.proc.poll() is None and web.proc.poll() is None
        health = __import__("requests").get(web.url + "/healthz", timeout=5).json()
        assert health["database"] == "ok"
    finally:
        load.stop()
        sched.stop()
        web.stop()
        smtp.stop()
    assert cut_off > 0, "the restart should have interrupted requests"
    assert 500 not in {s for p in phones for s in p.statuses}
    acknowledged = load.acknowledged()
    stored = _stored_client_ids()
    assert set(stored) == set(acknowledged) and set(stored.values()) == {1}
    assert _received_ids(smtp).count(msg.id) == 1
    _audit_intact(runner)
