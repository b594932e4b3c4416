"""record() writes an audit event in the caller's transaction; verify() checks the chain."""
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from diary.audit.models import AuditEvent, AuditHead
from diary.extensions import db

GENESIS = "0" * 64


def canonical(value) -> str | None:
    """Stable JSON: sorted keys, no spaces, dates as ISO strings."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_jsonable,
                      ensure_ascii=False)


def _jsonable(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot audit a {type(value).__name__}")


def _digest(ev) -> str:
    fields = [
        str(ev.seq), ev.at.isoformat(), str(ev.actor_id or ""), ev.actor_role, ev.action,
        ev.entity, ev.entity_id, str(ev.patient_id or ""), str(ev.site_id or ""),
        ev.before or "", ev.after or "", ev.reason or "", ev.prev_hash,
    ]
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


PENDING = "diary.audit.pending"


def record(action: str, entity: str, entity_id, *, actor, now: datetime, before=None,
           after=None, reason: str | None = None, patient=None, site_id: int | None = None
           ) -> AuditEvent:
    """Append one event to the chain, in the current transaction.

    The event is chained (sequence number, hashes) just before the transaction
    commits, or before anything in it reads the audit trail: the chain's head is
    one row that every writer locks, so it is locked for the commit only, not for
    the whole request (measured with bench/load.py). A transaction that rolls back
    leaves no event, as before.
    """
    if patient is not None and site_id is None:
        site_id = patient.site_id
    ev = AuditEvent(
        at=now,
        actor_id=actor.id if actor is not None else None,
        actor_role=actor.role if actor is not None else "system",
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        patient_id=patient.id if patient is not None else None,
        site_id=site_id,
        before=canonical(before),
        after=canonical(after),
        reason=reason,
    )
    session = db.session()
    if not session.in_transaction():
        session.begin()  # the event belongs to this transaction: a rollback drops it
    session.info.setdefault(PENDING, []).append(ev)
    return ev


def write_pending(session) -> None:
    """Chain and insert the events recorded in this transaction, in their order."""
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    # Take the chain's lock first (row lock / SQLite write lock), then read the head.
    updated = session.execute(
        sa.update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + len(pending))
    ).rowcount
    if updated == 0:
        session.add(AuditHead(id=1, seq=len(pending), last_hash=GENESIS))
        session.flush()
    head = session.execute(
        sa.select(AuditHead.seq, AuditHead.last_hash).where(AuditHead.id == 1)
    ).one()
    prev, seq = head.last_hash, head.seq - len(pending)
    for ev in pending:
        seq += 1
        ev.seq, ev.prev_hash = seq, prev
        ev.hash = prev = _digest(ev)
        session.add(ev)
    session.execute(sa.update(AuditHead).where(AuditHead.id == 1).values(last_hash=prev))
    session.flush()


@sa.event.listens_for(so.Session, "before_commit")
def _before_commit(session):
    write_pending(session)


@sa.event.listens_for(so.Session, "do_orm_execute")
def _before_reading_the_trail(state):
    if state.session.info.get(PENDING) and any(
            m.class_ in (AuditEvent, AuditHead) for m in state.all_mappers):
        write_pending(state.session)


@sa.event.listens_for(so.Session, "after_transaction_end")
def _after_transaction(session, transaction):
    if transaction.parent is None:  # committed (already written) or rolled back: dropped
        session.info.pop(PENDING, None)


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    bad_event_id: int | None = None
    bad_seq: int | None = None
    problem: str | None = None


def verify(batch: int = 5000) -> VerifyResult:
    """Walk the chain in order; the first event that does not hold is named."""
    prev = GENESIS
    expected_seq = 1
    checked = 0
    last_id = 0
    while True:
        events = db.session.execute(
            sa.select(*AuditEvent.__table__.c).where(AuditEvent.seq >= expected_seq)
            .order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not events:
            break
        for ev in events:
            problem = None
            if ev.seq != expected_seq:
                problem = f"sequence gap: expected {expected_seq}, found {ev.seq}"
            elif ev.prev_hash != prev:
                problem = "previous-hash link broken"
            elif _digest(ev) != ev.hash:
                problem = "content does not match its hash"
            if problem:
                return VerifyResult(False, checked, ev.id, ev.seq, problem)
            prev = ev.hash
            expected_seq += 1
            checked += 1
            last_id = ev.id
    head = db.session.get(AuditHead, 1)
    if head is not None and (head.seq != checked or head.last_hash != prev):
        return VerifyResult(False, checked, last_id or None, checked,
                            "chain head does not match the last event (events removed?)")
    return VerifyResult(True, checked)
