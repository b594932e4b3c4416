"""The scoping helper: a patient sees self, staff their sites, admin all; the rest is 404."""
import pytest
import sqlalchemy as sa
from werkzeug.exceptions import NotFound

from diary.accounts import scope
from diary.audit.models import AuditEvent
from diary.extensions import db


def _visible_codes(user):
    return sorted(p.study_code for p in db.session.execute(scope.patients_query(user)).scalars())


def test_each_role_sees_exactly_its_patients(world):
    assert _visible_codes(world["pat1"].user) == ["P-0001"]
    assert _visible_codes(world["pat2"].user) == ["P-0101"]
    assert _visible_codes(world["inv1"]) == ["P-0001", "P-0002"]
    assert _visible_codes(world["coord1"]) == ["P-0001", "P-0002"]
    assert _visible_codes(world["inv2"]) == ["P-0101"]
    assert _visible_codes(world["coord2"]) == ["P-0101"]
    assert _visible_codes(world["admin"]) == ["P-0001", "P-0002", "P-0101"]


@pytest.mark.parametrize("who, target, visible", [
    ("pat1", "pat1", True), ("pat1", "pat1b", False), ("pat1", "pat2", False),
    ("inv1", "pat1", True), ("inv1", "pat2", False), ("coord2", "pat1", False),
    ("coord2", "pat2", True), ("admin", "pat2", True),
])
def test_get_patient_or_404(world, who, target, visible):
    user = world[who].user if who.startswith("pat") else world[who]
    patient = world[target]
    if visible:
        assert scope.get_patient_or_404(user, patient.id).id == patient.id
    else:
        with pytest.raises(NotFound):
            scope.get_patient_or_404(user, patient.id)


def test_scoped_rows_of_a_model_with_patient_id(world):
    """AuditEvent carries patient_id: staff of site 2 see none of site 1's patients' events."""
    def patient_ids(user):
        stmt = scope.scoped(sa.select(AuditEvent.patient_id).where(AuditEvent.patient_id.isnot(None)),
                            AuditEvent, user)
        return set(db.session.execute(stmt).scalars())

    assert patient_ids(world["inv2"]) == {world["pat2"].id}
    assert patient_ids(world["pat1"].user) == {world["pat1"].id}
    assert patient_ids(world["admin"]) == {world["pat1"].id, world["pat1b"].id, world["pat2"].id}


def test_get_scoped_or_404(world):
    ev = db.session.execute(sa.select(AuditEvent).where(AuditEvent.patient_id == world["pat2"].id)
                            ).scalars().first()
    assert scope.get_scoped_or_404(AuditEvent, ev.id, world["coord2"]).id == ev.id
    with pytest.raises(NotFound):
        scope.get_scoped_or_404(AuditEvent, ev.id, world["coord1"])
    with pytest.raises(NotFound):
        scope.get_scoped_or_404(AuditEvent, ev.id, world["pat1"].user)
