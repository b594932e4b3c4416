"""The scheduler process: a fixed list of jobs, one active scheduler (a lease row).

`flask --app app diary scheduler` runs `run_forever()`: an APScheduler
BlockingScheduler in its own process. Every job first checks that this
process holds the lease; a second scheduler started by mistake beats too but
acts only once the lease has expired (the first one stopped). The jobs hold
no state: what is due lives in the database, and each row is claimed
atomically, so even two active schedulers would not send a message twice.

The demo server runs the same jobs in a BackgroundScheduler
(`start_embedded`), never twice in one process.
"""
import logging
import os
import secrets
import socket
import threading
from datetime import datetime, timedelta

import sqlalchemy as sa

from diary import clock
from diary.extensions import db
from diary.notifications.models import SchedulerLease

log = logging.getLogger("diary.scheduler")

LEASE_NAME = "scheduler"
#: a lease not renewed for this long is taken over by a waiting scheduler
LEASE_TTL = timedelta(seconds=30)
BEAT_SECONDS = 5
DELIVERY_SECONDS = 2
ESCALATION_SECONDS = 60
#: the adherence summary goes out once a day, at this hour (UTC)
ADHERENCE_HOUR_UTC = 6


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def hold_lease(holder: str, now: datetime, ttl: timedelta = LEASE_TTL) -> bool:
    """Take or renew the lease for `holder`, recording a heartbeat; True if it holds it.

    One UPDATE decides: it changes the row only if the lease is ours or has
    expired. Commits.
    """
    table = SchedulerLease.__table__
    won = db.session.execute(
        sa.update(table)
        .where(table.c.name == LEASE_NAME,
               sa.or_(table.c.holder == holder, table.c.expires_at < now))
        .values(holder=holder, expires_at=now + ttl, last_beat_at=now,
                acquired_at=sa.case((table.c.holder == holder, table.c.acquired_at), else_=now))
    ).rowcount == 1
    if not won:
        exists = db.session.execute(
            sa.select(table.c.name).where(table.c.name == LEASE_NAME)).first()
        if exists is None:
            try:
                db.session.add(SchedulerLease(name=LEASE_NAME, holder=holder,
                                              expires_at=now + ttl, last_beat_at=now,
                                              acquired_at=now))
                db.session.commit()
                return True
            except sa.exc.IntegrityError:  # another scheduler inserted it first
                db.session.rollback()
                return False
    db.session.commit()
    return won


def release_abandoned_claims(holder: str) -> int:
    """Free the outbox claims of schedulers other than `holder`; the number freed. Commits.

    Called when `holder` has just taken the lease: the previous holder stopped
    beating for LEASE_TTL (it died, e.g. SIGKILL) or gave the lease up after its
    jobs finished, so a message it had claimed is no longer being sent. Without
    this, such a message would wait for CLAIM_TIMEOUT (minutes) after a crash.
    A message the dead scheduler had handed to the mail server in the instant
    before it died is sent once more: delivery is at least once across a crash.
    """
    from diary.notifications.models import OutboxMessage

    table = OutboxMessage.__table__
    freed = db.session.execute(
        sa.update(table)
        .where(table.c.status == "pending", table.c.claimed_by.is_not(None),
               table.c.claimed_by != holder)
        .values(claimed_at=None, claimed_by=None)
    ).rowcount
    db.session.commit()
    return freed


def release_lease(holder: str, now: datetime) -> None:
    """Give the lease up at shutdown so that a waiting scheduler takes over at once."""
    table = SchedulerLease.__table__
    db.session.execute(sa.update(table).where(table.c.name == LEASE_NAME,
                                              table.c.holder == holder)
                       .values(expires_at=now))
    db.session.commit()


def last_beat() -> datetime | None:
    """The active scheduler's last heartbeat, or None if no scheduler ever ran."""
    return db.session.execute(
        sa.select(SchedulerLease.last_beat_at).where(SchedulerLease.name == LEASE_NAME)
    ).scalar_one_or_none()


# --- the jobs: each takes `now` and commits its own work ---------------------------------

def deliver_job(now: datetime, worker: str) -> None:
    from diary.notifications.services import deliver_due
    report = deliver_due(now, worker)
    if report.handled:
        log.info("delivery: %s sent, %s to retry, %s failed", report.sent, report.retried,
                 report.failed)


def escalation_job(now: datetime, worker: str) -> None:
    try:
        from diary.alerts.forwarding import escalate_due
    except ImportError:  # the alert model is not there yet
        return
    count = escalate_due(now)
    if count:
        log.info("escalation: %s alert(s) escalated", count)


def reminder_job(now: datetime, worker: str) -> None:
    from diary.reminders.services import sweep_job
    sweep_job(now, worker)


def photo_purge_job(now: datetime, worker: str) -> None:
    from diary.checkins.photos import purge_orphans
    count = purge_orphans(now)
    if count:
        log.info("photos: %s unsaved upload(s) removed", count)


def adherence_job(now: datetime, worker: str) -> None:
    from diary.notifications.adherence import send_daily_summaries
    count = send_daily_summaries(now)
    if count:
        log.info("adherence: %s summary message(s) enqueued", count)


class Runner:
    """Runs the jobs for one app in one process, acting only while it holds the lease."""

    def __init__(self, app, holder: str | None = None):
        self.app = app
        self.holder = holder or worker_name()
        self.leader_until: datetime | None = None
        self._lock = threading.Lock()

    def beat(self, now: datetime | None = None) -> bool:
        now = now or clock.now_utc()
        with self.app.app_context():
            try:
                held = hold_lease(self.holder, now)
            except Exception:  # noqa: BLE001 - a database hiccup must not stop the scheduler
                log.exception("heartbeat failed")
                db.session.rollback()
                held = False
        was = self.leader_until is not None
        self.leader_until = now + LEASE_TTL if held else None
        if held and not was:
            log.info("scheduler %s is now the active scheduler", self.holder)
            with self.app.app_context():
                try:
                    freed = release_abandoned_claims(self.holder)
                except Exception:  # noqa: BLE001 - stale claims still expire on their own
                    log.exception("could not free abandoned claims")
                    db.session.rollback()
                    freed = 0
            if freed:
                log.info("took over %s message(s) claimed by a stopped scheduler", freed)
        return held

    def is_leader(self, now: datetime) -> bool:
        return self.leader_until is not None and now < self.leader_until

    def run(self, job, now: datetime | None = None) -> bool:
        """Run one job if this process holds the lease; True if it ran."""
        now = now or clock.now_utc()
        if not self.is_leader(now):
            return False
        with self._lock, self.app.app_context():
            try:
                job(now, self.holder)
            except Exception:  # noqa: BLE001 - log; the next run tries again
                log.exception("job %s failed", getattr(job, "__name__", job))
                db.session.rollback()
            finally:
                db.session.remove()
        return True

    def shutdown(self) -> None:
        with self.app.app_context():
            try:
                release_lease(self.holder, clock.now_utc())
            except Exception:  # noqa: BLE001
                log.exception("could not release the lease")

    def add_jobs(self, scheduler) -> None:
        """The fixed list of jobs."""
        scheduler.add_job(self.beat, "interval", seconds=BEAT_SECONDS, id="heartbeat",
                          max_instances=1, coalesce=True)
        scheduler.add_job(self.run, "interval", args=[deliver_job], seconds=DELIVERY_SECONDS,
                          id="deliver", max_instances=1, coalesce=True)
        scheduler.add_job(self.run, "interval", args=[escalation_job],
                          seconds=ESCALATION_SECONDS, id="escalate", max_instances=1,
                          coalesce=True)
        scheduler.add_job(self.run, "interval", args=[reminder_job], seconds=60,
                          id="reminders", max_instances=1, coalesce=True)
        scheduler.add_job(self.run, "interval", args=[photo_purge_job], hours=1,
                          id="photo-purge", max_instances=1, coalesce=True)
        scheduler.add_job(self.run, "cron", args=[adherence_job], hour=ADHERENCE_HOUR_UTC,
                          minute=0, timezone="UTC", id="adherence", max_instances=1,
                          coalesce=True, misfire_grace_time=3600)


def run_forever(app) -> None:
    """The scheduler process: block until stopped (SIGINT/SIGTERM)."""
    import signal

    from apscheduler.schedulers.blocking import BlockingScheduler

    runner = Runner(app)
    scheduler = BlockingScheduler(timezone="UTC")
    runner.add_jobs(scheduler)

    def stop(_signum, _frame):
        if scheduler.running:
            scheduler.shutdown(wait=False)  # the running job finishes, then the process ends
        else:
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    log.info("scheduler %s starting", runner.holder)
    try:
        runner.beat()
        # the first delivery at once rather than after the first interval
        scheduler.add_job(runner.run, "date", args=[deliver_job], id="deliver-at-start")
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=True)
        runner.shutdown()
        log.info("scheduler %s stopped", runner.holder)


_embedded = None
_embedded_lock = threading.Lock()


def start_embedded(app):
    """Run the jobs inside this process (the demo server); at most once per process.

    In debug mode (the Werkzeug reloader) only the child that serves
    (WERKZEUG_RUN_MAIN=true) starts it.
    """
    global _embedded
    from apscheduler.schedulers.background import BackgroundScheduler

    with _embedded_lock:
        if _embedded is not None:
            return _embedded
        if app.debug and os.environ.get("WERKZEUG_RUN_MAIN") != "true":
            return None  # the reloader's watcher process: its serving child starts it
        # the demo ran its migration in this process: Alembic's logging setup disabled us
        # (and set the root logger to WARNING): the demo's console shows what is sent
        for name in ("diary.scheduler", "diary.outbox", "diary.alerts"):
            logging.getLogger(name).disabled = False
            logging.getLogger(name).setLevel(logging.INFO)
        runner = Runner(app)
        scheduler = BackgroundScheduler(timezone="UTC", daemon=True)
        runner.add_jobs(scheduler)
        runner.beat()
        scheduler.start()
        _embedded = scheduler
        import atexit

        def stop():
            if scheduler.running:
                scheduler.shutdown(wait=False)
            runner.shutdown()

        atexit.register(stop)
        log.info("embedded scheduler started (%s)", runner.holder)
        return scheduler
