from datetime import timedelta

import pytest
import sqlalchemy as sa

from diary.accounts.models import User
from diary.extensions import db
from tests.conftest import PASSWORD


def test_patient_logs_in_with_study_code(client, auth, world):
    resp = auth.login("p-0001")  # case does not matter
    assert resp.status_code == 302
    assert client.get("/api/v1/session").get_json()["user"]["study_code"] == "P-0001"


def test_staff_log_in_with_email(client, auth, world):
    resp = auth.login("INV1@example.org")
    assert resp.status_code == 302
    assert client.get("/api/v1/session").get_json()["user"]["role"] == "investigator"


def test_same_message_whichever_was_wrong(client, auth, world):
    wrong_password = auth.login("P-0001", "not the password")
    unknown_login = auth.login("P-9999", PASSWORD)
    assert wrong_password.status_code == unknown_login.status_code == 401
    a = wrong_password.get_data(as_text=True)
    b = unknown_login.get_data(as_text=True)
    assert "Wrong login or password" in a and "Wrong login or password" in b
    # the pages differ only by the login echoed back in the field
    assert a.replace("P-0001", "X") == b.replace("P-9999", "X")


def test_five_failures_lock_for_fifteen_minutes(client, auth, world, frozen_clock, now):
    for _ in range(5):
        assert auth.login("P-0001", "wrong password!").status_code == 401
    # even the right password is refused while locked
    assert auth.login("P-0001").status_code == 401
    frozen_clock(now + timedelta(minutes=14, seconds=59))
    assert auth.login("P-0001").status_code == 401
    frozen_clock(now + timedelta(minutes=15, seconds=1))
    assert auth.login("P-0001").status_code == 302


def test_success_resets_the_failure_count(client, auth, world):
    for _ in range(4):
        auth.login("P-0001", "wrong password!")
    assert auth.login("P-0001").status_code == 302
    user = db.session.execute(sa.select(User).where(User.email.is_(None))).scalars().first()
    db.session.refresh(user)
    assert all(u.failed_logins == 0 for u in db.session.execute(sa.select(User)).scalars())


def test_password_is_hashed_with_argon2id(world):
    user = world["pat1"].user
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


@pytest.mark.config(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
def test_login_is_rate_limited_per_address(client, auth, world):
    codes = [auth.login("P-0001", "wrong password!").status_code for _ in range(4)]
    assert codes[:3] == [401, 401, 401]
    assert codes[3] == 429
    api = client.post("/api/v1/session", json={"login": "P-0001", "password": "x"})
    assert api.status_code == 429
    assert api.get_json()["error"]["code"] == "throttled"


@pytest.mark.config(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
def test_the_limited_views_check_their_limits_without_a_hook_on_every_request(app, client):
    from diary.extensions import limiter

    # no default limit: Flask-Limiter's check before every request is left out...
    assert limiter._check_request_limit not in app.before_request_funcs[None]
    # ...and the views that carry a limit still apply it, the password choice as well
    codes = [client.post("/enrol", data={"code": "nope"}).status_code for _ in range(4)]
    assert codes == [422, 422, 422, 429]


@pytest.fixture
def default_limits_undone():
    """The limiter is one object for every app of the test run: a default limit set by a
    test's configuration would stay for the next apps."""
    from diary.extensions import limiter

    yield
    limiter.limit_manager.set_default_limits([])


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="2 per minute")
def test_a_default_limit_keeps_the_check_before_every_request(default_limits_undone, app,
                                                              client):
    from diary.extensions import limiter

    assert limiter._check_request_limit in app.before_request_funcs[None]
    codes = [client.get("/healthz").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_session_cookie_flags(client, auth, world):
    resp = auth.login("P-0001")
    cookie = resp.headers.get("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_the_session_cookie_is_renewed_once_a_day_not_with_every_response(
        client, auth, world, frozen_clock):
    from tests.conftest import FIXED_NOW
    auth.login("P-0001")
    client.get("/today")  # the first page after the login adds its CSRF token
    again = client.get("/today")  # the login's day: nothing changed, nothing sent
    assert again.status_code == 200 and "Set-Cookie" not in again.headers
    assert "Set-Cookie" not in client.get("/api/v1/me/schedule").headers
    frozen_clock(FIXED_NOW + timedelta(days=1))
    renewed = client.get("/today")
    assert renewed.status_code == 200
    cookie = renewed.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    # 30 days from now (Flask computes it on the wall clock, not the diary's)
    assert abs(expires - datetime.now(UTC) - timedelta(days=30)) < timedelta(minutes=5)
    assert "Set-Cookie" not in client.get("/today").headers  # once that day


@pytest.mark.config(SESSION_COOKIE_SECURE=True)
def test_secure_cookie_when_configured(client, auth, world):
    assert "Secure" in auth.login("P-0001").headers.get("Set-Cookie")


def test_secure_cookies_variable(monkeypatch, tmp_path):
    from diary import config
    assert config.load(str(tmp_path), {"DIARY_SECURE_COOKIES": "1"})["SESSION_COOKIE_SECURE"]
    assert not config.load(str(tmp_path), {})["SESSION_COOKIE_SECURE"]


@pytest.mark.config(WTF_CSRF_ENABLED=True)
def test_forms_refuse_a_missing_csrf_token(client, world):
    resp = client.post("/login", data={"login": "P-0001", "password": PASSWORD})
    assert resp.status_code == 400
    assert client.get("/api/v1/session").status_code == 401


def test_logout(client, auth, world):
    auth.login("P-0001")
    assert auth.logout().status_code == 302
    assert client.get("/api/v1/session").status_code == 401


def test_open_redirect_refused(client, world):
    resp = client.post("/login?next=https://evil.example.org/",
                       data={"login": "P-0001", "password": PASSWORD})
    assert resp.status_code == 302
    assert "evil" not in resp.headers["Location"]


def test_secret_key_generated_once(tmp_path):
    from diary import config
    first = config.load(str(tmp_path), {})["SECRET_KEY"]
    second = config.load(str(tmp_path), {})["SECRET_KEY"]
    assert first == second and len(first) == 64
