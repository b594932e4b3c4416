"""The outbox against a real SMTP server (aiosmtpd on 127.0.0.1): delivery, retries, workers."""
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from diary.extensions import db
from diary.notifications import services
from diary.notifications.models import OutboxMessage
from tests.conftest import FIXED_NOW
from tests.helpers_notifications import SmtpServer, self_signed_cert


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def _enqueue(n=1, recipient="team@site.example.org", now=FIXED_NOW, channel="email"):
    msgs = [services.enqueue(channel=channel, recipient=recipient, subject=f"Subject {i}",
                             body=f"Body {i}", kind="alert", now=now) for i in range(n)]
    db.session.commit()
    return [m.id for m in msgs]


def _row(message_id):
    db.session.expire_all()
    return db.session.get(OutboxMessage, message_id)


def _point_at(app, server):
    app.config.update(server.config())


def test_due_message_is_sent_over_smtp_and_marked_sent(app, smtp):
    _point_at(app, smtp)
    [mid] = _enqueue()
    report = services.deliver_due(FIXED_NOW, "w1")
    assert report.sent == 1
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert mail["To"] == "team@site.example.org"
    assert mail["From"] == "diary@trial.example.org"
    assert mail["Subject"] == "Subject 0"
    assert mail["X-Diary-Outbox-Id"] == str(mid)
    assert mail.get_content().strip() == "Body 0"
    row = _row(mid)
    assert (row.status, row.attempts, row.sent_at, row.delivered_via) == \
        ("sent", 1, FIXED_NOW, "smtp")
    assert row.claimed_by is None
    # delivered once: another run sends nothing more
    assert services.deliver_due(FIXED_NOW + timedelta(minutes=1), "w1").sent == 0
    assert len(smtp.messages) == 1


def test_message_not_yet_due_waits(app, smtp):
    _point_at(app, smtp)
    _enqueue(now=FIXED_NOW + timedelta(seconds=10))
    assert services.deliver_due(FIXED_NOW, "w1").sent == 0
    assert smtp.messages == []


def test_uncommitted_message_is_never_sent(app, smtp):
    """Nothing leaves before the transaction that wrote it committed."""
    _point_at(app, smtp)
    services.enqueue(channel="email", recipient="a@x.org", subject="s", body="b",
                     kind="alert", now=FIXED_NOW)
    other = {}

    def worker():
        with app.app_context():
            other["report"] = services.deliver_due(FIXED_NOW, "w2")
            db.session.remove()

    t = threading.Thread(target=worker)
    t.start()
    t.join(30)
    db.session.rollback()
    assert other["report"].sent == 0
    assert smtp.messages == []
    assert db.session.execute(sa.select(sa.func.count()).select_from(OutboxMessage)).scalar() == 0


def test_server_down_then_up_message_arrives_exactly_once(app, smtp):
    _point_at(app, smtp)
    smtp.stop()
    [mid] = _enqueue()
    report = services.deliver_due(FIXED_NOW, "w1")
    assert (report.sent, report.retried) == (0, 1)
    row = _row(mid)
    assert row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at == FIXED_NOW + timedelta(seconds=30)
    assert "Connection refused" in row.last_error or "Errno" in row.last_error
    # still down before the retry is due: nothing tried
    assert services.deliver_due(FIXED_NOW + timedelta(seconds=29), "w1").handled == 0
    smtp.start()
    assert services.deliver_due(FIXED_NOW + timedelta(seconds=29), "w1").sent == 0
    assert services.deliver_due(FIXED_NOW + timedelta(seconds=30), "w1").sent == 1
    assert services.deliver_due(FIXED_NOW + timedelta(hours=1), "w1").sent == 0
    assert len(smtp.messages) == 1
    row = _row(mid)
    assert (row.status, row.attempts) == ("sent", 2)


def test_retries_with_growing_delays_then_failed(app, smtp):
    _point_at(app, smtp)
    smtp.stop()
    [mid] = _enqueue()
    now = FIXED_NOW
    waits = []
    for _attempt in range(services.MAX_ATTEMPTS - 1):
        services.deliver_due(now, "w1")
        row = _row(mid)
        assert row.status == "pending"
        waits.append(row.next_attempt_at - now)
        now = row.next_attempt_at
    assert waits == [timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10),
                     timedelta(hours=1), timedelta(hours=6)]
    report = services.deliver_due(now, "w1")
    assert report.failed == 1
    row = _row(mid)
    assert (row.status, row.attempts) == ("failed", services.MAX_ATTEMPTS)
    assert row.last_error
    assert services.deliver_due(now + timedelta(days=1), "w1").handled == 0


def test_a_stale_claim_is_taken_over(app, smtp):
    """A worker that died after claiming does not hold the message for ever."""
    _point_at(app, smtp)
    [mid] = _enqueue()
    assert services.claim(mid, FIXED_NOW, "dead-worker")
    assert services.deliver_due(FIXED_NOW + timedelta(minutes=1), "w1").sent == 0
    assert services.deliver_due(FIXED_NOW + services.CLAIM_TIMEOUT + timedelta(seconds=1),
                                "w1").sent == 1
    assert len(smtp.messages) == 1


def test_two_workers_never_send_a_message_twice(app, smtp):
    _point_at(app, smtp)
    ids = _enqueue(n=30)
    reports, errors = {}, []
    barrier = threading.Barrier(2)

    def worker(name):
        try:
            with app.app_context():
                barrier.wait()
                reports[name] = services.deliver_due(FIXED_NOW, name, batch=100)
                db.session.remove()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert reports["w1"].sent + reports["w2"].sent == 30
    got = sorted(int(m["X-Diary-Outbox-Id"]) for m in smtp.messages)
    assert got == sorted(ids)  # each exactly once
    assert {_row(i).status for i in ids} == {"sent"}


@pytest.mark.config(SMTP_HOST=None)
def test_without_smtp_host_the_log_channel_delivers(app, caplog):
    [mid] = _enqueue()
    with caplog.at_level("INFO", logger="diary.outbox"):
        assert services.deliver_due(FIXED_NOW, "w1").sent == 1
    row = _row(mid)
    assert (row.status, row.delivered_via) == ("sent", "log")
    assert "Subject 0" in caplog.text


def test_a_channel_nobody_registered_is_a_recorded_failure(app, monkeypatch):
    from diary.notifications import channels

    monkeypatch.delitem(channels.FACTORIES, "webpush", raising=False)
    [mid] = _enqueue(channel="webpush")
    services.deliver_due(FIXED_NOW, "w1")
    row = _row(mid)
    assert row.status == "pending" and "no webpush channel" in row.last_error


def test_a_registered_channel_plugs_in(app, monkeypatch):
    from diary.notifications import channels

    sent = []

    class FakePush:
        name = "webpush"

        def send(self, message):
            sent.append(message.recipient)

    monkeypatch.setitem(channels.FACTORIES, "webpush", lambda config: FakePush())
    [mid] = _enqueue(channel="webpush", recipient="subscription-1")
    assert services.deliver_due(FIXED_NOW, "w1").sent == 1
    assert sent == ["subscription-1"]
    assert _row(mid).delivered_via == "webpush"


# --- TLS and login variants --------------------------------------------------------------

@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return self_signed_cert(tmp_path_factory.mktemp("smtp-cert"))


@pytest.mark.parametrize("mode,login", [("none", True), ("starttls", False),
                                        ("starttls", True), ("ssl", False), ("ssl", True)])
def test_tls_and_login_variants(app, cert, mode, login):
    server = SmtpServer(mode=mode, login=login, cert=cert).start()
    try:
        _point_at(app, server)
        [mid] = _enqueue()
        assert services.deliver_due(FIXED_NOW, "w1").sent == 1, _row(mid).last_error
        assert len(server.messages) == 1
        assert server.messages[0]["Subject"] == "Subject 0"
    finally:
        server.stop()


def test_wrong_password_is_a_recorded_failure(app, cert):
    server = SmtpServer(mode="starttls", login=True, cert=cert).start()
    try:
        _point_at(app, server)
        app.config["SMTP_PASSWORD"] = "wrong"
        [mid] = _enqueue()
        assert services.deliver_due(FIXED_NOW, "w1").retried == 1
        assert server.messages == []
        assert "Authentication" in _row(mid).last_error or "535" in _row(mid).last_error
    finally:
        server.stop()


def test_untrusted_certificate_is_refused(app, cert):
    server = SmtpServer(mode="ssl", cert=cert).start()
    try:
        _point_at(app, server)
        app.config.pop("SMTP_CA_FILE")
        [mid] = _enqueue()
        assert services.deliver_due(FIXED_NOW, "w1").retried == 1
        assert server.messages == []
        assert "CERTIFICATE_VERIFY_FAILED" in _row(mid).last_error
    finally:
        server.stop()


# --- the admin page ------------------------------------------------------------------------

def test_admin_outbox_shows_status_attempts_errors_and_log_messages(app, client, auth, make_staff):
    admin = make_staff("admin", "root@example.org")
    [failed_id] = _enqueue(recipient="bad@x.org")
    app.config["SMTP_HOST"] = None
    row = _row(failed_id)
    row.status, row.attempts, row.last_error = "failed", 6, "SMTPRecipientsRefused: no such user"
    _enqueue(recipient="log@x.org")
    db.session.commit()
    services.deliver_due(FIXED_NOW, "w1")
    auth.login(admin.email)
    page = client.get("/admin/outbox").get_data(as_text=True)
    assert 'class="outbox-failed"' in page
    assert "SMTPRecipientsRefused: no such user" in page
    assert "6 / 6" in page
    log_page = client.get("/admin/outbox?via=log").get_data(as_text=True)
    assert "log@x.org" in log_page and "bad@x.org" not in log_page
    log_id = _row(failed_id + 1).id
    detail = client.get(f"/admin/outbox/{log_id}").get_data(as_text=True)
    assert "Body 0" in detail
    # a failed message can be sent again
    resp = client.post(f"/admin/outbox/{failed_id}/retry")
    assert resp.status_code == 302
    assert _row(failed_id).status == "pending"


def test_outbox_is_for_admins_only(app, client, auth, make_site, make_staff):
    site = make_site()
    inv = make_staff("investigator", "inv@example.org", [site])
    auth.login(inv.email)
    assert client.get("/admin/outbox").status_code == 403
