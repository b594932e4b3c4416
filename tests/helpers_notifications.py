"""Helpers for the outbox, alert-forwarding and scheduler tests: a real SMTP server.

`SmtpServer` runs aiosmtpd on 127.0.0.1 on a free port; it can be stopped and
started again on the same port (the mail server is down, then up). Optional
TLS (implicit SSL or STARTTLS) with a self-signed certificate made with the
`cryptography` package, and optional login.
"""
import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SMTP_USER, SMTP_PASSWORD = "diary", "s3cret-pass"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed_cert(directory) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and localhost, and its key; returns their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = f"{directory}/smtp-cert.pem", f"{directory}/smtp-key.pem"
    with open(cert_path, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    return cert_path, key_path


class Collector:
    """The aiosmtpd handler: keeps every message received, parsed."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content,
                                       policy=email.policy.default)
        with self.arrived:
            self.messages.append(msg)
            self.envelopes.append(envelope)
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.messages) >= count, timeout)


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
          and auth_data.password == SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


class SmtpServer:
    def __init__(self, mode: str = "none", login: bool = False, cert: tuple[str, str] | None = None):
        self.mode, self.login, self.cert = mode, login, cert
        self.port = free_port()
        self.handler = Collector()
        self.controller = None

    @property
    def messages(self):
        return self.handler.messages

    def config(self) -> dict:
        """The app settings (what DIARY_SMTP_* give) that point at this server."""
        cfg = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": self.port, "SMTP_TLS": self.mode,
               "MAIL_FROM": "diary@trial.example.org", "SMTP_TIMEOUT": 5}
        if self.login:
            cfg.update(SMTP_USER=SMTP_USER, SMTP_PASSWORD=SMTP_PASSWORD)
        if self.cert:
            cfg["SMTP_CA_FILE"] = self.cert[0]
        return cfg

    def _server_context(self):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*self.cert)
        return ctx

    def start(self):
        kwargs = {}
        if self.mode == "ssl":
            kwargs["ssl_context"] = self._server_context()
        elif self.mode == "starttls":
            kwargs.update(tls_context=self._server_context(), require_starttls=True)
        if self.login:
            kwargs.update(authenticator=_authenticator, auth_required=True,
                          auth_require_tls=self.mode == "starttls")
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     ready_timeout=10, **kwargs)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def make_alert(patient, *, tier="urgent", rule="U3", raised_at=None, diary_date=None,
               warning_signs=("fainting",), temperature_c=None, note="felt faint on stairs",
               fire_hooks=True):
    """A check-in and the alert it raised, as the check-in service stores them; then the
    on_alert_raised hooks, as it calls them for a new alert. Committed."""
    import uuid

    from flask import current_app

    from diary.alerts.models import Alert, AlertEvidence
    from diary.checkins.models import CheckIn
    from diary.extensions import db
    from tests.conftest import FIXED_NOW

    raised_at = raised_at or FIXED_NOW
    diary_date = diary_date or raised_at.date()
    checkin = CheckIn(patient_id=patient.id, client_id=str(uuid.uuid4()), diary_date=diary_date,
                      received_at=raised_at, late=False, temperature_c=temperature_c,
                      warning_signs=list(warning_signs), note=note, source="api",
                      recorded_by_id=patient.user_id)
    db.session.add(checkin)
    db.session.flush()
    alert = Alert(patient_id=patient.id, site_id=patient.site_id, rule=rule, tier=tier,
                  diary_date=diary_date, raised_at=raised_at, checkin_id=checkin.id,
                  status="open", escalation_count=0)
    db.session.add(alert)
    db.session.flush()
    db.session.add(AlertEvidence(alert_id=alert.id, checkin_id=checkin.id,
                                 values={"warning_signs": list(warning_signs)},
                                 recorded_at=raised_at))
    db.session.flush()
    if fire_hooks:
        for hook in current_app.extensions.get("diary.on_alert_raised", []):
            hook(alert, now=raised_at)
    db.session.commit()
    return alert
