"""Helpers for the injection diary tests: a plan whose cure 2 starts on FIXED_NOW's day."""
import uuid
from datetime import date

import sqlalchemy as sa

from diary.extensions import db
from diary.injections.models import InjectionRecord, ScheduledDose

# FIXED_NOW is 2026-11-25 09:30 UTC (10:30 in Paris): cure 2 day 1 with this start.
CURE2_TODAY_START = date(2026, 11, 11)


def dose(patient, cure, day) -> ScheduledDose:
    return db.session.execute(
        sa.select(ScheduledDose).filter_by(patient_id=patient.id, cure=cure, day=day)
    ).scalar_one()


def records(patient) -> list[InjectionRecord]:
    return list(db.session.execute(
        sa.select(InjectionRecord).filter_by(patient_id=patient.id).order_by(InjectionRecord.id)
    ).scalars())


def taken_payload(scheduled, **extra) -> dict:
    body = {"client_id": str(uuid.uuid4()), "scheduled_dose_id": scheduled.id, "taken": True,
            "taken_at": "2026-11-25T08:10:00+01:00", "dose_miu": 3.0, "site": "thigh_left",
            "lot": "A123", "administered_by": "self", "not_taken_reason": None, "note": ""}
    body.update(extra)
    return body
