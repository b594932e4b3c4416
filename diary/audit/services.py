"""record() writes an audit event in the caller's transaction; verify() checks the chains.

The trail is one hash chain per patient (every event about that patient's data,
whoever acted) and one chain, numbered 0, for the events of no patient (sites,
staff accounts). Each event stores its chain, its position in it and the hash
of the previous event of the chain; each chain starts from its own genesis
value, so an event cannot be moved from one chain to another unseen. Appending
locks one chain's head: requests of different patients never wait for each
other (one global head made every check-in of every patient queue behind the
one committing: bench/load.py's tail latency went from over a second to under
100 ms without it).
"""
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from types import SimpleNamespace

import sqlalchemy as sa
import sqlalchemy.orm as so

from diary.audit.models import AuditEvent, AuditHead
from diary.extensions import db

GENESIS = "0" * 64  # chain 0's first "previous hash"


def genesis(chain: int) -> str:
    """The previous hash of a chain's first event."""
    if chain == 0:
        return GENESIS
    return hashlib.sha256(f"diary audit chain {chain}".encode()).hexdigest()


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
        str(ev.chain), str(ev.seq), ev.at.isoformat(), str(ev.actor_id or ""), ev.actor_role, ev.action,
        ev.entity, ev.entity_id, str(ev.patient_id or ""), str(ev.site_id or ""),
        ev.before or "", ev.after or "", ev.reason or "", ev.prev_hash,
    ]
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


PENDING = "diary.audit.pending"


def record(action: str, entity: str, entity_id, *, actor, now: datetime, before=None,
           after=None, reason: str | None = None, patient=None, site_id: int | None = None
           ) -> SimpleNamespace:
    """Append one event to the chain, in the current transaction.

    The event is chained (sequence number, hashes) just before the transaction
    commits, or before anything in it reads the audit trail: the chain's head is
    one row that every writer locks, so it is locked for the commit only, not for
    the whole request (measured with bench/load.py). A transaction that rolls back
    leaves no event, as before.
    """
    if patient is not None and site_id is None:
        site_id = patient.site_id
    ev = SimpleNamespace(
        at=now,
        actor_id=actor.id if actor is not None else None,
        actor_role=actor.role if actor is not None else "system",
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        patient_id=patient.id if patient is not None else None,
        chain=patient.id if patient is not None else 0,
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
    """Chain and insert the events recorded in this transaction, in their order.

    A chain's head is locked from its first statement here to the commit: the rest
    of the transaction is flushed first. Chains are locked in ascending order, so
    that two transactions touching the same chains cannot deadlock.
    """
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    session.flush()
    by_chain: dict[int, list] = {}
    for ev in pending:
        by_chain.setdefault(ev.chain, []).append(ev)
    last = {}
    for chain in sorted(by_chain):
        events = by_chain[chain]
        prev, seq = _take_head(session, chain, len(events))
        for ev in events:
            seq += 1
            ev.seq, ev.prev_hash = seq, prev
            ev.hash = prev = _digest(ev)
        last[chain] = prev
    rows = [vars(ev) for ev in pending]  # in the order they were recorded
    if len(rows) == 1 and session.get_bind().dialect.name == "postgresql":
        # The usual case (a check-in, a dose): the event and the head's new hash in one
        # statement, a round trip fewer (a data-modifying WITH; SQLite has none)
        (chain, last_hash), = last.items()
        params = {f"e_{key}": value for key, value in rows[0].items()}
        session.execute(_statements()["insert_and_set_hash"],
                        params | {"b_chain": chain, "b_hash": last_hash})
        return
    # an INSERT built and compiled once; several events are sent together (executemany:
    # measured cheaper than a multi-row VALUES, which is compiled anew for each count)
    session.execute(_statements()["insert"], rows[0] if len(rows) == 1 else rows)
    for chain, last_hash in last.items():
        session.execute(_statements()["set_hash"], {"b_chain": chain, "b_hash": last_hash})


@cache
def _statements() -> dict:
    """The head's statements, built once (every write of every request runs them)."""
    p, head, events = sa.bindparam, AuditHead.__table__, AuditEvent.__table__
    set_hash = head.update().where(head.c.chain == p("b_chain")).values(last_hash=p("b_hash"))
    insert_one = events.insert().values({c.name: p(f"e_{c.name}", type_=c.type)
                                         for c in events.columns if c.name != "id"})
    return {
        "move": (head.update().where(head.c.chain == p("b_chain"))
                 .values(seq=head.c.seq + p("b_n")).returning(head.c.seq, head.c.last_hash)),
        "set_hash": set_hash,
        "insert": events.insert(),
        "insert_and_set_hash": set_hash.add_cte(insert_one.cte("event")),
    }


def _take_head(session, chain: int, n: int) -> tuple[str, int]:
    """Lock `chain`'s head and move it on by n: (last hash, last position) before."""
    move, params = _statements()["move"], {"b_chain": chain, "b_n": n}
    head = session.execute(move, params).one_or_none()
    if head is None:  # a new chain (a patient's first event): create its head, then move it
        if session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        session.execute(insert(AuditHead).values(chain=chain, seq=0, last_hash=genesis(chain))
                        .on_conflict_do_nothing())
        head = session.execute(move, params).one()
    return head.last_hash, head.seq - n


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
    chain: int | None = None


def verify(batch: int = 5000) -> VerifyResult:
    """Walk every chain in order; the first event that does not hold is named.

    Each chain must run 1, 2, 3... from its genesis value, each event's hash must
    match its content and link to the previous one, and the chain must end where
    its head says (events removed from the end are seen). A chain without a head,
    or a head without its events, is a broken trail too.
    """
    heads = {h.chain: h for h in db.session.execute(
        sa.select(AuditHead.chain, AuditHead.seq, AuditHead.last_hash)).all()}
    checked = 0
    chain = None
    prev, expected_seq, last_id = None, 1, None

    def end_of(chain_key):
        head = heads.pop(chain_key, None)
        if head is None:
            return f"chain {chain_key} has no head"
        if head.seq != expected_seq - 1 or head.last_hash != prev:
            return f"chain {chain_key}: head does not match the last event (events removed?)"
        return None

    after = (-1, 0)  # (chain, seq) of the last event read
    while True:
        events = db.session.execute(
            sa.select(*AuditEvent.__table__.c)
            .where(sa.or_(AuditEvent.chain > after[0],
                          sa.and_(AuditEvent.chain == after[0], AuditEvent.seq > after[1])))
            .order_by(AuditEvent.chain, AuditEvent.seq).limit(batch)
        ).all()
        if not events:
            break
        for ev in events:
            if ev.chain != chain:
                if chain is not None:
                    problem = end_of(chain)
                    if problem:
                        return VerifyResult(False, checked, last_id, expected_seq - 1,
                                            problem, chain)
                chain, prev, expected_seq = ev.chain, genesis(ev.chain), 1
            problem = None
            if ev.chain != (ev.patient_id or 0):
                problem = "event is in another patient's chain"
            elif ev.seq != expected_seq:
                problem = f"sequence gap: expected {expected_seq}, found {ev.seq}"
            elif ev.prev_hash != prev:
                problem = "previous-hash link broken"
            elif _digest(ev) != ev.hash:
                problem = "content does not match its hash"
            if problem:
                return VerifyResult(False, checked, ev.id, ev.seq, problem, ev.chain)
            prev = ev.hash
            expected_seq += 1
            checked += 1
            last_id = ev.id
        after = (events[-1].chain, events[-1].seq)
    if chain is not None:
        problem = end_of(chain)
        if problem:
            return VerifyResult(False, checked, last_id, expected_seq - 1, problem, chain)
    for head in heads.values():
        if head.seq:
            return VerifyResult(False, checked, None, None,
                                f"chain {head.chain}: its {head.seq} events are missing",
                                head.chain)
    return VerifyResult(True, checked)
