"""DIARY_PROXY_FIX: behind the HTTPS proxy, the client's address and scheme come from
X-Forwarded-*; without it those headers are ignored (a client could forge them)."""
import pytest
from flask import request

from diary import config


def _login(client, forwarded_for):
    return client.post("/api/v1/session", json={"login": "P-0001", "password": "wrong one!!"},
                       headers={"X-Forwarded-For": forwarded_for,
                               "X-Forwarded-Proto": "https"}).status_code


@pytest.mark.config(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="2 per minute", PROXY_FIX=1)
def test_behind_the_proxy_the_rate_limit_keys_on_the_real_client(client, world):
    assert [_login(client, "198.51.100.7") for _ in range(3)] == [401, 401, 429]
    # another patient's phone behind the same proxy has its own quota
    assert _login(client, "198.51.100.8") == 401


@pytest.mark.config(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="2 per minute")
def test_without_the_opt_in_a_forged_header_does_not_dodge_the_limit(client, world):
    assert [_login(client, f"203.0.113.{i}") for i in range(3)] == [401, 401, 429]


@pytest.mark.config(PROXY_FIX=1)
def test_behind_the_proxy_the_scheme_and_address_are_the_clients(app):
    seen = {}

    @app.get("/_probe_proxy")
    def probe():
        seen.update(addr=request.remote_addr, scheme=request.scheme, host=request.host)
        return "ok"

    app.test_client().get("/_probe_proxy", headers={
        "X-Forwarded-For": "198.51.100.9", "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "diary.hospital.example"})
    assert seen == {"addr": "198.51.100.9", "scheme": "https", "host": "diary.hospital.example"}


@pytest.mark.parametrize("value, hops", [(None, 0), ("", 0), ("0", 0), ("1", 1), ("true", 1),
                                          ("2", 2)])
def test_proxy_fix_setting(tmp_path, value, hops):
    env = {} if value is None else {"DIARY_PROXY_FIX": value}
    assert config.load(str(tmp_path), env)["PROXY_FIX"] == hops


def test_a_wrong_proxy_fix_value_is_refused(tmp_path):
    with pytest.raises(ValueError, match="DIARY_PROXY_FIX"):
        config.load(str(tmp_path), {"DIARY_PROXY_FIX": "-1"})
