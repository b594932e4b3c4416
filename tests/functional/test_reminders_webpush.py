"""Web Push: VAPID keys at `diary init`, subscriptions through the API, delivery to a push
service on 127.0.0.1 that verifies the VAPID signature and decrypts the payload."""
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from diary.extensions import db
from diary.notifications.models import OutboxMessage
from diary.notifications.services import deliver_due
from diary.reminders import services, webpush
from diary.reminders.models import PushSubscription
from tests.helpers_reminders import PushService

START = date(2026, 11, 2)
AT_0830 = datetime(2026, 11, 17, 8, 30, tzinfo=UTC)  # 09:30 in Paris, a home dose day


@pytest.fixture
def vapid(app, tmp_path):
    """Keys made by the `diary init` hook in a fresh instance folder."""
    app.instance_path = str(tmp_path)
    hook = next(h for h in app.extensions["diary.on_init"] if h.__name__ == "make_vapid_keys")
    hook()
    return webpush.public_key(app.config, app.instance_path)


@pytest.fixture
def push_service(vapid):
    service = PushService(vapid).start()
    yield service
    service.stop()


@pytest.fixture
def patient(make_site, make_patient):
    return make_patient(make_site("Paris site"), "P-0001", START)


def subscribe(client, auth, subscription, login="P-0001"):
    auth.login(login)
    return client.post("/api/v1/me/push-subscriptions", json=subscription)


def test_init_makes_the_key_pair_once(app, tmp_path):
    app.instance_path = str(tmp_path)
    hook = next(h for h in app.extensions["diary.on_init"] if h.__name__ == "make_vapid_keys")
    hook()
    first = (tmp_path / "vapid_private.pem").read_text()
    public = webpush.public_key(app.config, app.instance_path)
    hook()
    assert (tmp_path / "vapid_private.pem").read_text() == first
    assert webpush.public_key(app.config, app.instance_path) == public
    assert len(webpush.b64url_decode(public)) == 65
    assert (tmp_path / "vapid_private.pem").stat().st_mode & 0o077 == 0


def test_keys_from_the_environment_win(app, tmp_path, monkeypatch):
    app.instance_path = str(tmp_path)
    monkeypatch.setenv("DIARY_VAPID_PRIVATE_KEY", "AQ" + "A" * 41)  # 32 raw bytes, base64url
    hook = next(h for h in app.extensions["diary.on_init"] if h.__name__ == "make_vapid_keys")
    hook()
    assert not (tmp_path / "vapid_private.pem").exists()
    assert webpush.private_key(app.config, app.instance_path).private_numbers().private_value \
        == int.from_bytes(webpush.b64url_decode("AQ" + "A" * 41), "big")


def test_reminder_arrives_encrypted_and_signed(app, client, auth, patient, push_service):
    resp = subscribe(client, auth, push_service.new_subscription("phone"))
    assert resp.status_code == 201
    assert subscribe(client, auth, push_service.new_subscription("phone")).status_code == 200
    report = services.sweep(AT_0830)
    db.session.commit()
    assert report.enqueued == 1
    row = db.session.execute(sa.select(OutboxMessage)).scalar_one()
    assert row.channel == "webpush"

    result = deliver_due(AT_0830, "test-worker")
    assert result.sent == 1, push_service.errors
    assert push_service.errors == []
    assert len(push_service.received) == 1
    got = push_service.received[0]
    assert got["payload"] == {"title": "Your diary",
                              "body": "Your diary: an entry is waiting. Open: http://diary.test/",
                              "url": "http://diary.test/", "tag": "diary-reminder"}
    assert got["claims"]["sub"] == "mailto:diary@localhost"
    assert db.session.get(OutboxMessage, row.id).delivered_via == "webpush"


def test_email_and_every_phone_each_get_it_once(app, client, auth, make_site, make_patient,
                                                push_service):
    make_patient(make_site("Paris site"), "P-0001", START, contact_email="p1@example.org")
    subscribe(client, auth, push_service.new_subscription("phone"))
    client.post("/api/v1/me/push-subscriptions", json=push_service.new_subscription("tablet"))
    services.sweep(AT_0830)
    db.session.commit()
    services.sweep(AT_0830.replace(minute=31))
    db.session.commit()
    rows = db.session.execute(sa.select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
    assert [r.channel for r in rows] == ["email", "webpush", "webpush"]
    deliver_due(AT_0830.replace(minute=32), "test-worker")
    assert sorted(r["path"] for r in push_service.received) == ["/push/phone", "/push/tablet"]
    assert push_service.errors == []


def test_subscription_the_push_service_reports_gone_is_removed(app, client, auth, patient,
                                                               push_service):
    subscribe(client, auth, push_service.new_subscription("old-phone"))
    push_service.status_for["/push/old-phone"] = 410
    services.sweep(AT_0830)
    db.session.commit()
    result = deliver_due(AT_0830, "test-worker")
    assert result.sent == 0
    assert db.session.execute(sa.select(PushSubscription)).first() is None
    row = db.session.execute(sa.select(OutboxMessage)).scalar_one()
    assert "gone" in row.last_error
    # the follow-up two hours later has no phone left to go to
    assert services.sweep(datetime(2026, 11, 17, 10, 30, tzinfo=UTC)).enqueued == 0


def test_push_service_down_is_retried(app, client, auth, patient, vapid):
    subscribe(client, auth, {"endpoint": "http://127.0.0.1:9/push/x",
                             "keys": PushService(vapid).new_subscription("x")["keys"]})
    services.sweep(AT_0830)
    db.session.commit()
    result = deliver_due(AT_0830, "test-worker")
    assert result.retried == 1
    row = db.session.execute(sa.select(OutboxMessage)).scalar_one()
    assert row.status == "pending" and row.attempts == 1
    assert db.session.execute(sa.select(PushSubscription)).first() is not None


@pytest.mark.parametrize("body, field", [
    ({"endpoint": "https://push.example.org/x",
      "keys": {"p256dh": "abc", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "keys.p256dh"),
    ({"endpoint": "http://push.example.org/x"}, "endpoint"),
    ({"keys": {}}, "endpoint"),
])
def test_invalid_subscription_is_refused(client, auth, patient, body, field, vapid):
    resp = subscribe(client, auth, body)
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["fields"]
    assert db.session.execute(sa.select(PushSubscription)).first() is None


def test_unsubscribe_and_roles(client, auth, world, push_service):
    sub = push_service.new_subscription("phone")
    assert client.post("/api/v1/me/push-subscriptions", json=sub).status_code == 401
    auth.login("inv1@example.org")
    assert client.post("/api/v1/me/push-subscriptions", json=sub).status_code == 403
    auth.logout()
    assert subscribe(client, auth, sub, login="P-0001").status_code == 201
    assert client.get("/api/v1/me/push-key").get_json() == {"public_key": push_service.app_public_key}
    resp = client.delete("/api/v1/me/push-subscriptions", json={"endpoint": sub["endpoint"]})
    assert resp.status_code == 204
    assert db.session.execute(sa.select(PushSubscription)).first() is None
    resp = client.delete("/api/v1/me/push-subscriptions", json={"endpoint": sub["endpoint"]})
    assert resp.status_code == 404


def test_settings_page_offers_push_with_the_public_key(client, auth, patient, vapid):
    auth.login("P-0001")
    html = client.get("/settings").get_data(as_text=True)
    assert f'data-public-key="{vapid}"' in html
    assert "/static/js/push.js" in html
    assert 'data-subscriptions-url="/api/v1/me/push-subscriptions"' in html
