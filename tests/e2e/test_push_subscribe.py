"""push.js on the settings page, in Chromium: subscribing sends the subscription to the server.

Headless Chromium has no push service to reach here, so the test replaces
PushManager.subscribe/getSubscription in the page with a subscription whose keys
are real (made by tests/helpers_reminders.BrowserKeys): everything else — the
service worker registration, the permission request, the page's script and the
API call with its CSRF token — runs for real.
"""
import json

import pytest
import sqlalchemy as sa

from diary.extensions import db
from diary.reminders import webpush
from diary.reminders.models import PushSubscription
from tests.conftest import PASSWORD
from tests.helpers_reminders import BrowserKeys

FAKE_PUSH = """
(() => {
  const sub = %s;
  let current = null;
  const wrap = (s) => ({...s, toJSON: () => s});
  PushManager.prototype.getSubscription = function () { return Promise.resolve(current && wrap(current)); };
  PushManager.prototype.subscribe = function (options) {
    if (!(options.applicationServerKey instanceof Uint8Array) || options.applicationServerKey.length !== 65)
      return Promise.reject(new Error("bad application server key"));
    current = sub;
    return Promise.resolve(wrap(sub));
  };
})();
"""


@pytest.fixture
def vapid_keys(app):
    """The server's VAPID keys for this test only (other tests expect none)."""
    path = webpush._key_path(app.instance_path)
    existed = path.exists()
    webpush.create_keys(app.instance_path)
    yield
    if not existed:
        path.unlink(missing_ok=True)


def test_turning_on_notifications_stores_the_subscription(app, vapid_keys, phone, world,
                                                          live_server):
    keys = BrowserKeys()
    sub = keys.subscription(f"{live_server}/push-service/abc123")
    phone.context.grant_permissions(["notifications"], origin=live_server)
    phone.context.add_init_script(FAKE_PUSH % json.dumps(sub))
    phone.goto("/login")
    phone.get_by_label("Study code or e-mail").fill("P-0001")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Log in").click()
    phone.goto("/settings")
    button = phone.get_by_role("button", name="Turn on notifications on this phone")
    button.click()
    phone.get_by_role("button", name="Turn off notifications on this phone").wait_for()
    db.session.expire_all()
    stored = db.session.execute(sa.select(PushSubscription)).scalars().all()
    assert [(s.endpoint, s.p256dh, s.patient_id) for s in stored] == [
        (sub["endpoint"], sub["keys"]["p256dh"], world["pat1"].id)]
