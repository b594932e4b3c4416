"""Channels: how an outbox message leaves the building.

A channel is any object with a `name` and `send(message)` that returns on
success and raises `DeliveryError` (or any exception) on failure. The outbox
row's `channel` column (email, webpush, log) picks the factory registered
here; a later Web Push channel registers itself with `register("webpush", ...)`.
"""
import logging
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Protocol

log = logging.getLogger("diary.outbox")


class DeliveryError(Exception):
    """The message could not be delivered this time; it will be retried."""


class Channel(Protocol):
    name: str

    def send(self, message) -> None: ...


class LogChannel:
    """The demo's channel: writes the message to the log; the admin reads it in the app."""

    name = "log"

    def send(self, message) -> None:
        # Alembic's fileConfig (run in-process by `diary init` and the demo) disables the
        # loggers that exist at that time; this channel's output must survive it.
        log.disabled = False
        log.info("message %s to %s: %s", message.id, message.recipient, message.subject)


class SmtpChannel:
    """E-mail over SMTP: plain, STARTTLS or SSL, with or without login (DIARY_SMTP_*)."""

    name = "smtp"
    DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}

    def __init__(self, *, host: str, port: int | None, user: str | None, password: str | None,
                 tls: str, mail_from: str, timeout: float = 15.0, ca_file: str | None = None):
        if tls not in self.DEFAULT_PORTS:
            raise ValueError(f"DIARY_SMTP_TLS must be none, starttls or ssl, not {tls!r}")
        self.host, self.user, self.password, self.tls = host, user, password, tls
        self.port = port or self.DEFAULT_PORTS[tls]
        self.mail_from, self.timeout, self.ca_file = mail_from, timeout, ca_file

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def build(self, message) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.mail_from
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Date"] = format_datetime(message.created_at)
        # A stable id per outbox row lets a mail system recognise a re-sent copy.
        domain = self.mail_from.rpartition("@")[2] or "diary.local"
        mail["Message-ID"] = make_msgid(idstring=f"outbox-{message.id}", domain=domain)
        mail["X-Diary-Outbox-Id"] = str(message.id)
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(message.body)
        return mail

    def send(self, message) -> None:
        mail = self.build(message)
        try:
            if self.tls == "ssl":
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                        context=self._context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.tls == "starttls":
                    smtp.starttls(context=self._context())
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(mail, from_addr=self.mail_from, to_addrs=[message.recipient])
        except (TimeoutError, smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc


def smtp_from_config(config) -> SmtpChannel | None:
    if not config.get("SMTP_HOST"):
        return None
    return SmtpChannel(host=config["SMTP_HOST"], port=config.get("SMTP_PORT"),
                       user=config.get("SMTP_USER"), password=config.get("SMTP_PASSWORD"),
                       tls=config.get("SMTP_TLS") or "none",
                       mail_from=config.get("MAIL_FROM") or "diary@localhost",
                       timeout=float(config.get("SMTP_TIMEOUT", 15)),
                       ca_file=config.get("SMTP_CA_FILE"))


def _email(config) -> Channel:
    # No SMTP host configured: the demo's log channel stands in for e-mail.
    return smtp_from_config(config) or LogChannel()


def _log(config) -> Channel:
    return LogChannel()


FACTORIES: dict[str, Callable[[dict], Channel]] = {"email": _email, "log": _log}


def register(channel: str, factory: Callable[[dict], Channel]) -> None:
    """Plug a channel in (e.g. webpush): `factory(app.config)` returns the channel."""
    FACTORIES[channel] = factory


def channel_for(channel: str, config) -> Channel:
    factory = FACTORIES.get(channel)
    if factory is None:
        raise DeliveryError(f"no {channel} channel is configured")
    return factory(config)
