"""A change and its audit event commit together or not at all, on every database."""
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from diary.audit.models import AuditEvent
from diary.extensions import db
from diary.injections import services
from diary.injections.models import InjectionRecord


def test_no_savepoints_in_the_code():
    """pysqlite commits at RELEASE of a first SAVEPOINT: a change would commit without its audit."""
    root = Path(__file__).resolve().parents[2] / "diary"
    users = [str(p) for p in root.rglob("*.py") if "begin_nested" in p.read_text()]
    assert users == []


def test_a_dose_record_rolled_back_leaves_neither_record_nor_audit(make_site, make_patient):
    patient = make_patient(make_site(), cure1_start=date(2026, 11, 2))
    events_before = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
    dose = next(d for d in services.patient_doses(patient) if d.setting == "home")
    taken = datetime.combine(dose.planned_date, datetime.min.time(), UTC).replace(hour=8)
    services.record_injection(
        patient=patient, dose=dose, client_id=str(uuid.uuid4()), actor=patient.user,
        now=taken, by_staff=False,
        values={"taken": True, "taken_at": taken, "dose_miu": dose.dose_miu,
                "site": "thigh_left", "administered_by": "self"})
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(InjectionRecord.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == events_before
