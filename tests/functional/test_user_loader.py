"""The session's user is loaded with the columns requests use; the others load when a
page needs them. The tests' own session is emptied first, so that every request
works from what the loader fetched, as in a server process."""
import sqlalchemy as sa

from diary.extensions import db
from diary.notifications.models import OutboxMessage


def _fresh():
    db.session.remove()  # nothing the factories loaded stays in the identity map


def test_the_user_loader_leaves_rarely_used_columns_for_later(app, make_site, make_patient):
    from diary.accounts.models import User
    from diary.accounts.views import load_user

    site = make_site()
    patient = make_patient(site, contact_email="p7@example.org")
    user_id = patient.user_id
    _fresh()
    user = load_user(str(user_id))
    state = sa.inspect(user)
    assert {"password_hash", "failed_logins", "locked_until"} <= state.unloaded
    assert {"contact_email", "withdrawn_at"} <= sa.inspect(user.patient).unloaded
    assert {"alert_emails", "escalation_emails"} <= sa.inspect(user.patient.site).unloaded
    # what the loader left out is still there on first use
    assert user.patient.contact_email == "p7@example.org"
    assert user.patient.site.alert_emails == ["alerts@site.example.org"]
    assert db.session.get(User, user_id).password_hash.startswith("$argon2id$")


def test_pages_that_need_the_other_columns_read_them(app, client, auth, make_site,
                                                     make_patient, frozen_clock):
    site = make_site()
    make_patient(site, contact_email="p7@example.org")
    _fresh()
    csrf = auth.api_login("P-0007")
    _fresh()
    # the reminder settings read the patient's contact e-mail
    page = client.get("/settings")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Sent to the address you gave the trial team." in text
    _fresh()
    # a new alert's e-mail goes to the site's alert addresses
    resp = client.post("/api/v1/checkins", headers={"X-CSRFToken": csrf}, json={
        "client_id": "5d0c8a52-37a5-4b0e-9b0f-4f6f1c1a0001", "temperature_c": 40.2,
        "symptoms": {}, "injection_site": {"diameter_cm": 0, "ulceration": False}})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert resp.get_json()["alerts"]
    _fresh()
    recipients = db.session.execute(sa.select(OutboxMessage.recipient).where(
        OutboxMessage.kind == "alert")).scalars().all()
    assert recipients == ["alerts@site.example.org"]
