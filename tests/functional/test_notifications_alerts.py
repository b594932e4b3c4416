"""Alert forwarding, the investigator's inbox and acknowledgement, the alerts API, escalation."""
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from diary.alerts.forwarding import escalate_due
from diary.alerts.models import Alert
from diary.audit.models import AuditEvent
from diary.extensions import db
from diary.notifications import services
from diary.notifications.models import OutboxMessage
from tests.conftest import FIXED_NOW
from tests.helpers_notifications import make_alert

HEALTH_WORDS = ("fainting", "faint", "stairs", "39", "temperature", "symptom")


@pytest.fixture
def team(make_site, make_staff, make_patient):
    # an English-speaking site: these tests read the e-mails' English words
    site = make_site("Site One", alert_emails=("alerts-a@site.example.org",
                                               "alerts-b@site.example.org"),
                     escalation_emails=("chief@site.example.org",), language="en")
    other = make_site("Site Two", alert_emails=("alerts@two.example.org",))
    return {
        "site": site, "other": other,
        "inv": make_staff("investigator", "inv1@example.org", [site]),
        "coord": make_staff("coordinator", "coord1@example.org", [site]),
        "inv2": make_staff("investigator", "inv2@example.org", [other]),
        "pat": make_patient(site, "P-0007"),
        "pat2": make_patient(other, "P-0101"),
    }


def _outbox(**where):
    db.session.expire_all()
    stmt = sa.select(OutboxMessage).order_by(OutboxMessage.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(OutboxMessage, key) == value)
    return db.session.execute(stmt).scalars().all()


def test_urgent_checkin_through_the_api_emails_the_alert_list_without_health_data(
        app, client, auth, team, smtp, frozen_clock):
    auth.api_login("P-0007")
    resp = client.post("/api/v1/checkins", json={
        "client_id": str(uuid.uuid4()), "diary_date": "2026-11-25",
        "device_recorded_at": "2026-11-25T10:25:00+01:00", "temperature_c": 37.2,
        "symptoms": {"asthenia": 1}, "new_or_worse": [], "warning_signs": ["fainting"],
        "note": "felt faint on the stairs"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    alert_id = next(a["id"] for a in resp.get_json()["alerts"] if a["tier"] == "urgent")
    # written in the check-in's transaction, delivered by the delivery job
    assert len(_outbox(kind="alert")) == 2
    assert services.deliver_due(FIXED_NOW, "w1").sent == 2
    assert sorted(m["To"] for m in smtp.messages) == ["alerts-a@site.example.org",
                                                      "alerts-b@site.example.org"]
    for mail in smtp.messages:
        text = (mail["Subject"] + "\n" + mail.get_content()).lower()
        assert "p-0007" in text and "urgent" in text and "u3" in text
        assert f"http://diary.test/staff/alerts/{alert_id}" in text
        for word in HEALTH_WORDS:
            assert word not in text, word
    # the same check-in sent again (idempotent) sends nothing more
    assert services.deliver_due(FIXED_NOW + timedelta(minutes=5), "w1").sent == 0
    assert len(smtp.messages) == 2


def test_within_24h_is_forwarded_routine_is_not(app, team):
    make_alert(team["pat"], tier="within_24h", rule="D3", warning_signs=("leg_ulcer",))
    make_alert(team["pat"], tier="routine", rule="R2", warning_signs=(),
               diary_date=FIXED_NOW.date() - timedelta(days=1))
    msgs = _outbox()
    assert len(msgs) == 2
    assert {m.related_id for m in msgs} == {db.session.execute(
        sa.select(Alert.id).where(Alert.tier == "within_24h")).scalar_one()}
    assert "WITHIN 24 H" in msgs[0].subject


def test_same_address_twice_gets_one_message(app, make_site, make_patient):
    site = make_site("Dup", alert_emails=("x@site.org", "x@site.org"))
    make_alert(make_patient(site, "P-0900"))
    assert [m.recipient for m in _outbox()] == ["x@site.org"]


# --- inbox and alert page --------------------------------------------------------------------

def test_inbox_lists_open_alerts_of_own_sites_urgent_first(app, client, auth, team):
    make_alert(team["pat"], tier="within_24h", rule="D5", raised_at=FIXED_NOW - timedelta(hours=3))
    make_alert(team["pat"], tier="urgent", rule="U1", raised_at=FIXED_NOW)
    make_alert(team["pat2"], tier="urgent", rule="U4")
    auth.login("inv1@example.org")
    resp = client.get("/staff/alerts")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert page.index("rule U1") < page.index("rule D5")
    assert "P-0101" not in page
    # the investigator's home is the inbox
    assert client.get("/").headers["Location"].endswith("/staff/alerts")


def test_alert_page_shows_triggering_checkin_and_history(app, client, auth, team):
    make_alert(team["pat"], tier="routine", rule="R1", temperature_c=38.2, warning_signs=(),
               raised_at=FIXED_NOW - timedelta(days=2), note="older one")
    alert = make_alert(team["pat"], temperature_c=38.6, note="felt faint on stairs")
    auth.login("inv1@example.org")
    page = client.get(f"/staff/alerts/{alert.id}").get_data(as_text=True)
    assert "Fainting or feeling faint" in page
    assert "38.6" in page and "felt faint on stairs" in page
    assert "older one" in page and "38.2" in page
    assert 'name="action"' in page


def test_alert_page_links_the_photo(app, client, auth, team):
    alert = make_alert(team["pat"])
    alert.checkin.photo_file, alert.checkin.photo_content_type = "abc.jpg", "image/jpeg"
    db.session.commit()
    auth.login("inv1@example.org")
    page = client.get(f"/staff/alerts/{alert.id}").get_data(as_text=True)
    assert f'href="/checkins/{alert.checkin_id}/photo"' in page


def test_other_site_alert_is_404(app, client, auth, team):
    alert = make_alert(team["pat2"])
    auth.login("inv1@example.org")
    assert client.get(f"/staff/alerts/{alert.id}").status_code == 404
    assert client.post(f"/staff/alerts/{alert.id}/acknowledge",
                       data={"action": "x"}).status_code == 404


def test_acknowledge_on_the_page_requires_an_action_and_is_audited(app, client, auth, team,
                                                                  frozen_clock):
    alert = make_alert(team["pat"])
    auth.login("inv1@example.org")
    resp = client.post(f"/staff/alerts/{alert.id}/acknowledge", data={"action": "   "})
    assert resp.status_code == 422
    assert "Say what action was taken." in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Alert, alert.id).status == "open"
    resp = client.post(f"/staff/alerts/{alert.id}/acknowledge",
                       data={"action": "phoned the patient, visit tomorrow"})
    assert resp.status_code == 302
    db.session.expire_all()
    stored = db.session.get(Alert, alert.id)
    assert stored.status == "acknowledged"
    assert stored.acknowledged_by_id == team["inv"].id
    assert stored.acknowledged_at == FIXED_NOW
    assert stored.action == "phoned the patient, visit tomorrow"
    event = db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.action == "alert.acknowledge")).scalar_one()
    assert event.entity_id == str(alert.id) and event.actor_id == team["inv"].id
    assert "rule U3" not in client.get("/staff/alerts").get_data(as_text=True)


def test_coordinator_reads_but_cannot_acknowledge_on_the_page(app, client, auth, team):
    alert = make_alert(team["pat"])
    auth.login("coord1@example.org")
    page = client.get(f"/staff/alerts/{alert.id}").get_data(as_text=True)
    assert 'name="action"' not in page
    assert client.post(f"/staff/alerts/{alert.id}/acknowledge",
                       data={"action": "x"}).status_code == 403


# --- the API ----------------------------------------------------------------------------------

def test_api_lists_alerts_by_status(app, client, auth, team):
    a1 = make_alert(team["pat"], tier="within_24h", rule="D5")
    a2 = make_alert(team["pat"], tier="urgent", rule="U1")
    make_alert(team["pat2"])
    auth.api_login("coord1@example.org")
    body = client.get("/api/v1/alerts?status=open").get_json()
    assert [a["id"] for a in body["alerts"]] == [a2.id, a1.id]
    first = body["alerts"][0]
    assert first == {**first, "patient": "P-0007", "rule": "U1", "tier": "urgent",
                     "status": "open", "checkin_id": a2.checkin_id}
    assert first["raised_at"].startswith("2026-11-25T09:30:00")
    assert client.get("/api/v1/alerts?status=acknowledged").get_json() == {"alerts": []}
    assert len(client.get("/api/v1/alerts?status=all").get_json()["alerts"]) == 2
    bad = client.get("/api/v1/alerts?status=closed")
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"]["status"]


def test_api_acknowledge(app, client, auth, team, frozen_clock):
    alert = make_alert(team["pat"])
    auth.api_login("inv1@example.org")
    url = f"/api/v1/alerts/{alert.id}/acknowledge"
    empty = client.post(url, json={"action": "  "})
    assert empty.status_code == 422
    assert empty.get_json()["error"]["fields"] == {"action": "required"}
    resp = client.post(url, json={"action": "phoned the patient, visit tomorrow"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "acknowledged" and body["id"] == alert.id
    assert body["acknowledged_by"] == "inv1@example.org"
    assert body["acknowledged_by_id"] == team["inv"].id
    assert body["action"] == "phoned the patient, visit tomorrow"
    listed = client.get("/api/v1/alerts?status=acknowledged").get_json()["alerts"]
    assert [(a["id"], a["acknowledged_by"]) for a in listed] == [(alert.id, "inv1@example.org")]
    assert body["acknowledged_at"].startswith("2026-11-25T09:30:00")
    again = client.post(url, json={"action": "again"})
    assert again.status_code == 409
    assert client.post(url, data="not json", content_type="application/json").status_code == 400


def test_api_acknowledge_forbidden_and_not_found(app, client, auth, team):
    alert = make_alert(team["pat"])
    other = make_alert(team["pat2"])
    auth.api_login("coord1@example.org")
    assert client.post(f"/api/v1/alerts/{alert.id}/acknowledge",
                       json={"action": "x"}).status_code == 403
    auth.logout()
    client.delete("/api/v1/session")
    auth.api_login("inv1@example.org")
    resp = client.post(f"/api/v1/alerts/{other.id}/acknowledge", json={"action": "x"})
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    client.delete("/api/v1/session")
    assert client.get("/api/v1/alerts").status_code == 401
    auth.api_login("P-0007")
    assert client.get("/api/v1/alerts").status_code == 403


# --- escalation ---------------------------------------------------------------------------------

def test_escalation_fires_at_the_delay_and_not_a_minute_before(app, team, smtp):
    alert = make_alert(team["pat"], tier="urgent", raised_at=FIXED_NOW)
    services.deliver_due(FIXED_NOW, "w1")
    assert len(smtp.messages) == 2
    assert escalate_due(FIXED_NOW + timedelta(minutes=59)) == 0
    assert _outbox(kind="escalation") == []
    assert escalate_due(FIXED_NOW + timedelta(minutes=60)) == 1
    assert escalate_due(FIXED_NOW + timedelta(minutes=61)) == 0  # once per delay
    services.deliver_due(FIXED_NOW + timedelta(minutes=61), "w1")
    escalations = [m for m in smtp.messages if m["To"] == "chief@site.example.org"]
    assert len(escalations) == 1
    text = escalations[0]["Subject"] + escalations[0].get_content()
    assert "P-0007" in text and "ESCALATION" in text and "faint" not in text.lower()
    db.session.expire_all()
    stored = db.session.get(Alert, alert.id)
    assert stored.escalation_count == 1
    assert stored.last_escalated_at == FIXED_NOW + timedelta(minutes=60)
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "alert.escalate")).scalar() == 1
    # the next delay: a second step
    assert escalate_due(FIXED_NOW + timedelta(minutes=119)) == 0
    assert escalate_due(FIXED_NOW + timedelta(minutes=120)) == 1
    assert len(_outbox(kind="escalation")) == 2


def test_within_24h_escalates_after_a_day_and_acknowledged_never(app, team):
    open_alert = make_alert(team["pat"], tier="within_24h", rule="D5", warning_signs=())
    acked = make_alert(team["pat"], tier="urgent", rule="U1")
    acked.status, acked.acknowledged_by_id = "acknowledged", team["inv"].id
    acked.acknowledged_at, acked.action = FIXED_NOW, "called"
    db.session.commit()
    assert escalate_due(FIXED_NOW + timedelta(hours=23, minutes=59)) == 0
    assert escalate_due(FIXED_NOW + timedelta(hours=24)) == 1
    assert [m.related_id for m in _outbox(kind="escalation")] == [open_alert.id]


def test_routine_alert_escalates_after_seven_days(app, team):
    make_alert(team["pat"], tier="routine", rule="R2", warning_signs=())
    assert _outbox() == []
    assert escalate_due(FIXED_NOW + timedelta(days=7) - timedelta(minutes=1)) == 0
    assert escalate_due(FIXED_NOW + timedelta(days=7)) == 1
    assert [m.recipient for m in _outbox(kind="escalation")] == ["chief@site.example.org"]
