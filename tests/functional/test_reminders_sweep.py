"""The reminder sweep against a real SMTP server (aiosmtpd on 127.0.0.1).

Cure 1 starts on Monday 2 November 2026 (Paris): cure 2 (home) runs 16-20
November. At 08:30 UTC on Tuesday 17 November (09:30 in Paris) the injection
reminder of that day's dose is due; at 10:30 UTC its follow-up.
"""
import uuid
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from diary.accounts.staff_services import withdraw_patient
from diary.checkins.models import CheckIn
from diary.extensions import db
from diary.injections.models import ScheduledDose
from diary.injections.services import record_injection
from diary.notifications.models import OutboxMessage
from diary.notifications.services import deliver_due
from diary.reminders import services
from diary.reminders.models import ReminderPreference
from diary.scheduler import Runner, reminder_job

START = date(2026, 11, 2)
DOSE_DAY = date(2026, 11, 17)
AT_0830 = datetime(2026, 11, 17, 8, 30, tzinfo=UTC)
AT_1030 = datetime(2026, 11, 17, 10, 30, tzinfo=UTC)
BODY = "Your diary: an entry is waiting. Open: http://diary.test/"


@pytest.fixture
def site(make_site):
    return make_site("Paris site")


def dose_of(patient, day=DOSE_DAY) -> ScheduledDose:
    return db.session.execute(sa.select(ScheduledDose).where(
        ScheduledDose.patient_id == patient.id, ScheduledDose.planned_date == day)).scalar_one()


def record_dose(patient, now):
    record_injection(patient=patient, dose=dose_of(patient), client_id=str(uuid.uuid4()),
                     actor=patient.user, now=now,
                     values={"taken": True, "taken_at": now.isoformat(), "dose_miu": 3.0,
                             "site": "thigh_left", "administered_by": "self"})
    db.session.commit()


def sweep(now):
    report = services.sweep(now)
    db.session.commit()
    return report


def reminder_rows():
    return db.session.execute(sa.select(OutboxMessage).where(OutboxMessage.kind == "reminder")
                              .order_by(OutboxMessage.id)).scalars().all()


def deliver(now, smtp, count):
    deliver_due(now, "test-worker")
    assert smtp.handler.wait_for(count)
    return smtp.messages


def test_sweep_delivers_exactly_the_due_reminders(site, make_patient, smtp):
    due = make_patient(site, "P-0001", START, contact_email="due@example.org")
    done = make_patient(site, "P-0002", START, contact_email="done@example.org")
    make_patient(site, "P-0003", START)  # no e-mail, no phone: no channel
    gone = make_patient(site, "P-0004", START, contact_email="gone@example.org")
    make_patient(site, "P-0005", START, contact_email="ny@example.org",
                 timezone="America/New_York")  # 03:30 there: quiet hours
    make_patient(site, "P-0006", date(2026, 11, 20), contact_email="later@example.org")
    record_dose(done, datetime(2026, 11, 17, 7, 0, tzinfo=UTC))
    withdraw_patient(gone, reason="consent withdrawn", actor=None, now=AT_0830)
    db.session.commit()

    report = sweep(AT_0830)
    assert report.enqueued == 1
    rows = reminder_rows()
    assert [(r.recipient, r.dedupe_key) for r in rows] == [
        ("due@example.org", f"reminder:{due.id}:dose:{dose_of(due).id}:2026-11-17:first")]

    messages = deliver(AT_0830, smtp, 1)
    assert len(messages) == 1
    mail = messages[0]
    assert mail["To"] == "due@example.org"
    assert mail["Subject"] == "Your diary"
    text = mail.get_content().strip()
    assert text == BODY
    for health_word in ("P-0001", "inject", "dose", "IL-2", "check-in"):
        assert health_word.lower() not in (text + mail["Subject"]).lower()
    assert reminder_rows()[0].status == "sent"


def test_second_sweep_sends_nothing_twice_and_follow_up_comes_once(site, make_patient, smtp):
    patient = make_patient(site, "P-0001", START, contact_email="p1@example.org")
    sweep(AT_0830)
    assert sweep(AT_0830.replace(minute=31)).enqueued == 0
    deliver(AT_0830, smtp, 1)
    assert sweep(AT_0830.replace(minute=45)).enqueued == 0

    assert sweep(AT_1030).enqueued == 1  # the follow-up, two hours after 09:00
    assert sweep(AT_1030.replace(minute=31)).enqueued == 0
    deliver(AT_1030, smtp, 2)
    keys = [r.dedupe_key.rsplit(":", 1)[1] for r in reminder_rows()]
    assert keys == ["first", "followup"]

    record_dose(patient, AT_1030.replace(minute=40))
    assert sweep(AT_1030.replace(hour=12)).enqueued == 0
    deliver_due(AT_1030.replace(hour=12), "test-worker")
    assert len(smtp.messages) == 2


def test_restart_in_the_middle_of_a_sweep_loses_nothing_and_duplicates_nothing(
        app, site, make_patient, smtp, monkeypatch):
    patients = [make_patient(site, f"P-00{i:02d}", START, contact_email=f"p{i}@example.org")
                for i in range(1, 6)]
    runner = Runner(app, holder="scheduler-a")
    assert runner.beat(AT_0830)

    # The first scheduler dies after writing part of the batch: its transaction rolls back.
    original = services._insert_new
    monkeypatch.setattr(services, "CHUNK", 2)

    def crash_midway(rows):
        original(rows[:2])
        raise RuntimeError("killed mid-sweep")

    monkeypatch.setattr(services, "_insert_new", crash_midway)
    assert runner.run(reminder_job, AT_0830)
    assert reminder_rows() == []  # nothing half-written

    # Restarted: the next minute's sweep enqueues every due reminder once.
    monkeypatch.setattr(services, "_insert_new", original)
    assert runner.beat(AT_0830.replace(minute=31))
    assert runner.run(reminder_job, AT_0830.replace(minute=31))
    rows = reminder_rows()
    assert sorted(r.recipient for r in rows) == sorted(p.contact_email for p in patients)
    assert len({r.dedupe_key for r in rows}) == 5

    # A second scheduler that read the outbox before the first committed: the unique
    # dedupe key still stops every duplicate.
    monkeypatch.setattr(services, "_existing_keys", lambda keys: set())
    services.sweep(AT_0830.replace(minute=32))
    db.session.commit()
    assert len(reminder_rows()) == 5

    messages = deliver(AT_0830.replace(minute=35), smtp, 5)
    assert sorted(m["To"] for m in messages) == sorted(p.contact_email for p in patients)
    assert runner.beat(AT_0830.replace(minute=40))
    assert runner.run(reminder_job, AT_0830.replace(minute=40))
    deliver_due(AT_0830.replace(minute=40), "test-worker")
    assert len(smtp.messages) == 5


def test_checkin_reminders_follow_the_cadence(site, make_patient, smtp):
    waiting = make_patient(site, "P-0001", START, contact_email="waiting@example.org")
    done = make_patient(site, "P-0002", START, contact_email="done@example.org")
    db.session.add(CheckIn(patient_id=done.id, client_id=str(uuid.uuid4()),
                           diary_date=DOSE_DAY, received_at=AT_0830))
    db.session.commit()
    evening = datetime(2026, 11, 17, 19, 5, tzinfo=UTC)  # 20:05 in Paris
    sweep(evening)
    rows = reminder_rows()
    checkins = [r for r in rows if ":checkin:" in r.dedupe_key]
    assert [(r.recipient, r.dedupe_key) for r in checkins] == [
        ("waiting@example.org", f"reminder:{waiting.id}:checkin:2026-11-17")]
    # Between cures (week of 23 November): one weekly reminder, on Sunday evening.
    wednesday = datetime(2026, 11, 25, 19, 5, tzinfo=UTC)
    assert sweep(wednesday).enqueued == 0
    sunday = datetime(2026, 11, 29, 19, 5, tzinfo=UTC)
    assert sweep(sunday).enqueued == 2
    assert {r.dedupe_key for r in reminder_rows()} >= {
        f"reminder:{waiting.id}:checkin:2026-11-23", f"reminder:{done.id}:checkin:2026-11-23"}


def test_preferences_choose_time_channel_and_language(site, make_patient, smtp):
    patient = make_patient(site, "P-0001", START, contact_email="p1@example.org")
    services.update_preferences(patient, {
        "injection_time": "11:00", "checkin_time": "20:00", "quiet_start": "22:00",
        "quiet_end": "07:00", "weekly_weekday": 6, "language": "fr",
        "email_enabled": True, "push_enabled": True}, actor=patient.user, now=AT_0830)
    db.session.commit()
    assert sweep(AT_0830).enqueued == 0  # 09:30 in Paris, reminder chosen at 11:00
    assert sweep(AT_0830.replace(hour=10)).enqueued == 1
    row = reminder_rows()[0]
    assert (row.subject, row.body) == services.texts("fr", "http://diary.test/")

    prefs = db.session.execute(sa.select(ReminderPreference)).scalar_one()
    prefs.email_enabled = False
    db.session.commit()
    assert sweep(datetime(2026, 11, 18, 10, 0, tzinfo=UTC)).enqueued == 0


def test_sweep_with_no_patient_does_nothing(app):
    assert services.sweep(AT_0830).enqueued == 0
