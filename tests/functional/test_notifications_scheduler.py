"""The scheduler: one active scheduler (lease), heartbeat, the jobs, the process itself."""
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from diary import scheduler
from diary.extensions import db
from diary.notifications import services
from diary.notifications.models import OutboxMessage
from tests.conftest import FIXED_NOW, TEST_DATABASE_URL
from tests.helpers_notifications import SmtpServer

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _enqueue(recipient="team@site.example.org"):
    msg = services.enqueue(channel="email", recipient=recipient, subject="s", body="b",
                           kind="alert", now=FIXED_NOW)
    db.session.commit()
    return msg.id


def _status(message_id):
    db.session.expire_all()
    status = db.session.get(OutboxMessage, message_id).status
    db.session.commit()
    return status


def test_two_schedulers_one_acts_the_other_takes_over_when_the_lease_expires(app):
    first, second = scheduler.Runner(app, "first"), scheduler.Runner(app, "second")
    ran = []

    def job(now, holder):
        ran.append(holder)

    assert first.beat(FIXED_NOW) is True
    assert second.beat(FIXED_NOW + timedelta(seconds=1)) is False
    assert first.run(job, FIXED_NOW + timedelta(seconds=2)) is True
    assert second.run(job, FIXED_NOW + timedelta(seconds=2)) is False
    assert ran == ["first"]
    # the first keeps beating: the second keeps waiting
    assert first.beat(FIXED_NOW + timedelta(seconds=20)) is True
    assert second.beat(FIXED_NOW + timedelta(seconds=45)) is False
    # the first stops beating: after the lease's time the second takes over
    later = FIXED_NOW + timedelta(seconds=20) + scheduler.LEASE_TTL + timedelta(seconds=1)
    assert second.beat(later) is True
    assert second.run(job, later) is True
    assert first.run(job, later) is False  # its own lease ran out too
    assert first.beat(later + timedelta(seconds=1)) is False
    assert ran == ["first", "second"]
    assert scheduler.last_beat() == later


def test_a_released_lease_is_taken_at_once(app):
    first, second = scheduler.Runner(app, "first"), scheduler.Runner(app, "second")
    assert first.beat(FIXED_NOW)
    scheduler.release_lease("first", FIXED_NOW + timedelta(seconds=1))
    assert second.beat(FIXED_NOW + timedelta(seconds=2))


def test_last_beat_and_healthz(app, client):
    assert scheduler.last_beat() is None
    assert client.get("/healthz").get_json()["scheduler"] == {"last_beat": None}
    scheduler.Runner(app, "one").beat(FIXED_NOW)
    body = client.get("/healthz").get_json()
    assert body["scheduler"]["last_beat"].startswith("2026-11-25T09:30:00")


def test_a_failing_job_does_not_stop_the_runner(app):
    runner = scheduler.Runner(app, "one")
    runner.beat(FIXED_NOW)

    def broken(now, holder):
        raise RuntimeError("boom")

    assert runner.run(broken, FIXED_NOW) is True
    assert runner.run(scheduler.deliver_job, FIXED_NOW) is True


def test_the_job_list_is_fixed(app):
    from apscheduler.schedulers.background import BackgroundScheduler

    sched = BackgroundScheduler(timezone="UTC")
    scheduler.Runner(app, "one").add_jobs(sched)
    jobs = {job.id: job.trigger for job in sched.get_jobs()}
    assert {"heartbeat", "deliver", "escalate", "adherence"} <= set(jobs)
    assert jobs["deliver"].interval <= timedelta(seconds=5)
    assert jobs["escalate"].interval == timedelta(minutes=1)


def test_scheduler_command_is_registered(runner):
    result = runner.invoke(args=["diary", "scheduler", "--help"])
    assert result.exit_code == 0 and "scheduler process" in result.output


@pytest.mark.skipif(not TEST_DATABASE_URL.startswith(("sqlite", "postgresql")),
                    reason="needs a database the subprocess can reach")
def test_scheduler_process_delivers_and_stops_cleanly(app, tmp_path):
    """`flask --app app diary scheduler` as its own process, against a real SMTP server."""
    server = SmtpServer().start()
    try:
        mid = _enqueue()
        env = {**os.environ, "DIARY_DATABASE_URL": TEST_DATABASE_URL,
               "DIARY_INSTANCE_PATH": str(tmp_path), "DIARY_SECRET_KEY": "x",
               "DIARY_SMTP_HOST": "127.0.0.1", "DIARY_SMTP_PORT": str(server.port),
               "DIARY_SMTP_TLS": "none"}
        proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "diary",
                                 "scheduler"], cwd=PROJECT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            assert server.handler.wait_for(1, timeout=20)
            deadline = time.monotonic() + 10  # the outcome is recorded just after the send
            while _status(mid) != "sent" and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                out, _ = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
                pytest.fail(out.decode()[-3000:])
        assert proc.returncode == 0, out.decode()
        assert len(server.messages) == 1
        assert _status(mid) == "sent"
        assert scheduler.last_beat() is not None
        # it gave the lease up on the way out
        assert "stopped" in out.decode()
    finally:
        server.stop()


def test_embedded_scheduler_starts_once(app, monkeypatch):
    import atexit

    monkeypatch.setattr(scheduler, "_embedded", None)
    at_exit = []
    monkeypatch.setattr(atexit, "register", at_exit.append)  # not after the test database
    first = scheduler.start_embedded(app)
    try:
        assert first is not None and first.running
        assert scheduler.start_embedded(app) is first
        time.sleep(0.2)
        assert scheduler.last_beat() is not None
        assert len(at_exit) == 1  # it stops with the process
    finally:
        first.shutdown(wait=True)


def test_two_scheduler_processes_one_is_active_and_nothing_is_sent_twice(app, tmp_path):
    server = SmtpServer().start()
    procs, logs = [], [tmp_path / "one.log", tmp_path / "two.log"]
    try:
        ids = [_enqueue(f"team{i}@site.example.org") for i in range(10)]
        env = {**os.environ, "DIARY_DATABASE_URL": TEST_DATABASE_URL,
               "DIARY_INSTANCE_PATH": str(tmp_path), "DIARY_SECRET_KEY": "x",
               "DIARY_SMTP_HOST": "127.0.0.1", "DIARY_SMTP_PORT": str(server.port)}
        for log in logs:
            with open(log, "w") as out:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "flask", "--app", "app", "diary", "scheduler"],
                    cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT))
        assert server.handler.wait_for(10, timeout=20)
        deadline = time.monotonic() + 10
        while {_status(i) for i in ids} != {"sent"} and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.5)  # one more delivery interval: nothing else may arrive
        # read before stopping: at shutdown the active one hands the lease over
        outputs = [log.read_text() for log in logs]
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        server.stop()
    assert sorted(m["To"] for m in server.messages) == sorted(
        f"team{i}@site.example.org" for i in range(10))
    assert sum("is now the active scheduler" in out for out in outputs) == 1
