"""E-mails to a site's staff are in the site's language, whoever or whatever triggers them.

The scheduler (no request, no locale) writes escalations and adherence summaries;
a patient's check-in (the patient's language) raises new alerts. A French site
gets French staff e-mails every time, an English site English ones. Admins and
the command line set the language; an unknown one is refused.
"""
import json
import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import get_locale
from flask_babel import gettext as _

from diary import scheduler
from diary.accounts.models import Site
from diary.alerts.forwarding import alert_message
from diary.audit.models import AuditEvent
from diary.extensions import db
from diary.notifications import services
from diary.notifications.models import OutboxMessage
from tests.conftest import FIXED_NOW
from tests.helpers_accounts import audit_actions
from tests.helpers_notifications import make_alert

# words of the triggering check-in (make_alert's fainting and note), in either language
HEALTH_WORDS = ("faint", "stairs", "malaise", "évanou", "escalier", "symptom", "symptôme")
CURE1 = date(2026, 11, 8)  # cure 2 (home doses, daily check-ins) runs from 2026-11-22


@pytest.fixture
def sites(make_site, make_staff, make_patient):
    fr = make_site("Hopital Nord", alert_emails=("alertes@nord.example.org",),
                   escalation_emails=("chef@nord.example.org",), language="fr")
    en = make_site("Site One", alert_emails=("alerts@one.example.org",),
                   escalation_emails=("chief@one.example.org",), language="en")
    make_staff("coordinator", "coord@nord.example.org", [fr])
    make_staff("coordinator", "coord@one.example.org", [en])
    return {"fr": fr, "en": en,
            "pat_fr": make_patient(fr, "P-0001", cure1_start=CURE1),
            "pat_en": make_patient(en, "P-0101", cure1_start=CURE1)}


def _mails_to(smtp, address):
    return [m for m in smtp.messages if m["To"] == address]


def _subject(mail) -> str:
    return " ".join(mail["Subject"].split())  # a long subject comes back folded


def _text(mail) -> str:
    return _subject(mail) + "\n" + mail.get_content()


def _no_health_data(text: str) -> None:
    for word in HEALTH_WORDS:
        assert word not in text.lower(), word


def _scheduler(app, now):
    """The scheduler as its process runs it: its own app context, no request."""
    runner = scheduler.Runner(app, "test-scheduler")
    assert runner.beat(now)
    return runner


# --- from the scheduler -------------------------------------------------------------------------

def test_scheduler_escalation_is_in_each_sites_language(app, sites, smtp):
    make_alert(sites["pat_fr"], tier="urgent", rule="U3", fire_hooks=False)
    make_alert(sites["pat_en"], tier="urgent", rule="U3", fire_hooks=False)
    later = FIXED_NOW + timedelta(minutes=60)
    runner = _scheduler(app, later)
    assert runner.run(scheduler.escalation_job, later)
    assert runner.run(scheduler.deliver_job, later)
    assert smtp.handler.wait_for(2) and len(smtp.messages) == 2

    [fr] = _mails_to(smtp, "chef@nord.example.org")
    assert _subject(fr) == ("[Carnet IL-2] ESCALADE : alerte de niveau URGENT du patient P-0001 "
                             "sans accusé de réception")
    body = fr.get_content()
    assert "n'a pas reçu d'accusé de réception depuis 60 minutes" in body
    assert "Ce message ne contient aucune donnée de santé." in body
    assert "http://diary.test/staff/alerts/" in body
    _no_health_data(_text(fr))

    [en] = _mails_to(smtp, "chief@one.example.org")
    assert _subject(en) == ("[IL-2 diary] ESCALATION: URGENT alert for patient P-0101 "
                             "not acknowledged")
    assert "has not been acknowledged for 60 minutes" in en.get_content()
    _no_health_data(_text(en))


def test_escalation_numbers_follow_the_sites_language(app, sites):
    """A routine alert open for 8 weeks: 1,344 hours in English, 1 344 heures in French."""
    make_alert(sites["pat_fr"], tier="routine", rule="R2", warning_signs=(), fire_hooks=False)
    make_alert(sites["pat_en"], tier="routine", rule="R2", warning_signs=(), fire_hooks=False)
    later = FIXED_NOW + timedelta(days=56)
    assert _scheduler(app, later).run(scheduler.escalation_job, later)
    db.session.expire_all()
    bodies = dict(db.session.execute(
        sa.select(OutboxMessage.recipient, OutboxMessage.body)
        .where(OutboxMessage.kind == "escalation")).all())
    assert "depuis 1\u202f344 heures." in bodies["chef@nord.example.org"]
    assert "for 1,344 hours." in bodies["chief@one.example.org"]


def test_scheduler_adherence_summary_is_in_each_sites_language(app, sites, smtp):
    runner = _scheduler(app, FIXED_NOW)
    assert runner.run(scheduler.adherence_job, FIXED_NOW)
    assert runner.run(scheduler.deliver_job, FIXED_NOW)
    assert smtp.handler.wait_for(2) and len(smtp.messages) == 2

    [fr] = _mails_to(smtp, "coord@nord.example.org")
    assert _subject(fr) == "[Carnet IL-2] Résumé d'observance Hopital Nord 25 novembre 2026"
    body = fr.get_content()
    assert "Résumé quotidien de l'observance pour Hopital Nord, 25 novembre 2026." in body
    dose_part, checkin_part = body.split("Deux questionnaires attendus manquants d'affilée")
    assert "Dose à domicile non enregistrée hier :" in dose_part and "P-0001" in dose_part
    assert "P-0001" in checkin_part and "P-0101" not in body
    assert "Ce message ne contient aucune donnée de santé." in body

    [en] = _mails_to(smtp, "coord@one.example.org")
    assert _subject(en) == "[IL-2 diary] Adherence summary Site One November 25, 2026"
    body = en.get_content()
    assert "Daily adherence summary for Site One, November 25, 2026." in body
    assert "A home dose with no record yesterday:" in body and "P-0101" in body
    assert "P-0001" not in body


# --- from a request in another language ---------------------------------------------------------

def _urgent_checkin(client, auth, study_code, language):
    auth.api_login(study_code)
    resp = client.post("/api/v1/checkins", headers={"Accept-Language": language}, json={
        "client_id": str(uuid.uuid4()), "diary_date": "2026-11-25",
        "device_recorded_at": "2026-11-25T10:25:00+01:00", "temperature_c": 37.2,
        "symptoms": {"asthenia": 1}, "new_or_worse": [], "warning_signs": ["fainting"],
        "note": "felt faint on the stairs"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp


def test_english_checkin_at_a_french_site_emails_the_team_in_french(
        app, client, auth, sites, smtp, frozen_clock):
    _urgent_checkin(client, auth, "P-0001", "en")
    assert services.deliver_due(FIXED_NOW, "w1").sent == 1
    [mail] = _mails_to(smtp, "alertes@nord.example.org")
    assert _subject(mail) == "[Carnet IL-2] Alerte de niveau URGENT : patient P-0001"
    assert mail.get_content().startswith(
        "Le patient P-0001 a une alerte de niveau URGENT (règle U3) : ouvrez le carnet.")
    _no_health_data(_text(mail))


def test_french_checkin_at_an_english_site_emails_the_team_in_english(
        app, client, auth, sites, smtp, frozen_clock):
    _urgent_checkin(client, auth, "P-0101", "fr-FR,fr;q=0.9")
    assert services.deliver_due(FIXED_NOW, "w1").sent == 1
    [mail] = _mails_to(smtp, "alerts@one.example.org")
    assert _subject(mail) == "[IL-2 diary] URGENT alert: patient P-0101"
    assert mail.get_content().startswith("Patient P-0101 has an alert of level URGENT (rule U3)")


def test_the_request_keeps_its_own_language_after_a_staff_email(app, sites):
    alert = make_alert(sites["pat_fr"], fire_hooks=False)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert str(get_locale()) == "en"
        subject, _body = alert_message(alert)
        assert subject.startswith("[Carnet IL-2] Alerte de niveau")
        assert str(get_locale()) == "en"
        assert _("This message carries no health data.") == "This message carries no health data."


# --- setting the language: admin page and command line -----------------------------------------

def _site_form(**overrides) -> dict:
    data = {"name": "Hopital Sud", "timezone": "Europe/Paris", "phone": "+33 4 91 00 00 00",
            "alert_emails": "alerts@sud.example.org", "escalation_emails": "chief@sud.example.org",
            "language": "en"}
    data.update(overrides)
    return data


def _site(name):
    db.session.expire_all()
    return db.session.execute(sa.select(Site).where(Site.name == name)).scalar_one_or_none()


def test_admin_creates_a_site_with_its_language_audited(client, auth, world, frozen_clock):
    auth.login("admin@example.org")
    page = client.get("/admin/sites").get_data(as_text=True)
    assert '<option value="fr" lang="fr" selected>Français</option>' in page  # the default
    assert client.post("/admin/sites", data=_site_form()).status_code == 302
    site = _site("Hopital Sud")
    assert site.language == "en"
    event = db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.entity == "site", AuditEvent.entity_id == str(site.id))).scalar_one()
    assert json.loads(event.after)["language"] == "en"
    # a form without the field (an older page) gets the default
    assert client.post("/admin/sites", data={
        k: v for k, v in _site_form(name="Hopital Est").items() if k != "language"}
    ).status_code == 302
    assert _site("Hopital Est").language == "fr"


def test_admin_form_refuses_an_unknown_language(client, auth, world):
    auth.login("admin@example.org")
    events = len(audit_actions())
    resp = client.post("/admin/sites", data=_site_form(language="de"))
    assert resp.status_code == 422
    assert "Unknown language: de. Choose one of: en, fr." in resp.get_data(as_text=True)
    assert _site("Hopital Sud") is None and len(audit_actions()) == events


def test_admin_changes_a_sites_language_audited(client, auth, world, frozen_clock):
    site = world["site1"]
    assert site.language == "fr"  # the default of a new site
    auth.login("admin@example.org")
    url = f"/admin/sites/{site.id}/language"
    resp = client.post(url, data={"language": "en"})
    assert resp.status_code == 302
    assert "Language of the e-mails to the team of Site One: English." in \
        client.get("/admin/sites").get_data(as_text=True)
    assert _site("Site One").language == "en"
    event = db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.entity == "site", AuditEvent.action == "update")).scalar_one()
    assert json.loads(event.before) == {"language": "fr"}
    assert json.loads(event.after) == {"language": "en"}
    assert event.actor_id == world["admin"].id and event.site_id == site.id
    # the same language again changes nothing and records nothing
    assert client.post(url, data={"language": "en"}).status_code == 302
    assert audit_actions("site").count("update") == 1

    bad = client.post(url, data={"language": "xx"})
    assert bad.status_code == 422
    assert "Unknown language: xx. Choose one of: en, fr." in bad.get_data(as_text=True)
    assert _site("Site One").language == "en"
    assert client.post("/admin/sites/99999/language", data={"language": "fr"}).status_code == 404


@pytest.mark.parametrize("who", ["coord1", "inv1"])
def test_only_admins_change_a_sites_language(client, auth, world, who):
    auth.login(f"{who}@example.org")
    resp = client.post(f"/admin/sites/{world['site1'].id}/language", data={"language": "en"})
    assert resp.status_code == 403
    assert _site("Site One").language == "fr"


def test_cli_create_site_language(runner):
    base = ["diary", "create-site", "--phone", "+33 1 42 16 00 00"]
    r = runner.invoke(args=[*base, "--name", "Pitie"])
    assert r.exit_code == 0, r.output
    assert _site("Pitie").language == "fr"
    r = runner.invoke(args=[*base, "--name", "London", "--timezone", "Europe/London",
                            "--language", "en"])
    assert r.exit_code == 0, r.output
    assert _site("London").language == "en"
    r = runner.invoke(args=[*base, "--name", "Berlin", "--language", "de"])
    assert r.exit_code == 1
    assert "Unknown language: de. Choose one of: en, fr." in r.output
    assert "Traceback" not in r.output and _site("Berlin") is None
