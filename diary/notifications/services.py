"""Writing messages to the outbox. Delivery happens after commit, in the scheduler."""
from datetime import datetime

import sqlalchemy as sa

from diary.extensions import db
from diary.notifications.models import OutboxMessage


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
        site_id=site_id if site_id is not None else (patient.site_id if patient is not None else None),
        related_entity=related[0] if related else None, related_id=related[1] if related else None,
        status="pending", next_attempt_at=now, created_at=now,
    )
    db.session.add(msg)
    db.session.flush()
    return msg
