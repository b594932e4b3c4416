"""The coordinators' daily adherence summary: missed home dose, two missing check-ins."""
import uuid
from datetime import date

import sqlalchemy as sa

from diary.checkins.models import CheckIn
from diary.extensions import db
from diary.injections import services as injections
from diary.injections.models import ScheduledDose
from diary.notifications.adherence import send_daily_summaries
from diary.notifications.models import OutboxMessage
from tests.conftest import FIXED_NOW

# FIXED_NOW is 2026-11-25 in Paris; with cure 1 on 2026-11-08, cure 2 (home doses, daily
# check-ins) runs from 2026-11-22: yesterday, 2026-11-24, was its day 3.
CURE1 = date(2026, 11, 8)
YESTERDAY = date(2026, 11, 24)


def _checkin(patient, day):
    db.session.add(CheckIn(patient_id=patient.id, client_id=str(uuid.uuid4()), diary_date=day,
                           received_at=FIXED_NOW, warning_signs=[], note="", source="api"))
    db.session.commit()


def _take_yesterdays_dose(patient):
    dose = db.session.execute(sa.select(ScheduledDose).where(
        ScheduledDose.patient_id == patient.id, ScheduledDose.planned_date == YESTERDAY)
    ).scalar_one()
    injections.record_injection(
        patient=patient, dose=dose, client_id=str(uuid.uuid4()), actor=patient.user,
        now=FIXED_NOW, values={"taken": True, "taken_at": "2026-11-24T08:10:00+01:00",
                               "dose_miu": 3.0, "site": "thigh_left",
                               "administered_by": "self"})
    db.session.commit()


def test_one_summary_per_site_to_its_coordinators(app, make_site, make_staff, make_patient):
    site = make_site("Site One", language="en")  # the body is split on its English words
    other = make_site("Site Two")
    make_staff("coordinator", "coord-a@example.org", [site])
    make_staff("coordinator", "coord-b@example.org", [site])
    make_staff("investigator", "inv@example.org", [site])
    make_staff("coordinator", "coord-two@example.org", [other])
    lapsed = make_patient(site, "P-0001", cure1_start=CURE1)
    on_track = make_patient(site, "P-0002", cure1_start=CURE1)
    make_patient(site, "P-0003", cure1_start=date(2026, 11, 25))  # starts today: nothing due
    make_patient(other, "P-0101", cure1_start=date(2026, 11, 25))
    _take_yesterdays_dose(on_track)
    _checkin(on_track, date(2026, 11, 23))
    _checkin(lapsed, date(2026, 11, 21))  # before the pair: does not count

    assert send_daily_summaries(FIXED_NOW) == 2
    msgs = db.session.execute(sa.select(OutboxMessage).order_by(OutboxMessage.recipient)
                              ).scalars().all()
    assert [m.recipient for m in msgs] == ["coord-a@example.org", "coord-b@example.org"]
    body = msgs[0].body
    dose_part, checkin_part = body.split("Two expected check-ins missing")
    assert "P-0001" in dose_part and "P-0001" in checkin_part
    assert "P-0002" not in body and "P-0003" not in body and "P-0101" not in body
    assert msgs[0].kind == "adherence_summary" and msgs[0].site_id == site.id
    # once a day, however often the job runs
    assert send_daily_summaries(FIXED_NOW) == 0


def test_nothing_to_report_sends_nothing(app, make_site, make_staff, make_patient):
    site = make_site("Site One")
    make_staff("coordinator", "coord-a@example.org", [site])
    patient = make_patient(site, "P-0001", cure1_start=CURE1)
    _take_yesterdays_dose(patient)
    _checkin(patient, YESTERDAY)
    assert send_daily_summaries(FIXED_NOW) == 0


def test_one_missing_checkin_is_not_yet_a_signal(app, make_site, make_staff, make_patient):
    site = make_site("Site One")
    make_staff("coordinator", "coord-a@example.org", [site])
    patient = make_patient(site, "P-0001", cure1_start=CURE1)
    _take_yesterdays_dose(patient)
    _checkin(patient, date(2026, 11, 23))  # yesterday missing only
    assert send_daily_summaries(FIXED_NOW) == 0
