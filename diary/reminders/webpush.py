"""Web Push: the VAPID key pair and the `webpush` channel of the outbox.

The key pair is made once by `diary init` (an on_init hook) into the instance
folder, unless DIARY_VAPID_PRIVATE_KEY gives the private key (PEM, or the
base64url raw/DER form web-push tools print); DIARY_VAPID_PUBLIC_KEY may give
the public key too, else it is derived. The browser subscribes with the
public key; pywebpush signs each request with the private one (RFC 8292) and
encrypts the payload for the subscription (RFC 8291, aes128gcm).
"""
import base64
import json
import logging
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from diary import clock
from diary.extensions import db
from diary.notifications.channels import DeliveryError

log = logging.getLogger("diary.webpush")

KEY_FILE = "vapid_private.pem"
#: a push service keeps an undelivered reminder this long (the phone is off)
TTL_SECONDS = 6 * 3600
#: what the push service answers for a subscription that no longer exists
GONE = (404, 410)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key_path(instance_path: str) -> Path:
    return Path(instance_path) / KEY_FILE


def create_keys(instance_path: str) -> bool:
    """Write a new private key to the instance folder unless one exists; True if made."""
    path = _key_path(instance_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two `diary init` at once must not write two keys.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    key = ec.generate_private_key(ec.SECP256R1())
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    return True


def _parse_private(text: str) -> ec.EllipticCurvePrivateKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        return serialization.load_pem_private_key(text.encode(), password=None)
    raw = b64url_decode(text.replace("\n", ""))
    if len(raw) == 32:
        return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    return serialization.load_der_private_key(raw, password=None)


def private_key(config, instance_path: str) -> ec.EllipticCurvePrivateKey | None:
    """The VAPID private key: config / DIARY_VAPID_PRIVATE_KEY, else the instance file."""
    text = config.get("VAPID_PRIVATE_KEY") or os.environ.get("DIARY_VAPID_PRIVATE_KEY")
    if text:
        return _parse_private(text)
    path = _key_path(instance_path)
    if path.exists():
        return _parse_private(path.read_text())
    return None


def public_key(config, instance_path: str) -> str | None:
    """The application server key the browser subscribes with (base64url, uncompressed)."""
    given = config.get("VAPID_PUBLIC_KEY") or os.environ.get("DIARY_VAPID_PUBLIC_KEY")
    if given:
        return given.strip()
    key = private_key(config, instance_path)
    if key is None:
        return None
    return b64url(key.public_key().public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.UncompressedPoint))


def claims_subject(config) -> str:
    """The VAPID `sub` claim: a contact for the push service's operators."""
    return config.get("VAPID_SUBJECT") or f"mailto:{config.get('MAIL_FROM') or 'diary@localhost'}"


class WebPushChannel:
    """Sends an outbox row (recipient = a PushSubscription id) with pywebpush."""

    name = "webpush"

    def __init__(self, key: ec.EllipticCurvePrivateKey | None, subject: str, base_url: str,
                 timeout: float = 10.0):
        self.key, self.subject, self.base_url, self.timeout = key, subject, base_url, timeout

    def payload(self, message) -> str:
        # The notification shows the subject and body: no health data (clinical-rules.md, 7).
        return json.dumps({"title": message.subject, "body": message.body,
                           "url": self.base_url + "/", "tag": f"diary-{message.kind}"})

    def send(self, message) -> None:
        from py_vapid import Vapid
        from pywebpush import WebPushException, webpush

        from diary.reminders.models import PushSubscription

        if self.key is None:
            raise DeliveryError("no VAPID key: run `flask --app app diary init`")
        try:
            sub = db.session.get(PushSubscription, int(message.recipient))
        except ValueError:
            sub = None
        if sub is None:
            raise DeliveryError("the push subscription was removed")
        vapid = Vapid(private_key=self.key)
        try:
            webpush(sub.info(), data=self.payload(message), vapid_private_key=vapid,
                    vapid_claims={"sub": self.subject}, timeout=self.timeout, ttl=TTL_SECONDS)
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status in GONE:
                # The browser unsubscribed or the subscription expired: forget it.
                log.info("push subscription %s gone (%s): removed", sub.id, status)
                db.session.delete(sub)
                db.session.flush()
                raise DeliveryError(f"push subscription gone ({status}); removed") from exc
            raise DeliveryError(f"push service answered {status}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - network errors of requests
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        sub.last_success_at = clock.now_utc()


def channel_factory(config) -> WebPushChannel:
    from flask import current_app

    return WebPushChannel(private_key(config, current_app.instance_path), claims_subject(config),
                          config.get("BASE_URL", ""),
                          timeout=float(config.get("WEBPUSH_TIMEOUT", 10)))
