"""A constructed history for the dashboard tests (exact figures are asserted on it).

Today is FIXED_NOW's diary day, 2026-11-25 (Europe/Paris); cure 1 starts on
Monday 2026-11-02, so cures 1 (hospital) and 2 (home, 16-20 Nov) are due.
"""
import uuid
from datetime import UTC, date, timedelta

import sqlalchemy as sa

from diary.clock import at_local
from diary.extensions import db


def dose_of(patient, cure: int, day: int):
    from diary.injections.models import ScheduledDose
    return db.session.execute(sa.select(ScheduledDose).where(
        ScheduledDose.patient_id == patient.id, ScheduledDose.cure == cure,
        ScheduledDose.day == day)).scalar_one()


def take(patient, cure: int, day: int, *, on: date | None = None, actor=None):
    """Record the dose taken at 09:00 local on `on` (default: its planned day)."""
    from diary.injections.services import record_injection
    dose = dose_of(patient, cure, day)
    when = at_local(on or dose.planned_date, 9, 0, patient.tz)
    rec, _ = record_injection(
        patient=patient, dose=dose, client_id=str(uuid.uuid4()),
        values={"taken": True, "taken_at": when.isoformat(), "dose_miu": float(dose.dose_miu),
                "site": "thigh_left", "administered_by": "self"},
        actor=actor or patient.user, now=when + timedelta(minutes=5),
        by_staff=dose.setting == "hospital")
    return rec


def not_taken(patient, cure: int, day: int, reason: str = "side_effect"):
    from diary.injections.services import record_injection
    dose = dose_of(patient, cure, day)
    when = at_local(dose.planned_date, 21, 0, patient.tz)
    rec, _ = record_injection(patient=patient, dose=dose, client_id=str(uuid.uuid4()),
                              values={"taken": False, "not_taken_reason": reason},
                              actor=patient.user, now=when)
    return rec


def check_in(patient, day: date, **values):
    from diary.checkins.services import record_checkin
    data = {"client_id": str(uuid.uuid4()), "diary_date": day.isoformat(), **values}
    return record_checkin(patient, data, actor=patient.user,
                          now=at_local(day, 20, 0, patient.tz)).checkin


def reminder(patient, status: str, created):
    from diary.notifications.models import OutboxMessage
    msg = OutboxMessage(channel="email", recipient="p@example.org", kind="reminder",
                        subject="Reminder", body="Time for your check-in", patient_id=patient.id,
                        site_id=patient.site_id, status=status, next_attempt_at=created,
                        created_at=created, sent_at=created if status == "sent" else None)
    db.session.add(msg)
    return msg


def build_history(patient):
    """P-0001's story: see test_dashboards_adherence for the figures it must give."""
    nov = lambda d: date(2026, 11, d)  # noqa: E731
    for day in range(1, 6):
        take(patient, 1, day)  # cure 1, in hospital
    take(patient, 2, 1)
    take(patient, 2, 2)
    take(patient, 2, 3, on=nov(19))  # the day after its planned day: not on time
    # cure 2 day 4 (19 Nov): no record -> missed
    not_taken(patient, 2, 5)
    for d in range(2, 9):
        check_in(patient, nov(d), symptoms={"asthenia": 1})
    check_in(patient, nov(12))  # the weekly one of 9-15 Nov
    check_in(patient, nov(16), temperature_c=37.2)
    check_in(patient, nov(17), temperature_c=39.2)  # U1: urgent alert, left open
    check_in(patient, nov(17), temperature_c=37.9)  # an extra one: never counts
    check_in(patient, nov(18))
    check_in(patient, nov(20))
    check_in(patient, nov(24))  # fulfils the weekly one of 23-29 Nov early
    from datetime import datetime
    reminder(patient, "sent", datetime(2026, 11, 23, 19, 0, tzinfo=UTC))
    reminder(patient, "failed", datetime(2026, 11, 24, 19, 0, tzinfo=UTC))
    db.session.commit()
