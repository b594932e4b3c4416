"""The patient's reminder settings page and the coordinator's page of reminders sent."""
from datetime import UTC, datetime, time

import sqlalchemy as sa

from diary.audit.models import AuditEvent
from diary.extensions import db
from diary.notifications.services import deliver_due
from diary.reminders import services
from diary.reminders.models import ReminderPreference

VALID = {"injection_time": "08:15", "checkin_time": "19:30", "weekly_weekday": "5",
         "quiet_start": "23:00", "quiet_end": "06:30", "push_enabled": "y",
         "email_enabled": "y", "language": "fr"}


def prefs_of(patient):
    return db.session.execute(sa.select(ReminderPreference).where(
        ReminderPreference.patient_id == patient.id)).scalar_one_or_none()


def test_settings_one_tap_from_the_patient_pages_with_the_defaults(client, auth, world):
    auth.login("P-0001")
    home = client.get("/", follow_redirects=True)
    assert 'href="/settings"' in home.get_data(as_text=True)
    page = client.get("/settings")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for value in ('value="09:00"', 'value="20:00"', 'value="22:00"', 'value="07:00"'):
        assert value in html
    assert "no e-mail address" in html  # the patient gave none
    assert 'name="email_enabled"' not in html
    prefs = prefs_of(world["pat1"])
    assert (prefs.injection_time, prefs.checkin_time, prefs.quiet_start, prefs.quiet_end) == (
        time(9), time(20), time(22), time(7))
    assert prefs.push_enabled and prefs.weekly_weekday == 6


def test_saving_settings(client, auth, make_site, make_patient):
    patient = make_patient(make_site(), "P-0009", contact_email="p9@example.org")
    auth.login("P-0009")
    assert 'name="email_enabled"' in client.get("/settings").get_data(as_text=True)
    resp = client.post("/settings", data=VALID)
    assert resp.status_code == 302
    assert "Your reminder settings are saved." in client.get("/settings").get_data(as_text=True)
    prefs = prefs_of(patient)
    assert (prefs.injection_time, prefs.checkin_time, prefs.quiet_start, prefs.quiet_end,
            prefs.weekly_weekday, prefs.language, prefs.email_enabled) == (
        time(8, 15), time(19, 30), time(23), time(6, 30), 5, "fr", True)
    event = db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.action == "reminders.preferences")).scalar_one()
    assert '"injection_time":"08:15"' in event.after
    # unticking a box turns the channel off
    client.post("/settings", data={k: v for k, v in VALID.items() if k != "email_enabled"})
    db.session.expire_all()
    assert prefs_of(patient).email_enabled is False


def test_bad_settings_are_refused_with_a_message(client, auth, world):
    auth.login("P-0001")
    client.get("/settings")
    resp = client.post("/settings", data=dict(VALID, injection_time="25:00"))
    assert resp.status_code == 422
    assert 'aria-invalid="true"' in resp.get_data(as_text=True)
    resp = client.post("/settings", data=dict(VALID, checkin_time="23:30"))
    assert resp.status_code == 422
    assert "within your quiet hours" in resp.get_data(as_text=True)
    resp = client.post("/settings", data=dict(VALID, language="de"))
    assert resp.status_code == 422
    db.session.expire_all()
    assert prefs_of(world["pat1"]).injection_time == time(9)


def test_settings_page_is_for_patients(client, auth, world):
    assert client.get("/settings").status_code == 302  # to the login page
    auth.login("coord1@example.org")
    assert client.get("/settings").status_code == 403


def test_coordinator_sees_the_reminders_sent_and_their_outcome(client, auth, world, app):
    patient = world["pat1"]
    patient.contact_email = "p1@example.org"
    db.session.commit()
    now = datetime(2026, 11, 17, 8, 30, tzinfo=UTC)
    services.sweep(now)
    db.session.commit()
    deliver_due(now, "test-worker")  # no SMTP host: the log channel stands in
    services.sweep(datetime(2026, 11, 17, 10, 30, tzinfo=UTC))
    db.session.commit()

    auth.login("coord1@example.org")
    page = client.get(f"/staff/patients/{patient.id}/reminders")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Injection follow-up" in html and "Injection" in html
    assert "Delivered" in html and "Waiting" in html
    assert "17 Nov 2026, 09:30" in html  # queued, in the patient's time zone
    assert "p1@example.org" not in html  # the channel, not the address
    assert client.get(f"/staff/patients/{world['pat2'].id}/reminders").status_code == 404
    auth.logout()
    auth.login("inv1@example.org")
    assert client.get(f"/staff/patients/{patient.id}/reminders").status_code == 403
    auth.logout()
    auth.login("admin@example.org")
    assert client.get(f"/staff/patients/{patient.id}/reminders").status_code == 200


def test_coordinator_page_without_reminders(client, auth, world):
    auth.login("coord1@example.org")
    html = client.get(f"/staff/patients/{world['pat1b'].id}/reminders").get_data(as_text=True)
    assert "No reminder has been sent to this patient yet." in html
