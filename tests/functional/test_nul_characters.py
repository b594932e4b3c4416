"""NUL characters anywhere in a request get a clear 400, on SQLite and on PostgreSQL."""
import uuid

import sqlalchemy as sa

from diary.checkins.models import CheckIn
from diary.extensions import db
from tests.conftest import PASSWORD


def test_login_form_with_a_nul(client, world):
    resp = client.post("/login", data={"login": "\u202e\x00", "password": "wrong one!"})
    assert resp.status_code == 400
    assert "NUL" in resp.get_data(as_text=True)


def test_api_login_with_a_nul(client, world):
    resp = client.post("/api/v1/session", json={"login": "P-00\x0001", "password": PASSWORD})
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "nul_character"


def test_json_keys_and_nested_values_with_a_nul(client, auth, world):
    auth.api_login("P-0001")
    for body in ({"client_id": str(uuid.uuid4()), "note": "a\x00b"},
                 {"client_id": str(uuid.uuid4()), "symptoms": {"purpura\x00": 1}},
                 {"client_id": str(uuid.uuid4()), "warning_signs": ["x\x00"]}):
        resp = client.post("/api/v1/checkins", json=body)
        assert resp.status_code == 400, body
    resp = client.delete("/api/v1/me/push-subscriptions", json={"endpoint": "https://x\x00"})
    assert resp.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(CheckIn.id))) == 0


def test_query_string_and_path_with_a_nul(client, auth, world):
    auth.api_login("P-0001")
    assert client.get("/api/v1/checkins?from=2026-11-01%00").status_code == 400
    assert client.get("/enrol/ABC%00DEF").status_code == 400
