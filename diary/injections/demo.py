"""Demo history: past doses of the demo patients, recorded through the services.

Most home doses are taken; P-0002 has one dose not taken (side effects) and
one missed (no record). Hospital doses are recorded by a coordinator.
"""
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from diary import clock
from diary.accounts.models import Patient, User, staff_sites
from diary.extensions import db
from diary.injections import services
from diary.injections.models import INJECTION_SITES, InjectionRecord

NOT_TAKEN = {("P-0002", 2, 4): "side_effect"}
MISSED = {("P-0002", 3, 3)}


def _coordinator(patient) -> User | None:
    return db.session.execute(
        sa.select(User).join(staff_sites, staff_sites.c.user_id == User.id)
        .where(User.role == "coordinator", staff_sites.c.site_id == patient.site_id).limit(1)
    ).scalar_one_or_none()


def record_demo_history(*, now: datetime) -> None:
    patients = db.session.execute(sa.select(Patient).order_by(Patient.study_code)).scalars()
    for patient in patients:
        has_records = db.session.execute(
            sa.select(InjectionRecord.id).where(InjectionRecord.patient_id == patient.id).limit(1)
        ).first()
        if has_records:
            continue
        today = clock.local_date(now, patient.tz)
        staff = _coordinator(patient)
        for i, dose in enumerate(d for d in services.patient_doses(patient)
                                 if d.planned_date < today):
            key = (patient.study_code, dose.cure, dose.day)
            if key in MISSED or (dose.setting == "hospital" and staff is None):
                continue
            taken_at = clock.at_local(dose.planned_date, 8 + i % 3, 5 * (i % 6), patient.tz)
            received = taken_at + timedelta(minutes=3)
            if key in NOT_TAKEN:
                values = {"taken": False, "not_taken_reason": NOT_TAKEN[key],
                          "note": "fever and chills the evening before"}
            else:
                values = {"taken": True, "taken_at": clock.local_datetime(taken_at, patient.tz),
                          "dose_miu": dose.dose_miu, "site": INJECTION_SITES[i % 6],
                          "administered_by": "nurse" if dose.setting == "hospital" else "self",
                          "lot": f"LOT-{dose.cure}{dose.day:02d}"}
            by_staff = dose.setting == "hospital"
            services.record_injection(patient=patient, dose=dose, values=values,
                                      client_id=str(uuid.uuid4()),
                                      actor=staff if by_staff else patient.user, now=received,
                                      by_staff=by_staff)
    db.session.flush()
