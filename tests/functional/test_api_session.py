import pytest

from tests.conftest import PASSWORD


def test_login_returns_user_and_csrf_token(client, world):
    resp = client.post("/api/v1/session", json={"login": "P-0001", "password": PASSWORD})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["user"] == {"id": world["pat1"].user.id, "role": "patient",
                            "study_code": "P-0001", "site": "Site One"}
    assert body["csrf_token"]


def test_staff_login(client, world):
    resp = client.post("/api/v1/session", json={"login": "coord1@example.org", "password": PASSWORD})
    assert resp.status_code == 200
    assert resp.get_json()["user"]["role"] == "coordinator"


def test_get_session(client, world):
    assert client.get("/api/v1/session").status_code == 401
    client.post("/api/v1/session", json={"login": "P-0001", "password": PASSWORD})
    resp = client.get("/api/v1/session")
    assert resp.status_code == 200 and resp.get_json()["csrf_token"]


def test_wrong_credentials_same_401(client, world):
    a = client.post("/api/v1/session", json={"login": "P-0001", "password": "wrong one!"})
    b = client.post("/api/v1/session", json={"login": "P-4242", "password": PASSWORD})
    assert a.status_code == b.status_code == 401
    assert a.get_json() == b.get_json()
    assert a.get_json()["error"]["code"] == "invalid_credentials"


@pytest.mark.parametrize("body, status", [
    ("not json", 400), ("[1, 2]", 400), ('{"login": "P-0001"}', 422),
    ('{"login": 5, "password": []}', 422),
])
def test_bad_bodies(client, world, body, status):
    resp = client.post("/api/v1/session", data=body, content_type="application/json")
    assert resp.status_code == status
    err = resp.get_json()["error"]
    assert err["code"] and err["message"]


def test_form_encoded_login_refused(client, world):
    resp = client.post("/api/v1/session", data={"login": "P-0001", "password": PASSWORD})
    assert resp.status_code == 415
    assert resp.is_json


def test_delete_session(client, world):
    client.post("/api/v1/session", json={"login": "P-0001", "password": PASSWORD})
    assert client.delete("/api/v1/session").status_code == 204
    assert client.get("/api/v1/session").status_code == 401


def test_unknown_api_route_is_json_404(client):
    resp = client.get("/api/v1/nothing-here")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"


def test_healthz(client, app):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert "last_beat" in body["scheduler"]
