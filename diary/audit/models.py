"""The audit trail: append-only, hash-chained events."""
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from diary.db import UTCDateTime
from diary.extensions import db


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    #: the chain this event belongs to: its patient's id, or 0 for events of no patient
    #: (sites, staff accounts). A chain per patient means that writers lock only
    #: their patient's head, never one row shared by every request of every patient.
    chain: so.Mapped[int] = so.mapped_column()
    #: position in its chain, 1, 2, 3... without gaps
    seq: so.Mapped[int] = so.mapped_column()
    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    #: who acted; None for the system (scheduler, command line without a user)
    actor_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    actor_role: so.Mapped[str] = so.mapped_column(sa.String(16))
    #: what was done, e.g. "create", "correct", "acknowledge"
    action: so.Mapped[str] = so.mapped_column(sa.String(64))
    #: the kind of record changed, e.g. "checkin", and its id
    entity: so.Mapped[str] = so.mapped_column(sa.String(64))
    entity_id: so.Mapped[str] = so.mapped_column(sa.String(64))
    #: the patient whose data this is, for per-patient trails and scoping
    patient_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("patients.id"), index=True)
    site_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("sites.id"), index=True)
    #: canonical JSON of the values before and after; None where there was none
    before: so.Mapped[str | None] = so.mapped_column(sa.Text)
    after: so.Mapped[str | None] = so.mapped_column(sa.Text)
    reason: so.Mapped[str | None] = so.mapped_column(sa.Text)
    prev_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)

    __table_args__ = (
        sa.Index("ix_audit_events_entity", "entity", "entity_id"),
        sa.UniqueConstraint("chain", "seq", name="uq_audit_events_chain_seq"),
    )


class AuditHead(db.Model):
    """One row per chain: its last position and hash.

    Appending to a chain updates its row first, which takes a row lock on
    PostgreSQL and the write lock on SQLite, so that two transactions never chain
    onto the same previous event. The row also tells `verify` where the chain
    should end, so that removing its last events is seen.
    """

    __tablename__ = "audit_head"

    chain: so.Mapped[int] = so.mapped_column(primary_key=True, autoincrement=False)
    seq: so.Mapped[int] = so.mapped_column(default=0)
    last_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
