"""Commit a unit of work, running it again when another request won a unique-key race."""
from sqlalchemy.exc import IntegrityError

from diary.extensions import db


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
