"""The test harness itself: two clients never share a logged-in user."""


def test_two_clients_do_not_share_a_login(app, world):
    from tests.conftest import PASSWORD

    a, b = app.test_client(), app.test_client()
    assert a.post("/api/v1/session", json={"login": "P-0001", "password": PASSWORD}).status_code == 200
    assert b.get("/api/v1/session").status_code == 401
    assert a.get("/api/v1/session").get_json()["user"]["study_code"] == "P-0001"


def test_language_follows_each_clients_browser(app, client):
    import pytest
    cases = {"fr-FR,en;q=0.5": "fr", "en-GB,fr;q=0.5": "en", "fr": "fr", "de-DE,fr;q=0.7": "fr",
             "de-DE": "en", "en-US,en;q=0.9": "en", "fr-CA,fr;q=0.9,en;q=0.8": "fr"}
    for header, expected in cases.items():
        html = app.test_client().get("/login", headers={"Accept-Language": header}).get_data(as_text=True)
        if f'<html lang="{expected}">' not in html:
            pytest.fail(f"{header!r} should give {expected!r}")
