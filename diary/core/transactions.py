"""How a request's transaction ends: a unit of work committed (run again when another
request won a unique-key race), and a read ended with COMMIT."""
import logging

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.exc import IntegrityError

from diary.audit.services import PENDING
from diary.extensions import db

WROTE = "diary.wrote"


def commit_retrying(work, attempts: int = 3):
    """Run `work()` and commit; on an IntegrityError roll back and run it again.

    Two requests of one patient can raise the same alert (unique per patient,
    rule and diary day) at the same moment: the loser's transaction is rolled
    back whole and run again, and this time finds the alert and adds its
    evidence to it. `work` must be safe to repeat (writes are idempotent by
    client_id). After `attempts` tries the error propagates.
    """
    for attempt in range(1, attempts + 1):
        try:
            result = work()
            db.session.commit()
            return result
        except IntegrityError:
            db.session.rollback()
            if attempt == attempts:
                raise


def end_read_with_commit(session) -> None:
    """End the transaction of a request that read and changed nothing with COMMIT.

    psycopg forgets every statement it has prepared on the server at each ROLLBACK (it
    sends DEALLOCATE ALL and counts anew), and Flask-SQLAlchemy ends a request by
    closing its session, which rolls back: a Today page, or any other read, wiped out
    its worker's prepared statements, and PostgreSQL parsed and planned each query of
    every request again (bench/load.py: 2.0 ms of PostgreSQL CPU a request, 1.0 since).
    To the database, COMMIT and ROLLBACK of a transaction that only read are the same.

    Called for GET and HEAD requests answered without an exception. The transaction
    is left to roll back, as before, when the session holds objects not yet written,
    audit events (every change of clinical data records one), a flush happened, or
    the session ran any statement but a SELECT (an INSERT, an UPDATE, a DELETE, text
    SQL): nothing a refused request did is kept. Writes go through the session (its
    execute() or its unit of work); the two reads that use its connection directly
    (the reminder sweep, the dashboards' aggregates) are not seen here, and a change
    of clinical data made that way would still leave its audit event pending, which
    rolls it back.
    """
    if (not session.in_transaction() or session.new or session.dirty or session.deleted
            or session.info.get(WROTE) or session.info.get(PENDING)):
        return
    try:
        session.commit()
    except sa.exc.SQLAlchemyError as exc:  # the answer is sent; the session's close rolls back
        logging.getLogger(__name__).warning("ending a read-only transaction failed: %s", exc)


@sa.event.listens_for(so.Session, "do_orm_execute")
def _note_a_write(state):
    if not state.is_select:
        state.session.info[WROTE] = True


@sa.event.listens_for(so.Session, "after_flush")
def _note_a_flush(session, _context):
    session.info[WROTE] = True


@sa.event.listens_for(so.Session, "after_transaction_end")
def _forget_writes(session, transaction):
    if transaction.parent is None:
        session.info.pop(WROTE, None)
