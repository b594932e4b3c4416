from datetime import timedelta

import sqlalchemy as sa

from diary import audit
from diary.audit.models import AuditEvent, AuditHead
from diary.audit.services import genesis
from diary.extensions import db


def _chain(now, n=3):
    for i in range(n):
        audit.record("create", "thing", i, actor=None, now=now + timedelta(seconds=i),
                     after={"value": i, "when": now})
    db.session.commit()


def _events(chain):
    return db.session.execute(sa.select(AuditEvent).where(AuditEvent.chain == chain)
                              .order_by(AuditEvent.seq)).scalars().all()


def test_chain_links_each_event_to_the_previous(app, now):
    _chain(now)
    events = _events(0)
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].prev_hash == "0" * 64
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash
    assert audit.verify().ok


def test_one_event_a_transaction_is_chained_and_the_head_follows(app, now):
    """One event a transaction (a check-in, a dose) takes the short path: on PostgreSQL
    the event and the head's new hash go in one statement (a data-modifying WITH)."""
    statements = []

    def count(conn, cursor, statement, *args):
        if "audit_" in statement:
            statements.append(statement)

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        for i in range(3):
            audit.record("create", "thing", i, actor=None, now=now + timedelta(seconds=i),
                         after={"value": i})
            db.session.commit()
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    events = _events(0)
    assert [e.seq for e in events] == [1, 2, 3]
    assert all(b.prev_hash == a.hash for a, b in zip(events[:-1], events[1:], strict=True))
    head = db.session.get(AuditHead, 0)
    assert (head.seq, head.last_hash) == (3, events[-1].hash)
    assert audit.verify().ok
    # the head's first move creates it (chain 0 is new here): two more statements once
    per_event = 2 if engine.dialect.name == "postgresql" else 3
    assert len(statements) == 3 * per_event + 2


def test_each_patient_has_a_chain_of_its_own(app, now, make_site, make_patient):
    site = make_site()
    one, two = make_patient(site, "P-0001"), make_patient(site, "P-0002")
    enrolment = len(_events(one.id))  # the enrolment's own events
    for i in range(2):
        audit.record("create", "thing", i, actor=None, now=now, patient=one)
        audit.record("create", "thing", i, actor=None, now=now, patient=two)
    db.session.commit()
    for patient in (one, two):
        events = _events(patient.id)
        assert {e.patient_id for e in events} == {patient.id}
        assert [e.seq for e in events] == list(range(1, enrolment + 3))
        assert events[0].prev_hash == genesis(patient.id) != genesis(0)
        assert all(b.prev_hash == a.hash for a, b in zip(events[:-1], events[1:], strict=True))
        head = db.session.get(AuditHead, patient.id)
        assert (head.seq, head.last_hash) == (enrolment + 2, events[-1].hash)
    assert [e.seq for e in _events(0)] == [1]  # the site
    result = audit.verify()
    assert result.ok and result.checked == 1 + 2 * (enrolment + 2)


def test_altered_event_is_named(app, now):
    _chain(now)
    second = _events(0)[1]
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
    result = audit.verify()
    assert not result.ok and "removed" in result.problem


def test_removed_patient_chain_is_detected(app, now, make_site, make_patient):
    patient = make_patient(make_site())
    assert audit.verify().ok
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.chain == patient.id))
    db.session.commit()
    result = audit.verify()
    assert not result.ok and result.chain == patient.id and "missing" in result.problem


def test_event_moved_to_another_chain_is_detected(app, now, make_site, make_patient):
    site = make_site()
    one, two = make_patient(site, "P-0001"), make_patient(site, "P-0002")
    moved = _events(one.id)[0]
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == moved.id)
                       .values(chain=two.id, seq=99))
    db.session.commit()
    assert not audit.verify().ok


def test_rolled_back_change_leaves_no_event(app, now):
    _chain(now, 1)
    audit.record("create", "thing", 9, actor=None, now=now)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == 1
    assert audit.verify().ok
