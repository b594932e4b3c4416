"""Bad input at scale: hypothesis sends junk and near-valid data to every form and API
endpoint that takes input. Never a 5xx; a refusal is a 4xx (on the API with the
contract's error body) and stores nothing.

Each case starts from a body the endpoint accepts and, field by field, keeps the
good value, replaces it with junk, or leaves it out; sometimes a stray field is
added. State carries over between examples (a check-in stored by one example is
there for the next), as on a real server.
"""
import json
import uuid

import hypothesis
import pytest
from hypothesis import strategies as st

from tests.helpers_security import build_objects, clients, diff, snapshot

SETTINGS = hypothesis.settings(
    max_examples=40, deadline=None, database=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture,
                           hypothesis.HealthCheck.too_slow])

TRICKY_TEXT = ["", " ", "-1", "0", "1e309", "NaN", "inf", "-0.0", "99999999999999999999",
               "2026-13-45", "2026-02-30", "25:99", "<script>alert(1)</script>",
               "' OR 1=1 --", "\u202e\u0000", "x" * 5000, "🙂" * 300, "P-0001", "null",
               "2026-11-25T08:10:00+25:00", "00000000-0000-0000-0000-000000000000"]
form_junk = st.one_of(st.sampled_from(TRICKY_TEXT), st.text(max_size=40),
                      st.integers().map(str), st.floats().map(str))
json_junk = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40),
              st.sampled_from(TRICKY_TEXT)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=8)

MISSING = object()


def near_valid(base: dict, junk) -> st.SearchStrategy:
    """Each field: its good value, junk, or left out; sometimes an extra field."""
    fields = {k: st.one_of(st.just(v), junk, st.just(MISSING)) for k, v in base.items()}
    return st.tuples(st.fixed_dictionaries(fields),
                     st.dictionaries(st.text(min_size=1, max_size=12), junk, max_size=2)
                     ).map(lambda pair: {**pair[1],
                                         **{k: v for k, v in pair[0].items() if v is not MISSING}})


def _api_cases(p):
    return {
        "checkin": ("patient_a", "/api/v1/checkins", {
            "client_id": str(uuid.uuid4()), "diary_date": "2026-11-25",
            "device_recorded_at": "2026-11-25T20:05:00+01:00", "temperature_c": 38.4,
            "symptoms": {"purpura": 1, "arthralgia": 2}, "new_or_worse": ["purpura"],
            "warning_signs": [], "injection_site": {"diameter_cm": 3.0, "ulceration": False},
            "note": "spots"}),
        "injection": ("patient_a", "/api/v1/injections", {
            "client_id": str(uuid.uuid4()), "scheduled_dose_id": p["dose_id"], "taken": True,
            "taken_at": "2026-11-20T08:10:00+01:00", "dose_miu": 3.0, "site": "thigh_left",
            "lot": "A123", "administered_by": "self", "not_taken_reason": None, "note": ""}),
        "acknowledgement": ("inv1", f"/api/v1/alerts/{p['alert_id']}/acknowledge",
                            {"action": "phoned the patient"}),
        "login": ("anonymous", "/api/v1/session", {"login": "P-0001", "password": "wrong one!"}),
        "push subscription": ("patient_a", "/api/v1/me/push-subscriptions", {
            "endpoint": "https://push.example.org/abc",
            "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22}}),
    }


def _form_cases(p):
    return {
        "login": ("anonymous", "/login", {"login": "P-0001", "password": "wrong one!"}),
        "enrolment": ("anonymous", "/enrol", {"code": p["code"], "password": "violet tram 42",
                                              "confirm": "violet tram 42"}),
        "check-in": ("patient_a", "/checkin", {
            "diary_date": "2026-11-25", "temperature_c": "37.2", "site_diameter_cm": "2",
            "site_ulceration": "no", "note": "fine", "asthenia": "1", "new_or_worse": "purpura"}),
        "check-in save": ("patient_a", "/checkin/save", {
            "payload": json.dumps({"diary_date": "2026-11-25", "temperature_c": 37.0}),
            "photo_token": ""}),
        "injection record": ("patient_a", f"/doses/{p['dose_id']}/record", {
            "taken": "yes", "taken_at": "2026-11-20T08:10", "dose_miu": "3.0",
            "site": "thigh_left", "administered_by": "self", "lot": "A1", "note": ""}),
        "staff acknowledgement": ("inv1", f"/staff/alerts/{p['alert_id']}/acknowledge",
                                  {"action": "phoned"}),
        "settings": ("patient_a", "/settings", {
            "injection_time": "08:00", "checkin_time": "20:00", "weekly_weekday": "6",
            "quiet_start": "22:00", "quiet_end": "07:00", "push_enabled": "y",
            "email_enabled": "y", "language": "fr"}),
        "enrol a patient": ("coord1", "/staff/patients/new", {
            "study_code": "P-0500", "site_id": str(p["site1_id"]), "cure1_start": "2026-12-01",
            "timezone": "Europe/Paris", "contact_email": "p500@example.org"}),
        "withdraw": ("coord1", f"/staff/patients/{p['patient_id']}/withdraw",
                     {"reason": "moved"}),
        "shift a cure": ("inv1", f"/patients/{p['patient_id']}/plan/shift",
                         {"cure": "3", "new_start": "2026-12-20", "reason": "holiday"}),
        "change a dose": ("inv1", f"/patients/{p['patient_id']}/plan/dose",
                          {"dose_id": str(p["dose_id"]), "dose_miu": "1.5", "reason": "tolerance"}),
        "correct an injection": ("inv1", f"/patients/{p['patient_id']}/injections/"
                                 f"{p['record_id']}/correct", {
                                     "taken": "yes", "taken_at": "2026-11-16T09:00",
                                     "dose_miu": "3.0", "site": "thigh_right",
                                     "administered_by": "self", "reason": "wrong side"}),
        "correct a check-in": ("inv1", f"/staff/patients/{p['patient_id']}/checkins/"
                               f"{p['checkin_id']}/correct",
                               {"temperature_c": "38.0", "reason": "typo"}),
        "a site": ("admin", "/admin/sites", {
            "name": "Site Three", "timezone": "Europe/Paris", "phone": "+33 1 00 00 00 00",
            "alert_emails": "a3@example.org", "escalation_emails": "e3@example.org"}),
        "a staff member": ("admin", "/admin/staff", {
            "email": "new@example.org", "role": "investigator",
            "site_ids": str(p["site1_id"])}),
        "language": ("patient_a", "/language", {"locale": "fr", "next": "/today"}),
    }


#: tables a refused request may still write, by design
MAY_WRITE_ON_REFUSAL = {
    # a failed login counts the failure (lockout after 5) and audits it
    "login": {"users", "audit_events", "audit_head"},
}


@pytest.fixture
def scene(app, world, frozen_clock):
    objs = build_objects(world)
    objs.params["site1_id"] = world["site1"].id
    return objs.params, clients(app)


def _check_refusal_stored_nothing(name, before, resp):
    changed = diff(before, snapshot())
    for table in MAY_WRITE_ON_REFUSAL.get(name, ()):
        changed.pop(table, None)
    assert not changed, f"{name}: refused with {resp.status_code} but stored {changed}"


API_NAMES = ["checkin", "injection", "acknowledgement", "login", "push subscription"]
FORM_NAMES = ["login", "enrolment", "check-in", "check-in save", "injection record",
              "staff acknowledgement", "settings", "enrol a patient", "withdraw", "shift a cure",
              "change a dose", "correct an injection", "correct a check-in", "a site",
              "a staff member", "language"]


@pytest.mark.parametrize("name", API_NAMES)
def test_api_endpoint_takes_junk_without_a_server_error(scene, name):
    params, by_role = scene
    role, url, base = _api_cases(params)[name]

    @SETTINGS
    @hypothesis.given(body=st.one_of(near_valid(base, json_junk), json_junk))
    def check(body):
        before = snapshot()
        resp = by_role[role].post(url, json=body)
        assert resp.status_code < 500, (name, body, resp.get_data(as_text=True)[:300])
        if resp.status_code >= 400:
            error = resp.get_json()["error"]
            assert isinstance(error["code"], str) and error["message"], error
            assert set(error) <= {"code", "message", "fields"}
            assert resp.status_code in (400, 401, 403, 404, 409, 413, 415, 422, 429)
            _check_refusal_stored_nothing(f"api {name}" if name != "login" else name,
                                          before, resp)

    check()


@pytest.mark.parametrize("name", FORM_NAMES)
def test_form_takes_junk_without_a_server_error(scene, name):
    params, by_role = scene
    role, url, base = _form_cases(params)[name]

    @SETTINGS
    @hypothesis.given(data=near_valid(base, form_junk))
    def check(data):
        before = snapshot()
        resp = by_role[role].post(url, data=data)
        page = resp.get_data(as_text=True)
        assert resp.status_code < 500, (name, data, page[:300])
        if resp.status_code >= 400:
            assert resp.status_code in (400, 401, 403, 404, 409, 413, 422, 429), resp.status_code
            assert "<main" in page  # an HTML page that says what is wrong, not a bare error
            _check_refusal_stored_nothing(name, before, resp)

    check()


@pytest.mark.parametrize("url", ["/api/v1/checkins", "/api/v1/injections", "/api/v1/session"])
def test_unpaired_surrogates_in_json_are_a_400(scene, url):
    """JSON may escape a lone UTF-16 surrogate ("\\ud800"): that is no text; once a 500."""
    _params, by_role = scene
    before = snapshot()
    resp = by_role["patient_a"].post(url, data='{"note": "x\\udbc2", "login": "\\ud800"}',
                                     content_type="application/json")
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "malformed_json"
    assert diff(before, snapshot()) == {}
