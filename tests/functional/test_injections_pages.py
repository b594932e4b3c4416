"""The patient's Today, record and calendar pages; staff plan, changes and corrections."""
import json
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from diary.audit.models import AuditEvent
from diary.extensions import db
from diary.injections.models import ScheduledDose
from tests.helpers_injections import CURE2_TODAY_START, dose, records


@pytest.fixture
def site(make_site, frozen_clock):
    return make_site("Site One")


@pytest.fixture
def pat(site, make_patient):
    return make_patient(site, "P-0007", cure1_start=CURE2_TODAY_START)


@pytest.fixture
def coord(site, make_staff):
    return make_staff("coordinator", "coord@example.org", [site])


def _taken_form(**extra):
    form = {"client_id": "", "taken_at": "2026-11-25T08:10", "dose_miu": "3",
            "site": "thigh_left", "administered_by": "self", "lot": "A1", "note": "",
            "not_taken_reason": "", "action": "taken"}
    form.update(extra)
    return form


def _events(action):
    return db.session.execute(sa.select(AuditEvent).filter_by(action=action)
                              .order_by(AuditEvent.id)).scalars().all()


def test_enrolment_materialises_the_plan_and_audits_it(pat):
    doses = db.session.execute(sa.select(ScheduledDose).filter_by(patient_id=pat.id)).scalars().all()
    assert len(doses) == 20 and sum(d.dose_miu for d in doses) == 52.5
    plan_event = _events("plan")[0]
    assert json.loads(plan_event.after)["total_miu"] == 52.5
    assert plan_event.patient_id == pat.id


def test_patient_home_is_today_with_the_due_dose(client, auth, pat):
    auth.login("P-0007")
    resp = client.get("/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/today")
    page = client.get("/today").get_data(as_text=True)
    assert "Cure 2, day 1" in page
    assert "Today's dose: 3 MIU, at home." in page
    assert "Due today" in page
    assert f'href="/doses/{dose(pat, 2, 1).id}/record"' in page


def test_today_shows_the_next_dose_when_none_is_due(client, auth, site, make_patient):
    make_patient(site, "P-0008", cure1_start=date(2026, 11, 2))  # between cures 2 and 3
    auth.login("P-0008")
    page = client.get("/today").get_data(as_text=True)
    assert "No injection today" in page
    assert "Next dose: Cure 3, day 1 on Monday, December 7, 2026" in page


def test_record_page_prefills_now_dose_and_a_rotated_site(client, auth, pat):
    auth.login("P-0007")
    page = client.get(f"/doses/{dose(pat, 2, 1).id}/record").get_data(as_text=True)
    assert 'value="2026-11-25T10:30"' in page  # FIXED_NOW in Paris
    assert 'name="dose_miu" type="text" value="3"' in page
    assert '<option selected value="abdomen_left">' in page
    resp = client.post(f"/doses/{dose(pat, 2, 1).id}/record", data=_taken_form(site="abdomen_left"))
    assert resp.status_code == 302
    rec = records(pat)[0]
    assert rec.taken and rec.site == "abdomen_left" and rec.taken_at_offset_minutes == 60
    assert rec.taken_at == datetime(2026, 11, 25, 7, 10, tzinfo=UTC)
    assert rec.recorded_by_id == pat.user_id
    today = client.get("/today").get_data(as_text=True)
    assert "Dose recorded" in today and "Recorded: injected at 08:10." in today
    page = client.get(f"/doses/{dose(pat, 2, 2).id}/record")
    assert page.status_code == 200  # tomorrow's dose page opens; saving it would be refused
    assert '<option selected value="abdomen_right">' in page.get_data(as_text=True)


def test_record_page_refuses_bad_input_and_stores_nothing(client, auth, pat):
    auth.login("P-0007")
    url = f"/doses/{dose(pat, 2, 1).id}/record"
    resp = client.post(url, data=_taken_form(taken_at="2026-11-25T11:30", dose_miu="0"))
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "cannot be in the future" in page and "must be more than 0" in page
    # the patient reads the messages beside the fields, not the API's field codes
    assert "Please check the marked answers." in page
    assert "dose_miu, taken_at" not in page
    assert records(pat) == []


def test_not_taken_needs_a_reason(client, auth, pat):
    auth.login("P-0007")
    url = f"/doses/{dose(pat, 2, 1).id}/record"
    resp = client.post(url, data=_taken_form(action="not_taken"))
    assert resp.status_code == 422
    assert "required: say why the dose was not taken" in resp.get_data(as_text=True)
    assert records(pat) == []
    resp = client.post(url, data=_taken_form(action="not_taken", not_taken_reason="no_drug"))
    assert resp.status_code == 302
    rec = records(pat)[0]
    assert not rec.taken and rec.not_taken_reason == "no_drug" and rec.dose_miu is None
    calendar = client.get("/calendar").get_data(as_text=True)
    assert "Not taken" in calendar


def test_patients_never_record_twice_nor_hospital_doses_nor_others_doses(
        client, auth, pat, site, make_patient):
    other = make_patient(site, "P-0008", cure1_start=CURE2_TODAY_START)
    auth.login("P-0007")
    url = f"/doses/{dose(pat, 2, 1).id}/record"
    assert client.post(url, data=_taken_form()).status_code == 302
    resp = client.post(url, data=_taken_form(client_id="6f1c2d3e-0000-4000-8000-000000000009"))
    assert resp.status_code == 409 and "already recorded" in resp.get_data(as_text=True)
    hospital = client.post(f"/doses/{dose(pat, 1, 1).id}/record",
                           data=_taken_form(taken_at="2026-11-11T09:00", dose_miu="1.5"))
    assert hospital.status_code == 422
    assert "given in hospital" in hospital.get_data(as_text=True)
    assert client.get(f"/doses/{dose(other, 2, 1).id}/record").status_code == 404
    assert len(records(pat)) == 1 and records(other) == []


def test_calendar_shows_every_dose_with_its_status(client, auth, pat):
    auth.login("P-0007")
    page = client.get("/calendar").get_data(as_text=True)
    for n in (1, 2, 3, 4):
        assert f"Cure {n}</h2>" in page
    assert page.count('class="badge dose-status') == 20
    assert page.count("Missed") == 5  # hospital cure 1, not recorded by the team
    assert page.count("Due today") == 1 and page.count("Upcoming") == 14


def test_staff_plan_is_scoped(client, auth, pat, make_site, make_staff):
    other_site = make_site("Site Two")
    make_staff("coordinator", "coord2@example.org", [other_site])
    auth.login("coord2@example.org")
    assert client.get(f"/patients/{pat.id}/plan").status_code == 404
    assert "P-0007" not in client.get("/plans").get_data(as_text=True)
    auth.logout()
    auth.login("P-0007")
    assert client.get(f"/patients/{pat.id}/plan").status_code == 403


def test_coordinator_shifts_a_cure_with_a_reason(client, auth, pat, coord):
    auth.login("coord@example.org")
    page = client.get(f"/patients/{pat.id}/plan").get_data(as_text=True)
    assert "P-0007" in page and "Shift a cure" in page
    url = f"/patients/{pat.id}/plan/shift"
    resp = client.post(url, data={"cure": "3", "new_start": "2026-12-23", "reason": ""})
    assert resp.status_code == 422 and dose(pat, 3, 1).planned_date == date(2026, 12, 16)
    resp = client.post(url, data={"cure": "3", "new_start": "2026-12-23",
                                  "reason": "infection, antibiotics"})
    assert resp.status_code == 302
    assert dose(pat, 3, 1).planned_date == date(2026, 12, 23)
    assert dose(pat, 3, 1).original_date == date(2026, 12, 16)
    assert dose(pat, 4, 5).planned_date == date(2027, 1, 17)  # + 7 days, interval kept
    assert dose(pat, 2, 5).planned_date == date(2026, 11, 29)  # earlier cure unchanged
    event = _events("shift_cure")[0]
    assert event.reason == "infection, antibiotics"
    assert json.loads(event.before)["dates"]["C3D1"] == "2026-12-16"
    assert json.loads(event.after)["dates"]["C3D1"] == "2026-12-23"
    # cannot overlap the previous cure
    resp = client.post(url, data={"cure": "3", "new_start": "2026-11-28", "reason": "x"})
    assert resp.status_code == 422
    assert "must start after cure 2 ends" in resp.get_data(as_text=True)


def test_a_cure_with_a_recorded_dose_cannot_move(client, auth, pat, coord):
    auth.login("P-0007")
    client.post(f"/doses/{dose(pat, 2, 1).id}/record", data=_taken_form())
    auth.logout()
    auth.login("coord@example.org")
    resp = client.post(f"/patients/{pat.id}/plan/shift",
                       data={"cure": "2", "new_start": "2026-12-01", "reason": "fever"})
    assert resp.status_code == 409
    assert dose(pat, 2, 2).planned_date == date(2026, 11, 26)


def test_coordinator_changes_a_dose_with_a_reason(client, auth, pat, coord):
    auth.login("coord@example.org")
    target = dose(pat, 3, 2)
    resp = client.post(f"/patients/{pat.id}/plan/dose",
                       data={"dose_id": str(target.id), "dose_miu": "1.5",
                             "rest_of_cure": "y", "reason": "poor tolerance"})
    assert resp.status_code == 302
    assert [dose(pat, 3, d).dose_miu for d in range(1, 6)] == [3.0, 1.5, 1.5, 1.5, 1.5]
    assert dose(pat, 3, 2).version == 2
    event = _events("change_dose")[0]
    assert event.reason == "poor tolerance"
    assert json.loads(event.before)["dose_miu"]["C3D2"] == 3.0


def test_a_dose_that_would_be_stored_as_zero_is_refused(client, auth, pat, coord):
    """0.001 MIU is more than 0, but kept to 0.01 MIU it is 0: a 422, not a 500 from the
    database's check (found by hypothesis on PostgreSQL)."""
    auth.login("coord@example.org")
    target = dose(pat, 3, 2)
    for amount in (".001", "0.004", "inf"):
        resp = client.post(f"/patients/{pat.id}/plan/dose",
                           data={"dose_id": str(target.id), "dose_miu": amount,
                                 "reason": "tolerance"})
        assert resp.status_code == 422, amount
        assert dose(pat, 3, 2).dose_miu == 3.0 and dose(pat, 3, 2).version == 1
    assert _events("change_dose") == []


def test_staff_record_a_hospital_dose_and_correct_it_with_a_reason(client, auth, pat, coord):
    auth.login("coord@example.org")
    hospital = dose(pat, 1, 1)
    resp = client.post(f"/patients/{pat.id}/doses/{hospital.id}/record",
                       data=_taken_form(taken_at="2026-11-11T09:00", dose_miu="1.5",
                                        administered_by="nurse"))
    assert resp.status_code == 302
    first = records(pat)[0]
    assert first.taken and first.late and first.recorded_by_id == coord.id
    url = f"/patients/{pat.id}/injections/{first.id}/correct"
    form = {"taken": "yes", "taken_at": "2026-11-11T09:00", "dose_miu": "1.0",
            "site": "arm_left", "administered_by": "nurse", "lot": "", "note": "",
            "not_taken_reason": ""}
    resp = client.post(url, data={**form, "reason": ""})
    assert resp.status_code == 422 and len(records(pat)) == 1
    resp = client.post(url, data={**form, "reason": "dose misread on the chart"})
    assert resp.status_code == 302
    old, new = records(pat)
    assert old.superseded_at is not None and old.dose_miu == 1.5
    assert new.version == 2 and new.supersedes_id == old.id and new.dose_miu == 1.0
    event = _events("correct")[0]
    assert event.reason == "dose misread on the chart"
    assert json.loads(event.before)["dose_miu"] == 1.5 and json.loads(event.after)["dose_miu"] == 1.0
    page = client.get(f"/patients/{pat.id}/plan").get_data(as_text=True)
    assert "corrected, v2" in page
    assert client.post(url, data={**form, "reason": "again"}).status_code == 409  # old version
    auth.logout()
    auth.login("P-0007")
    assert client.get(f"/patients/{pat.id}/injections/{new.id}/correct").status_code == 403


def test_page_form_reads_local_time_across_the_dst_change(client, auth, site, make_patient,
                                                        frozen_clock):
    pat = make_patient(site, "P-0009", cure1_start=date(2027, 3, 14))
    frozen_clock(datetime(2027, 3, 28, 7, 0, tzinfo=UTC))
    auth.login("P-0009")
    resp = client.post(f"/doses/{dose(pat, 2, 1).id}/record",
                       data=_taken_form(taken_at="2027-03-28T08:10"))
    assert resp.status_code == 302
    rec = records(pat)[0]
    assert rec.taken_at == datetime(2027, 3, 28, 6, 10, tzinfo=UTC)
    assert rec.taken_at_offset_minutes == 120


def test_demo_history_has_taken_not_taken_and_missed_doses(app, frozen_clock):
    from diary import demo
    from diary.accounts.models import Patient
    from diary.injections import services
    demo.populate()
    p2 = db.session.execute(sa.select(Patient).filter_by(study_code="P-0002")).scalar_one()
    statuses = [r.status for r in services.plan_rows(p2, frozen_clock.state["now"])]
    assert statuses.count("not_taken") == 1 and statuses.count("missed") == 1
    assert statuses.count("taken") == 13
