"""The outbox: every message to send is a row written in the transaction that caused it.

Also the scheduler's lease: one row that names the active scheduler process and
carries its heartbeat (see diary/scheduler.py).
"""
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from diary.clock import now_utc
from diary.db import UTCDateTime
from diary.extensions import db

CHANNELS = ("email", "webpush", "log")
STATUSES = ("pending", "sent", "failed")


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        sa.CheckConstraint("channel IN ('email','webpush','log')", name="channel"),
        sa.CheckConstraint("status IN ('pending','sent','failed')", name="status"),
        sa.CheckConstraint("attempts >= 0", name="attempts"),
        sa.CheckConstraint("status <> 'sent' OR sent_at IS NOT NULL", name="sent_has_time"),
        # the delivery job's scan: pending rows by due time
        sa.Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    #: what the message is addressed through: email | webpush | log
    channel: so.Mapped[str] = so.mapped_column(sa.String(16))
    #: an e-mail address, or a push subscription id for webpush
    recipient: so.Mapped[str] = so.mapped_column(sa.String(512))
    #: what the message is for: alert, escalation, reminder, invitation, adherence_summary...
    kind: so.Mapped[str] = so.mapped_column(sa.String(32), index=True)
    subject: so.Mapped[str] = so.mapped_column(sa.String(255))
    #: plain text; never health data (clinical-rules.md section 7)
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    #: identifies the message so that it is never enqueued twice (a reminder, an escalation step)
    dedupe_key: so.Mapped[str | None] = so.mapped_column(sa.String(200), unique=True)
    patient_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("patients.id"), index=True)
    site_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("sites.id"), index=True)
    #: the record that caused it, e.g. ("alert", 17)
    related_entity: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    related_id: so.Mapped[int | None] = so.mapped_column()
    #: pending (to send or retry) | sent | failed (every attempt failed)
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="pending")
    #: delivery attempts made so far
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    #: not sent before this time (creation, then each retry's backoff)
    next_attempt_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    #: set when a delivery worker claims the row; a stale claim is taken over after a timeout
    claimed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    claimed_by: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    sent_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    #: the transport that delivered it: smtp, log, webpush (the log channel's messages are
    #: read on the admin outbox page)
    delivered_via: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=now_utc)

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.status}>"


class SchedulerLease(db.Model):
    """Which scheduler process is the active one, until when, and its last heartbeat."""

    __tablename__ = "scheduler_leases"

    #: the lease's name; one row, "scheduler"
    name: so.Mapped[str] = so.mapped_column(sa.String(32), primary_key=True)
    #: the process holding it: host:pid:random
    holder: so.Mapped[str] = so.mapped_column(sa.String(128))
    #: another scheduler may take the lease over after this time
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    #: the active scheduler's last heartbeat (reported by /healthz)
    last_beat_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    acquired_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
