"""POST/GET /api/v1/checkins: the contract of api.md, windows, idempotence, bad input."""
import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from diary.alerts.models import Alert, AlertEvidence
from diary.audit.models import AuditEvent
from diary.checkins.models import CheckIn, CheckInSymptom
from diary.extensions import db
from tests.helpers_checkins import body, count


@pytest.fixture
def patient_client(client, auth, world, frozen_clock):
    auth.api_login("P-0001")
    return client


def post(client, data):
    return client.post("/api/v1/checkins", json=data)


def test_a_quiet_checkin_is_stored_with_no_alert(patient_client, world):
    resp = post(patient_client, body())
    assert resp.status_code == 201, resp.get_json()
    got = resp.get_json()
    assert got["diary_date"] == "2026-11-25" and got["late"] is False
    assert got["alerts"] == [] and got["advice"] == "none"
    stored = CheckIn.query.one()
    assert stored.patient_id == world["pat1"].id
    assert stored.grades == {"purpura": 0, "arthralgia": 1, "asthenia": 1}
    assert stored.device_utc_offset_min == 60
    assert stored.device_recorded_at == datetime(2026, 11, 25, 9, 5, tzinfo=UTC)
    assert stored.received_at == datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
    assert count(AuditEvent) >= 1


def test_the_contract_example_raises_d2_and_r2(patient_client):
    resp = post(patient_client, body(temperature_c=38.4,
                                     symptoms={"purpura": 1, "arthralgia": 2, "asthenia": 2},
                                     new_or_worse=["purpura"],
                                     injection_site={"diameter_cm": 3.0, "ulceration": False},
                                     note="spots on both ankles"))
    assert resp.status_code == 201
    got = resp.get_json()
    assert [(a["rule"], a["tier"]) for a in got["alerts"]] == [
        ("D2", "within_24h"), ("R1", "routine"), ("R2", "routine"), ("R3", "routine")]
    assert got["advice"] == "contact_team_today"
    alert = Alert.query.filter_by(rule="D2").one()
    assert alert.id == got["alerts"][0]["id"]
    assert alert.status == "open" and alert.tier == "within_24h"
    assert alert.checkin_id == got["id"]
    assert alert.evidence[0].values == {"purpura": 1, "new_or_worse": True}


def test_urgent_advice_for_39(patient_client):
    got = post(patient_client, body(temperature_c=39.0)).get_json()
    assert got["alerts"][0]["rule"] == "U1" and got["advice"] == "call_team_now"


def test_same_client_id_again_returns_the_stored_result(patient_client):
    data = body(temperature_c=39.2)
    first = post(patient_client, data)
    again = post(patient_client, dict(data, temperature_c=36.0))
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json() == first.get_json()
    assert count(CheckIn) == 1 and count(Alert) == 1 and count(AlertEvidence) == 1
    assert CheckIn.query.one().temperature_c == 39.2


def test_same_rule_same_day_adds_evidence_not_a_second_alert(patient_client, frozen_clock):
    first = post(patient_client, body(temperature_c=39.1)).get_json()
    frozen_clock(datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    second = post(patient_client, body(temperature_c=39.6)).get_json()
    assert second["alerts"] == first["alerts"]  # same alert id, listed for this check-in too
    assert count(Alert) == 1
    alert = Alert.query.one()
    assert [e.values["temperature_c"] for e in alert.evidence] == [39.1, 39.6]
    assert alert.checkin_id == first["id"]


def test_same_rule_next_day_raises_a_new_alert(patient_client, frozen_clock):
    post(patient_client, body(temperature_c=39.1))
    frozen_clock(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
    got = post(patient_client, body(diary_date="2026-11-26", temperature_c=39.3)).get_json()
    assert [a["rule"] for a in got["alerts"]] == ["U1", "D1"]
    assert count(Alert) == 3


def test_on_alert_raised_hooks_see_new_alerts_only(app, patient_client, frozen_clock):
    seen = []
    app.extensions.setdefault("diary.on_alert_raised", []).append(
        lambda alert, now: seen.append((alert.rule, now)))
    post(patient_client, body(temperature_c=39.1))
    post(patient_client, body(temperature_c=39.4))
    assert seen == [("U1", datetime(2026, 11, 25, 9, 30, tzinfo=UTC))]


def test_fever_across_midnight_in_paris_is_two_diary_days(patient_client, frozen_clock):
    # 23:30 in Paris on the 24th, then 00:30 in Paris on the 25th: the same UTC day
    frozen_clock(datetime(2026, 11, 24, 22, 30, tzinfo=UTC))
    first = post(patient_client, body(diary_date="2026-11-24", temperature_c=38.2)).get_json()
    assert [a["rule"] for a in first["alerts"]] == ["R1"]
    frozen_clock(datetime(2026, 11, 24, 23, 30, tzinfo=UTC))
    second = post(patient_client, body(diary_date="2026-11-25", temperature_c=38.1)).get_json()
    assert second["late"] is False
    assert [a["rule"] for a in second["alerts"]] == ["D1"]
    assert second["advice"] == "contact_team_today"


def test_yesterday_is_accepted_and_flagged_late(patient_client):
    resp = post(patient_client, body(diary_date="2026-11-24"))
    assert resp.status_code == 201 and resp.get_json()["late"] is True
    assert CheckIn.query.one().late is True


@pytest.mark.parametrize("day,words", [("2026-11-23", "today or yesterday"),
                                       ("2026-11-26", "not come yet")])
def test_other_days_are_refused(patient_client, day, words):
    resp = post(patient_client, body(diary_date=day))
    assert resp.status_code == 422
    assert words in resp.get_json()["error"]["fields"]["diary_date"]
    assert count(CheckIn) == 0


def test_window_follows_the_patients_time_zone(patient_client, frozen_clock):
    # 23:30 UTC on the 25th is already the 26th in Paris
    frozen_clock(datetime(2026, 11, 25, 23, 30, tzinfo=UTC))
    assert post(patient_client, body(diary_date="2026-11-26")).status_code == 201
    assert post(patient_client, body(diary_date="2026-11-24")).status_code == 422


@pytest.mark.parametrize("override,field", [
    ({"symptoms": {"sneezing": 1}}, "symptoms.sneezing"),
    ({"symptoms": {"purpura": 5}}, "symptoms.purpura"),
    ({"symptoms": {"purpura": -1}}, "symptoms.purpura"),
    ({"symptoms": {"purpura": "2"}}, "symptoms.purpura"),
    ({"symptoms": {"purpura": 1.5}}, "symptoms.purpura"),
    ({"symptoms": {"purpura": True}}, "symptoms.purpura"),
    ({"symptoms": [1, 2]}, "symptoms"),
    ({"temperature_c": 55}, "temperature_c"),
    ({"temperature_c": 33.9}, "temperature_c"),
    ({"temperature_c": "38"}, "temperature_c"),
    ({"warning_signs": ["headache"]}, "warning_signs"),
    ({"warning_signs": "fainting"}, "warning_signs"),
    ({"new_or_worse": ["fainting"]}, "new_or_worse"),
    ({"injection_site": {"diameter_cm": 31, "ulceration": False}}, "injection_site.diameter_cm"),
    ({"injection_site": {"diameter_cm": -1}}, "injection_site.diameter_cm"),
    ({"injection_site": {"ulceration": "yes"}}, "injection_site.ulceration"),
    ({"injection_site": 3}, "injection_site"),
    ({"diary_date": "25/11/2026"}, "diary_date"),
    ({"device_recorded_at": "2026-11-25T10:05:00"}, "device_recorded_at"),
    ({"client_id": ""}, "client_id"),
    ({"client_id": 42}, "client_id"),
    ({"note": "x" * 2001}, "note"),
])
def test_bad_input_is_422_naming_the_field_and_stores_nothing(patient_client, override, field):
    resp = post(patient_client, body(**override))
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert count(CheckIn) == 0 and count(CheckInSymptom) == 0 and count(Alert) == 0
    assert count(AuditEvent) == 0 or all(e.entity != "checkin" for e in AuditEvent.query)


def test_malformed_json_is_400(patient_client):
    resp = patient_client.post("/api/v1/checkins", data="{not json",
                               content_type="application/json")
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "malformed_json"
    assert count(CheckIn) == 0


def test_not_logged_in_is_401_and_staff_is_403(client, auth, world, frozen_clock):
    assert client.post("/api/v1/checkins", json=body()).status_code == 401
    auth.api_login("inv1@example.org")
    assert client.post("/api/v1/checkins", json=body()).status_code == 403
    assert client.get("/api/v1/checkins").status_code == 403


def test_another_patients_client_id_is_a_conflict(client, auth, world, frozen_clock):
    data = body()
    auth.api_login("P-0001")
    assert post(client, data).status_code == 201
    auth.logout()
    auth.api_login("P-0101")
    resp = post(client, data)
    assert resp.status_code == 409
    assert count(CheckIn) == 1


def test_list_is_own_oldest_first_with_the_posted_shape(client, auth, world, frozen_clock):
    auth.api_login("P-0101")
    post(client, body(temperature_c=37.0))
    auth.logout()
    auth.api_login("P-0001")
    late = body(diary_date="2026-11-24", temperature_c=37.5, new_or_worse=["purpura"],
                symptoms={"purpura": 1}, note="ankles")
    post(client, body())
    post(client, late)
    got = client.get("/api/v1/checkins?from=2026-11-01&to=2026-11-30").get_json()["checkins"]
    assert [c["diary_date"] for c in got] == ["2026-11-24", "2026-11-25"]
    first = got[0]
    assert first["client_id"] == late["client_id"] and first["late"] is True
    assert first["symptoms"] == {"purpura": 1} and first["new_or_worse"] == ["purpura"]
    assert first["temperature_c"] == 37.5 and first["note"] == "ankles"
    assert first["injection_site"] == {"diameter_cm": 1.0, "ulceration": False}
    assert first["device_recorded_at"] == "2026-11-25T10:05:00+01:00"
    assert first["received_at"].startswith("2026-11-25T09:30:00")
    assert {"id", "warning_signs"} <= set(first)
    only = client.get("/api/v1/checkins?from=2026-11-25").get_json()["checkins"]
    assert [c["diary_date"] for c in only] == ["2026-11-25"]
    assert client.get("/api/v1/checkins?from=nope").status_code == 422


def test_a_client_id_stored_meanwhile_returns_the_stored_result(patient_client, monkeypatch):
    # the race: the lookup misses, then the insert meets the other request's row
    from diary.checkins import services
    data = body(temperature_c=39.2)
    first = post(patient_client, data).get_json()
    real = services.find_by_client_id
    calls = {"n": 0}

    def miss_once(client_id):
        calls["n"] += 1
        return None if calls["n"] == 1 else real(client_id)

    monkeypatch.setattr(services, "find_by_client_id", miss_once)
    again = post(patient_client, data)
    assert again.status_code == 200 and again.get_json() == first
    assert count(CheckIn) == 1 and count(Alert) == 1


def test_the_rules_compare_with_the_latest_earlier_checkin_and_its_items(
        app, patient_client, frozen_clock):
    """The rules' history: on PostgreSQL it comes back from the check-in's own INSERT
    statement (one round trip for the check-in, its items and the history), on SQLite
    from a query of its own; both must give the latest earlier check-in, here one of
    the same day rather than an older one, and never the new check-in itself."""
    frozen_clock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
    post(patient_client, body(diary_date="2026-11-22", symptoms={"asthenia": 3}))
    frozen_clock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    morning = post(patient_client, body(symptoms={"purpura": 0, "asthenia": 1},
                                        new_or_worse=["leg_edema"])).get_json()
    # asthenia 1 after 3 three days earlier: nothing worse
    assert "D6" not in {a["rule"] for a in morning["alerts"]}
    frozen_clock(datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    statements = []

    def seen(conn, cursor, statement, *args):
        if re.search(r"\b(checkins|checkin_symptoms)\b", statement):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        afternoon = post(patient_client, body(symptoms={"purpura": 1, "asthenia": 3}))
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    assert afternoon.status_code == 201
    rules = {a["rule"]: a["id"] for a in afternoon.get_json()["alerts"]}
    assert {"D2", "D5", "D6"} <= set(rules)
    evidence = {e.alert.rule: e.values for e in
                AlertEvidence.query.filter_by(checkin_id=afternoon.get_json()["id"])}
    assert evidence["D6"] == {"asthenia": {"grade": 3, "previous": 1}}
    assert evidence["D2"] == {"purpura": 1, "new_or_worse": False, "previous_purpura": 0}
    stored = db.session.get(CheckIn, morning["id"])
    assert stored.grades == {"purpura": 0, "asthenia": 1}
    assert stored.new_or_worse == ["leg_edema"]
    assert count(CheckInSymptom) == 1 + 3 + 2
    # the check-in, its items and the history: one statement on PostgreSQL, three on SQLite
    assert len(statements) == (1 if db.engine.dialect.name == "postgresql" else 3)
