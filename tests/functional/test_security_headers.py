from datetime import timedelta

import pytest


def test_headers_on_pages_and_api(client):
    for path in ("/login", "/api/v1/session", "/healthz"):
        h = client.get(path).headers
        csp = h["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"]
        assert "Strict-Transport-Security" not in h


@pytest.mark.config(SESSION_COOKIE_SECURE=True)
def test_hsts_behind_https(client):
    assert "max-age" in client.get("/login").headers["Strict-Transport-Security"]


def test_staff_session_expires_after_inactivity(client, auth, world, frozen_clock, now):
    auth.login("inv1@example.org")
    assert client.get("/api/v1/session").status_code == 200
    frozen_clock(now + timedelta(minutes=29))
    assert client.get("/api/v1/session").status_code == 200
    frozen_clock(now + timedelta(minutes=29 + 31))
    assert client.get("/api/v1/session").status_code == 401


def test_patient_session_survives_a_quiet_day(client, auth, world, frozen_clock, now):
    auth.login("P-0001")
    frozen_clock(now + timedelta(hours=20))
    assert client.get("/api/v1/session").status_code == 200
