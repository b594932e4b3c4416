from datetime import timedelta

import sqlalchemy as sa

from diary import audit
from diary.audit.models import AuditEvent
from diary.extensions import db


def _chain(now, n=3):
    for i in range(n):
        audit.record("create", "thing", i, actor=None, now=now + timedelta(seconds=i),
                     after={"value": i, "when": now})
    db.session.commit()


def test_chain_links_each_event_to_the_previous(app, now):
    _chain(now)
    events = db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].prev_hash == "0" * 64
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash
    assert audit.verify().ok


def test_altered_event_is_named(app, now):
    _chain(now)
    second = db.session.execute(sa.select(AuditEvent).where(AuditEvent.seq == 2)).scalar_one()
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == second.id)
                       .values(after='{"value":99}'))
    db.session.commit()
    result = audit.verify()
    assert not result.ok
    assert result.bad_event_id == second.id
    assert "hash" in result.problem


def test_removed_last_event_is_detected(app, now):
    _chain(now)
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.seq == 3))
    db.session.commit()
    assert not audit.verify().ok


def test_rolled_back_change_leaves_no_event(app, now):
    _chain(now, 1)
    audit.record("create", "thing", 9, actor=None, now=now)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == 1
    assert audit.verify().ok
