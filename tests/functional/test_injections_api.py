"""GET /api/v1/me/schedule and POST /api/v1/injections, as api.md fixes them."""
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from diary.audit.models import AuditEvent
from diary.extensions import db
from tests.helpers_injections import CURE2_TODAY_START, dose, records, taken_payload


@pytest.fixture
def pat(make_site, make_patient, frozen_clock):
    site = make_site()
    return make_patient(site, "P-0007", cure1_start=CURE2_TODAY_START)


@pytest.fixture
def api(client, auth, pat):
    token = auth.api_login("P-0007")

    def post(body, **kw):
        return client.post("/api/v1/injections", json=body, headers={"X-CSRFToken": token}, **kw)

    return post


def test_schedule_lists_the_plan_with_statuses_and_expected_checkins(client, auth, pat):
    auth.api_login("P-0007")
    resp = client.get("/api/v1/me/schedule")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["protocol"] == "vascu-il2" and body["timezone"] == "Europe/Paris"
    doses = body["doses"]
    assert len(doses) == 20 and sum(d["dose_miu"] for d in doses) == 52.5
    first = doses[0]
    assert {k: first[k] for k in ("cure", "day", "date", "dose_miu", "setting", "status")} == {
        "cure": 1, "day": 1, "date": "2026-11-11", "dose_miu": 1.5, "setting": "hospital",
        "status": "missed"}
    assert doses[5]["date"] == "2026-11-25" and doses[5]["status"] == "due"
    assert doses[6]["status"] == "upcoming"
    expected = body["checkins_expected"]
    assert expected[0] == {"date": "2026-11-11", "kind": "daily"}
    assert {"date": "2026-11-18", "kind": "weekly"} in expected
    assert len([c for c in expected if c["kind"] == "daily"]) == 28


def test_schedule_needs_a_patient(client, auth, world):
    assert client.get("/api/v1/me/schedule").status_code == 401
    auth.api_login("inv1@example.org")
    resp = client.get("/api/v1/me/schedule")
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"


def test_record_a_dose_then_the_same_client_id_again_changes_nothing(api, pat):
    scheduled = dose(pat, 2, 1)
    body = taken_payload(scheduled)
    resp = api(body)
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert created["scheduled_dose_id"] == scheduled.id and created["taken"] is True
    assert created["late"] is False and created["taken_at"] == "2026-11-25T08:10:00+01:00"
    rec = records(pat)[0]
    assert rec.taken_at == datetime(2026, 11, 25, 7, 10, tzinfo=UTC)
    assert rec.taken_at_offset_minutes == 60 and rec.received_at.tzinfo is not None
    again = api({**body, "dose_miu": 1.0, "site": "arm_left"})
    assert again.status_code == 200
    assert again.get_json() == created
    assert len(records(pat)) == 1 and records(pat)[0].dose_miu == 3.0
    events = db.session.execute(sa.select(AuditEvent).filter_by(entity="injection_record")
                                ).scalars().all()
    assert len(events) == 1 and events[0].patient_id == pat.id


def test_a_second_record_of_a_dose_is_a_conflict(api, pat):
    scheduled = dose(pat, 2, 1)
    assert api(taken_payload(scheduled)).status_code == 201
    resp = api(taken_payload(scheduled))
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "already_recorded"
    assert len(records(pat)) == 1


def test_another_patients_dose_is_not_found(api, pat, make_patient):
    other = make_patient(pat.site, "P-0008", cure1_start=CURE2_TODAY_START)
    resp = api(taken_payload(dose(other, 2, 1)))
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"
    assert records(other) == []


@pytest.mark.parametrize("change,field", [
    ({"site": None}, "site"),
    ({"site": "knee"}, "site"),
    ({"dose_miu": None}, "dose_miu"),
    ({"dose_miu": 0}, "dose_miu"),
    ({"dose_miu": "three"}, "dose_miu"),
    ({"dose_miu": 50}, "dose_miu"),
    ({"taken_at": None}, "taken_at"),
    ({"taken_at": "yesterday"}, "taken_at"),
    ({"taken_at": "2026-11-25T08:10:00"}, "taken_at"),  # no UTC offset
    ({"taken_at": "2026-11-25T10:40:00+01:00"}, "taken_at"),  # 10 min in the future
    ({"taken_at": "2026-11-24T23:50:00+01:00"}, "taken_at"),  # the day before the dose
    ({"administered_by": "doctor"}, "administered_by"),
    ({"taken": "yes"}, "taken"),
    ({"lot": "x" * 41}, "lot"),
    ({"client_id": "not-a-uuid"}, "client_id"),
    ({"scheduled_dose_id": "12"}, "scheduled_dose_id"),
    ({"taken": False, "not_taken_reason": None}, "not_taken_reason"),
    ({"taken": False, "not_taken_reason": "lazy"}, "not_taken_reason"),
])
def test_invalid_values_are_422_naming_the_field(api, pat, change, field):
    resp = api(taken_payload(dose(pat, 2, 1), **change))
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["error"]["fields"]
    assert records(pat) == []


def test_clock_skew_of_a_few_minutes_is_accepted(api, pat):
    resp = api(taken_payload(dose(pat, 2, 1), taken_at="2026-11-25T10:34:00+01:00"))
    assert resp.status_code == 201


def test_malformed_json_is_400(api):
    resp = api(None, data="{not json", content_type="application/json")
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "malformed_json"


def test_hospital_doses_are_not_recorded_by_patients(api, pat):
    resp = api(taken_payload(dose(pat, 1, 1), taken_at="2026-11-11T09:00:00+01:00", dose_miu=1.5))
    assert resp.status_code == 422
    assert "scheduled_dose_id" in resp.get_json()["error"]["fields"]


def test_not_taken_needs_a_reason_and_is_refused_before_the_dose_day(api, pat):
    resp = api({"client_id": "6f1c2d3e-0000-4000-8000-000000000001",
                "scheduled_dose_id": dose(pat, 2, 2).id, "taken": False,
                "not_taken_reason": "no_drug"})
    assert resp.status_code == 422 and "taken" in resp.get_json()["error"]["fields"]
    resp = api({"client_id": "6f1c2d3e-0000-4000-8000-000000000002",
                "scheduled_dose_id": dose(pat, 2, 1).id, "taken": False,
                "not_taken_reason": "side_effect", "note": "fever"})
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["taken"] is False and body["not_taken_reason"] == "side_effect"
    assert body["dose_miu"] is None and body["late"] is False


def test_taken_the_day_after_is_accepted_and_late_after_24_hours(api, pat, frozen_clock):
    frozen_clock(datetime(2026, 11, 26, 8, 0, tzinfo=UTC))
    on_time = api(taken_payload(dose(pat, 2, 2), taken_at="2026-11-26T08:30:00+01:00"))
    assert on_time.status_code == 201 and on_time.get_json()["late"] is False
    frozen_clock(datetime(2026, 11, 26, 9, 30, tzinfo=UTC))
    late = api(taken_payload(dose(pat, 2, 1), taken_at="2026-11-25T08:10:00+01:00"))
    assert late.status_code == 201 and late.get_json()["late"] is True
    frozen_clock(datetime(2026, 11, 29, 9, 30, tzinfo=UTC))
    # cure 2 day 3 is on 11-27: two days after is outside the window
    too_far = api(taken_payload(dose(pat, 2, 3), taken_at="2026-11-29T08:00:00+01:00"))
    assert too_far.status_code == 422 and "taken_at" in too_far.get_json()["error"]["fields"]


def test_the_day_is_read_in_the_patients_time_zone_across_dst(client, auth, make_site,
                                                             make_patient, frozen_clock):
    # Cure 1 on 2027-03-14 puts cure 2 day 1 on Sunday 03-28, when Paris moves to summer time.
    site = make_site()
    pat = make_patient(site, "P-0009", cure1_start=date(2027, 3, 14))
    frozen_clock(datetime(2027, 3, 28, 7, 0, tzinfo=UTC))  # 09:00 in Paris (CEST)
    token = auth.api_login("P-0009")
    scheduled = dose(pat, 2, 1)
    assert scheduled.planned_date == date(2027, 3, 28)

    def post(taken_at, cid):
        return client.post("/api/v1/injections", headers={"X-CSRFToken": token},
                           json=taken_payload(scheduled, taken_at=taken_at,
                                              client_id=f"6f1c2d3e-0000-4000-8000-00000000000{cid}"))

    # 22:30 UTC on 03-27 is 23:30 in Paris on the 27th: the day before the dose.
    assert post("2027-03-27T22:30:00Z", 1).status_code == 422
    # 23:30 UTC is 00:30 in Paris on the 28th: the dose's day, though the 27th in UTC.
    assert post("2027-03-27T23:30:00Z", 2).status_code == 201
    rec = records(pat)[0]
    assert rec.taken_at == datetime(2027, 3, 27, 23, 30, tzinfo=UTC)
    assert rec.taken_at_offset_minutes == 0
    sched = client.get("/api/v1/me/schedule").get_json()
    assert [d["status"] for d in sched["doses"]][5:7] == ["taken", "upcoming"]
