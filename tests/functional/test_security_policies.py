"""Passwords refused from a well-known leaked list; login rate limits kept in Redis.

The Redis test uses database 15 on 127.0.0.1:6379. .ci/run starts Redis and sets
DIARY_REQUIRE_REDIS=1, so in CI a missing Redis fails the test instead of skipping it.
"""
import os

import pytest
import redis

from diary import create_app
from diary.accounts.services import password_problem
from tests.conftest import make_config

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.mark.parametrize("password", [
    "password123", "qwertyuiop", "1qaz2wsx3edc", "manchester",  # zxcvbn's leaked list
    "PASSWORD123", "QwertyUiop",  # whatever the case
    "1234567890",  # our own list
])
def test_common_passwords_are_refused(app, password):
    assert password_problem(password) == "This password is too common. Choose another one."


@pytest.mark.parametrize(("password", "problem"), [
    ("short pw", "Choose a password of at least 10 characters."),
    ("aaaaaaaaaaaaaa", "This password is too common. Choose another one."),
    ("p-0007 is my code", "The password must not contain your login."),
])
def test_other_refusals(app, password, problem):
    assert password_problem(password, login="P-0007") == problem


def test_an_uncommon_long_password_is_accepted(app):
    assert password_problem("violet tram at dusk 42") is None


def test_enrolment_refuses_a_leaked_password(app, client, make_site, frozen_clock):
    from diary.accounts import staff_services
    from diary.accounts.models import User
    from diary.extensions import db
    site = make_site()
    patient, issued = staff_services.enrol_patient(
        study_code="P-0042", site=site, cure1_start=frozen_clock.state["now"].date(),
        actor=None, now=frozen_clock.state["now"])
    db.session.commit()
    resp = client.post("/enrol", data={"code": issued.code, "password": "1qaz2wsx3edc",
                                       "confirm": "1qaz2wsx3edc"})
    assert resp.status_code == 422
    assert "too common" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, patient.user_id).password_hash is None


def _redis():
    conn = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        conn.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("DIARY_REQUIRE_REDIS") == "1":
            raise
        pytest.skip("no Redis on 127.0.0.1:6379 (.ci/run starts one)")
    return conn


@pytest.fixture
def redis_db():
    conn = _redis()
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


def test_login_rate_limit_is_shared_through_redis(app, world, redis_db, monkeypatch):
    """DIARY_RATELIMIT_STORAGE_URL=redis://...: two app processes count the same attempts."""
    monkeypatch.setenv("DIARY_RATELIMIT_STORAGE_URL", REDIS_URL)
    apps = [create_app(make_config(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute"))
            for _ in range(2)]
    for one in apps:
        assert one.config["RATELIMIT_STORAGE_URI"] == REDIS_URL
    from diary.extensions import limiter
    assert type(limiter.storage).__name__ == "RedisStorage"
    first, second = (one.test_client() for one in apps)
    wrong = {"login": "P-0001", "password": "not the password"}
    codes = [first.post("/login", data=wrong).status_code for _ in range(2)]
    codes.append(second.post("/login", data=wrong).status_code)
    assert codes == [401, 401, 401]
    # the fourth attempt, on either "process", is over the limit
    assert second.post("/login", data=wrong).status_code == 429
    resp = first.post("/api/v1/session", json=wrong)
    assert resp.status_code == 429
    assert resp.get_json()["error"]["code"] == "throttled"
    assert any(b"login" in key for key in redis_db.keys("*"))
