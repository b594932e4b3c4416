"""The test harness itself: two clients never share a logged-in user."""


def test_two_clients_do_not_share_a_login(app, world):
    from tests.conftest import PASSWORD

    a, b = app.test_client(), app.test_client()
    assert a.post("/api/v1/session", json={"login": "P-0001", "password": PASSWORD}).status_code == 200
    assert b.get("/api/v1/session").status_code == 401
    assert a.get("/api/v1/session").get_json()["user"]["study_code"] == "P-0001"
