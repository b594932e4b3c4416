"""Helpers for the reminder tests: a browser's push subscription and a push service on 127.0.0.1.

`PushService` is a tiny HTTP server standing in for a push service (FCM,
Mozilla autopush...). For each request it checks what a real one checks: the
VAPID JWT (RFC 8292) is signed by the app's key and names this service as its
audience; then it decrypts the body (RFC 8291, aes128gcm) with the
subscription's private key using http_ece, as the browser would.
"""
import base64
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class BrowserKeys:
    """What a browser makes when it subscribes: a P-256 key pair and a 16-byte auth secret."""

    def __init__(self):
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    @property
    def p256dh(self) -> str:
        return b64url(self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))

    def subscription(self, endpoint: str) -> dict:
        return {"endpoint": endpoint, "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)}}


def verify_vapid(authorization: str, app_public_key: str, audience: str) -> dict:
    """Check `vapid t=<jwt>, k=<key>` (RFC 8292); return the JWT claims or raise AssertionError."""
    assert authorization.startswith("vapid "), authorization
    parts = dict(p.strip().split("=", 1) for p in authorization[6:].split(","))
    assert parts["k"] == app_public_key, "signed with another key than the app's"
    header_b64, claims_b64, sig_b64 = parts["t"].split(".")
    header = json.loads(unb64url(header_b64))
    assert header["alg"] == "ES256"
    raw = unb64url(sig_b64)
    assert len(raw) == 64
    signature = encode_dss_signature(int.from_bytes(raw[:32], "big"),
                                     int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(app_public_key))
    try:
        key.verify(signature, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise AssertionError("VAPID signature does not verify") from exc
    claims = json.loads(unb64url(claims_b64))
    assert claims["aud"] == audience, claims
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600, claims
    assert claims["sub"].startswith(("mailto:", "https:")), claims
    return claims


class PushService:
    """A push service on 127.0.0.1 that verifies, decrypts and keeps what it receives."""

    def __init__(self, app_public_key: str):
        self.app_public_key = app_public_key
        self.subscribers: dict[str, BrowserKeys] = {}
        self.received: list[dict] = []  # {"path", "headers", "payload", "claims"}
        self.errors: list[str] = []
        self.status_for: dict[str, int] = {}  # path -> status to answer (e.g. 410)
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = service.status_for.get(self.path, 201)
                try:
                    service._check(self.path, self.headers, body)
                except Exception as exc:  # noqa: BLE001 - reported to the test
                    service.errors.append(f"{type(exc).__name__}: {exc}")
                    status = 400
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def new_subscription(self, name: str) -> dict:
        keys = BrowserKeys()
        self.subscribers[f"/push/{name}"] = keys
        return keys.subscription(f"{self.base}/push/{name}")

    def _check(self, path: str, headers, body: bytes) -> None:
        """`headers`: the request's headers (case-insensitive, as HTTP says)."""
        keys = self.subscribers[path]
        assert headers.get("Content-Encoding") == "aes128gcm", dict(headers)
        assert int(headers.get("TTL", "0")) > 0, dict(headers)
        claims = verify_vapid(headers["Authorization"], self.app_public_key, self.base)
        plain = http_ece.decrypt(body, private_key=keys.private, auth_secret=keys.auth,
                                 version="aes128gcm")
        self.received.append({"path": path, "headers": dict(headers), "claims": claims,
                              "payload": json.loads(plain)})

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
