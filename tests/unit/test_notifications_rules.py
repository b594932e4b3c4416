"""Pure parts of delivery and escalation: backoff, escalation steps, protocol delays."""
from datetime import date, timedelta
from types import SimpleNamespace

import pytest

from diary.alerts.forwarding import escalation_minutes, escalation_step
from diary.notifications.channels import SmtpChannel
from diary.notifications.services import MAX_ATTEMPTS, retry_delay
from tests.conftest import FIXED_NOW


def test_backoff_grows_then_gives_up():
    delays = [retry_delay(n) for n in range(1, MAX_ATTEMPTS + 1)]
    assert delays[:-1] == [timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10),
                           timedelta(hours=1), timedelta(hours=6)]
    assert delays[-1] is None


def test_escalation_delays_come_from_the_protocol_file():
    assert escalation_minutes("vascu-il2") == {"urgent": 60, "within_24h": 1440,
                                               "routine": 10080}


@pytest.mark.parametrize("tier,waited,step", [
    ("urgent", timedelta(minutes=59, seconds=59), 0),
    ("urgent", timedelta(minutes=60), 1),
    ("urgent", timedelta(minutes=179), 2),
    ("within_24h", timedelta(hours=23, minutes=59), 0),
    ("within_24h", timedelta(hours=24), 1),
    ("routine", timedelta(days=7), 1),
])
def test_escalation_step(tier, waited, step):
    alert = SimpleNamespace(tier=tier, raised_at=FIXED_NOW)
    delays = {"urgent": 60, "within_24h": 1440, "routine": 10080}
    assert escalation_step(alert, FIXED_NOW + waited, delays) == step


def test_smtp_default_ports_and_bad_tls_mode():
    def make(tls, port=None):
        return SmtpChannel(host="h", port=port, user=None, password=None, tls=tls,
                           mail_from="d@x.org")

    assert (make("none").port, make("starttls").port, make("ssl").port) == (25, 587, 465)
    assert make("ssl", 2465).port == 2465
    with pytest.raises(ValueError):
        make("tls")


def test_email_is_plain_text_with_a_stable_message_id():
    channel = SmtpChannel(host="h", port=None, user=None, password=None, tls="none",
                          mail_from="diary@trial.example.org")
    msg = SimpleNamespace(id=17, recipient="a@x.org", subject="S", body="Body",
                          created_at=FIXED_NOW)
    mail = channel.build(msg)
    assert mail["To"] == "a@x.org" and mail.get_content_type() == "text/plain"
    assert "outbox-17" in mail["Message-ID"] and mail["X-Diary-Outbox-Id"] == "17"
    assert date(2026, 11, 25).strftime("%d %b %Y") in mail["Date"]
