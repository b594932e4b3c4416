"""Every state-changing route (POST/PUT/PATCH/DELETE of app.url_map) refuses a request
without a valid CSRF token, and stores nothing; POST /api/v1/session is the only exemption.

Each write is sent by a role the route lets in (its own victim: a forged cross-site
request rides on a real session), once with no token and once with a wrong one.
Positive controls send the same bodies with the token and see them succeed, so the
refusal is the token's doing, not the body's.
"""
import json
import uuid

import pytest
from flask_wtf.csrf import generate_csrf

from diary.extensions import csrf
from tests.conftest import PASSWORD
from tests.functional.test_access_matrix import ANY, LOGGED_IN, POLICY
from tests.helpers_security import (
    APP_ROLE,
    LOGINS,
    build_objects,
    diff,
    fill,
    snapshot,
    state_changing_rules,
)

pytestmark = pytest.mark.config(WTF_CSRF_ENABLED=True)

#: the one view Flask-WTF does not protect, and why: nothing to protect before login, and
#: it takes JSON only, which a cross-site HTML form cannot send
EXEMPT = {"api.session_create"}


def _login(app, role):
    """A client logged in through the API (the exempt route), and its CSRF token."""
    c = app.test_client()
    if LOGINS[role] is None:
        return c, None
    resp = c.post("/api/v1/session", json={"login": LOGINS[role], "password": PASSWORD})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return c, resp.get_json()["csrf_token"]


def _victim(endpoint) -> str:
    """A role the route lets in (the access matrix's table)."""
    policy = POLICY[endpoint]
    if policy in (ANY, LOGGED_IN):
        return "patient_a"
    order = ["patient_a", "inv1", "coord1", "admin"]
    return next(r for r in order if APP_ROLE[r] in policy)


#: bodies a route accepts with a valid token (the positive controls use them too)
def _bodies(params) -> dict:
    return {
        "api.checkins_create": {"client_id": str(uuid.uuid4()), "diary_date": "2026-11-25",
                                "temperature_c": 37.1, "symptoms": {"asthenia": 1}},
        "api.create_injection": {"client_id": str(uuid.uuid4()),
                                 "scheduled_dose_id": params["dose_id"], "taken": False,
                                 "not_taken_reason": "forgot"},
        "api.alert_acknowledge": {"action": "phoned the patient"},
        "patients.withdraw": {"reason": "moved abroad"},
        "accounts.language": {"locale": "fr"},
    }


def test_only_the_api_login_is_exempt(app):
    exempt = set()
    for endpoint, view in app.view_functions.items():
        if f"{view.__module__}.{view.__name__}" in csrf._exempt_views:
            exempt.add(endpoint)
    assert exempt == EXEMPT
    assert not csrf._exempt_blueprints


def test_every_write_without_a_valid_token_is_refused_and_stores_nothing(app, world,
                                                                         frozen_clock):
    objs = build_objects(world)
    bodies = _bodies(objs.params)
    sessions = {role: _login(app, role) for role in LOGINS}
    rules = [(r, m) for r, m in state_changing_rules(app) if r.endpoint not in EXEMPT]
    assert len(rules) > 20
    before = snapshot()
    problems = []
    for rule, method in rules:
        url = fill(rule.rule, objs.params)
        client, _token = sessions[_victim(rule.endpoint)]
        body = bodies.get(rule.endpoint, {})
        api = rule.rule.startswith("/api/")
        attempts = {
            "no token": {"json": body} if api else {"data": body},
            "wrong token": ({"json": body, "headers": {"X-CSRFToken": "forged"}} if api
                            else {"data": {**body, "csrf_token": "forged"}}),
        }
        for what, kwargs in attempts.items():
            resp = client.open(url, method=method, **kwargs)
            resp.close()
            if resp.status_code not in (400, 403):
                problems.append(f"{method} {url} with {what}: {resp.status_code}")
            elif api:
                assert resp.get_json()["error"]["code"] == "csrf_invalid", url
            else:
                assert "security token" in resp.get_data(as_text=True), url
    assert not problems, "\n".join(problems)
    assert diff(before, snapshot()) == {}
    # still logged in: not even the logout went through
    for role, (client, _t) in sessions.items():
        if role != "anonymous":
            assert client.get("/api/v1/session").status_code == 200, role


def test_the_same_writes_with_the_token_succeed(app, world, frozen_clock):
    """Positive controls: the bodies above are good ones; the token alone made the difference."""
    objs = build_objects(world)
    bodies = _bodies(objs.params)
    p = objs.params
    cases = [
        ("patient_a", "POST", "/api/v1/checkins", "api.checkins_create", 201),
        ("patient_a", "POST", "/api/v1/injections", "api.create_injection", 201),
        ("inv1", "POST", f"/api/v1/alerts/{p['alert_id']}/acknowledge",
         "api.alert_acknowledge", 200),
        ("patient_a", "POST", "/language", "accounts.language", 302),
        ("coord1", "POST", f"/staff/patients/{p['patient_id']}/withdraw",
         "patients.withdraw", 302),
    ]
    for role, method, url, endpoint, status in cases:
        client, token = _login(app, role)
        if url.startswith("/api/"):
            resp = client.open(url, method=method, json=bodies[endpoint],
                               headers={"X-CSRFToken": token})
        else:
            resp = client.open(url, method=method, data={**bodies[endpoint], "csrf_token": token})
        assert resp.status_code == status, (url, resp.get_data(as_text=True)[:500])
    client, token = _login(app, "patient_b")  # patient A is withdrawn by now
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/v1/session").status_code == 401


def test_a_form_post_to_the_api_login_is_refused(app, world):
    c = app.test_client()
    before = snapshot()
    resp = c.post("/api/v1/session", data={"login": "P-0001", "password": PASSWORD})
    assert resp.status_code == 415
    assert resp.get_json()["error"]["code"] == "unsupported_media_type"
    # a text/plain body (what a cross-site form can send with enctype) is refused too
    resp = c.post("/api/v1/session", data=json.dumps({"login": "P-0001", "password": PASSWORD}),
                  content_type="text/plain")
    assert resp.status_code == 415
    assert c.get("/api/v1/session").status_code == 401
    assert diff(before, snapshot()) == {}


def test_a_page_form_carries_the_token_and_a_login_needs_it(app, world):
    c = app.test_client()
    html = c.get("/login").get_data(as_text=True)
    assert 'name="csrf_token"' in html
    resp = c.post("/login", data={"login": "P-0001", "password": PASSWORD})
    assert resp.status_code == 400
    assert c.get("/api/v1/session").status_code == 401
    with app.test_request_context():
        assert generate_csrf()  # the token machinery works under this config
