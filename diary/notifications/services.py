"""Writing messages to the outbox, and delivering them after commit (the scheduler's job).

Delivery claims each due row atomically and commits the claim before sending,
so that two workers never send the same message; a worker that dies after
its claim leaves a stale claim that another takes over after CLAIM_TIMEOUT.
"""
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from diary.extensions import db
from diary.notifications import channels
from diary.notifications.models import OutboxMessage

log = logging.getLogger("diary.outbox")

#: the wait after the 1st, 2nd... failed attempt; one attempt more than delays, then failed
RETRY_DELAYS = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10),
                timedelta(hours=1), timedelta(hours=6))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
#: a claim older than this belongs to a worker that died mid-send
CLAIM_TIMEOUT = timedelta(minutes=5)


def enqueue(*, channel: str, recipient: str, subject: str, body: str, kind: str, now: datetime,
            dedupe_key: str | None = None, patient=None, site_id: int | None = None,
            related: tuple[str, int] | None = None) -> OutboxMessage | None:
    """Add a message to the outbox in the current transaction (flush, no commit).

    With a `dedupe_key` already in the outbox, nothing is added and None is
    returned: a reminder or an escalation step is enqueued once, whoever asks.
    """
    if dedupe_key is not None:
        exists = db.session.execute(
            sa.select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
        ).first()
        if exists:
            return None
    msg = OutboxMessage(
        channel=channel, recipient=recipient, subject=subject, body=body, kind=kind,
        dedupe_key=dedupe_key, patient_id=patient.id if patient is not None else None,
        site_id=site_id if site_id is not None else getattr(patient, "site_id", None),
        related_entity=related[0] if related else None, related_id=related[1] if related else None,
        status="pending", attempts=0, next_attempt_at=now, created_at=now,
    )
    db.session.add(msg)
    db.session.flush()
    return msg


def retry_delay(attempts: int) -> timedelta | None:
    """The wait before the next attempt after `attempts` failures; None: give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    lost_claims: int = 0  # rows another worker claimed first

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed


def due_ids(now: datetime, batch: int) -> list[int]:
    stale = now - CLAIM_TIMEOUT
    return list(db.session.execute(
        sa.select(OutboxMessage.id)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now,
               sa.or_(OutboxMessage.claimed_at.is_(None), OutboxMessage.claimed_at < stale))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(batch)
    ).scalars())


def claim(message_id: int, now: datetime, worker_id: str) -> bool:
    """Claim one row for this worker and commit; True only if this worker won it."""
    stale = now - CLAIM_TIMEOUT
    table = OutboxMessage.__table__
    won = db.session.execute(
        sa.update(table)
        .where(table.c.id == message_id, table.c.status == "pending",
               sa.or_(table.c.claimed_at.is_(None), table.c.claimed_at < stale))
        .values(claimed_at=now, claimed_by=worker_id)
    ).rowcount == 1
    db.session.commit()
    return won


def _record(message_id: int, worker_id: str, values: dict) -> None:
    table = OutboxMessage.__table__
    db.session.execute(
        sa.update(table).where(table.c.id == message_id, table.c.claimed_by == worker_id)
        .values(**values))
    db.session.commit()


def deliver_one(message_id: int, now: datetime, worker_id: str, report: DeliveryReport,
                cache: dict) -> None:
    if not claim(message_id, now, worker_id):
        report.lost_claims += 1
        return
    msg = db.session.get(OutboxMessage, message_id, populate_existing=True)
    # Send with no transaction open: a slow mail server must not hold the database.
    db.session.expunge(msg)
    db.session.rollback()
    attempts = msg.attempts + 1
    try:
        if msg.channel not in cache:
            cache[msg.channel] = channels.channel_for(msg.channel, current_app.config)
        channel = cache[msg.channel]
        channel.send(msg)
    except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
        error = str(exc) or type(exc).__name__
        delay = retry_delay(attempts)
        if delay is None:
            log.error("message %s failed for good after %s attempts: %s", msg.id, attempts, error)
            report.failed += 1
            _record(message_id, worker_id, dict(
                status="failed", attempts=attempts, last_error=error[:2000],
                claimed_at=None, claimed_by=None))
        else:
            log.warning("message %s attempt %s failed (%s); retry in %s", msg.id, attempts,
                        error, delay)
            report.retried += 1
            _record(message_id, worker_id, dict(
                attempts=attempts, last_error=error[:2000], next_attempt_at=now + delay,
                claimed_at=None, claimed_by=None))
        return
    report.sent += 1
    _record(message_id, worker_id, dict(
        status="sent", attempts=attempts, sent_at=now, delivered_via=channel.name,
        claimed_at=None, claimed_by=None))


def deliver_due(now: datetime, worker_id: str, batch: int = 50) -> DeliveryReport:
    """Send the outbox rows due at `now`: claim, send, record the outcome (commits).

    Call it outside any open transaction of the caller: it commits per row.
    """
    report = DeliveryReport()
    ids = due_ids(now, batch)
    db.session.commit()  # end the read before claiming
    cache: dict = {}
    for message_id in ids:
        deliver_one(message_id, now, worker_id, report, cache)
    return report


def retry_now(message: OutboxMessage, now: datetime) -> None:
    """An admin asks for another try of a failed message: pending again, due now."""
    message.status = "pending"
    message.next_attempt_at = now
    message.attempts = 0
    message.claimed_at = None
    message.claimed_by = None
    db.session.flush()
