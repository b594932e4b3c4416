"""schemathesis against GET /api/v1/openapi.json, on the WSGI app (no network).

Every operation is called with generated data (valid and invalid), logged in as a
patient and as an investigator, with the session cookie and the X-CSRFToken
header, and CSRF protection on. Checks: no 5xx, status codes documented,
responses and content types as the description says.
"""
import hypothesis
import pytest
import schemathesis
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from diary import create_app
from tests.conftest import PASSWORD, make_config
from tests.helpers_security import build_objects

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance,
          content_type_conformance]
LOGINS = {"patient": "P-0001", "investigator": "inv1@example.org"}


#: the app schemathesis calls: the same database as the `app` fixture's (which empties it
#: and builds the world before each test); CSRF on, Web Push set up
API_APP = create_app(make_config(WTF_CSRF_ENABLED=True, VAPID_PUBLIC_KEY="BSchemathesisTestKey"))
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", API_APP)


@pytest.fixture
def sessions(app, world, frozen_clock):
    """role -> the session cookie and CSRF header of a login through the API."""
    build_objects(world)
    out = {}
    for role, login in LOGINS.items():
        c = API_APP.test_client()
        resp = c.post("/api/v1/session", json={"login": login, "password": PASSWORD})
        assert resp.status_code == 200
        out[role] = {"cookies": {"session": c.get_cookie("session").value},
                     # schemathesis' WSGI transport does not decode gzip (which the app
                     # sends to clients that accept it, as it should)
                     "headers": {"X-CSRFToken": resp.get_json()["csrf_token"],
                                 "Accept-Encoding": "identity"}}
    return out


def _call(case, login: dict) -> None:
    if case.path == "/session" and case.method == "DELETE":
        # logging out would end the session the other examples run in: checked without it
        case.call_and_validate(headers=login["headers"], checks=CHECKS)
        return
    case.call_and_validate(headers=login["headers"], cookies=login["cookies"], checks=CHECKS)


SETTINGS = hypothesis.settings(max_examples=25, deadline=None, database=None,
                               suppress_health_check=list(hypothesis.HealthCheck))


@schema.parametrize()
@SETTINGS
def test_api_as_a_patient(case, sessions):
    _call(case, sessions["patient"])


@schema.parametrize()
@SETTINGS
def test_api_as_an_investigator(case, sessions):
    _call(case, sessions["investigator"])
