"""Staff pages give times in the site's zone, the zone named, dates in the page's language.

Two sites: Paris (UTC+1 in November) and Cayenne (UTC-3, no summer time). The alert of each is
raised at 01:30 UTC on 26 November: 02:30 on the 26th in Paris, 22:30 on the 25th in Cayenne.
A time in UTC (01:30) must appear nowhere, nor the word UTC, except for what belongs to no site.
"""
from datetime import UTC, date, datetime, timedelta
from html import unescape

import pytest

from diary.alerts.acknowledgement import acknowledge
from diary.extensions import db
from diary.notifications import services
from diary.notifications.models import SchedulerLease
from tests.helpers_notifications import make_alert

RAISED = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)
ESCALATED = RAISED + timedelta(minutes=45)  # 02:15 UTC
ACKNOWLEDGED = RAISED + timedelta(hours=12, minutes=35)  # 14:05 UTC

# (site, zone, diary day, then each time as the site reads it) per language
EXPECTED = {
    "paris": {"zone": "Europe/Paris", "day": date(2026, 11, 26),
              "en": {"raised": "26 Nov 2026, 02:30 (Europe/Paris)",
                     "escalated": "26 Nov 2026, 03:15 (Europe/Paris)",
                     "acknowledged": "26 Nov 2026, 15:05 (Europe/Paris)",
                     "day": "26 Nov 2026"},
              "fr": {"raised": "26 nov. 2026, 02:30 (Europe/Paris)",
                     "escalated": "26 nov. 2026, 03:15 (Europe/Paris)",
                     "acknowledged": "26 nov. 2026, 15:05 (Europe/Paris)",
                     "day": "26 nov. 2026"}},
    "cayenne": {"zone": "America/Cayenne", "day": date(2026, 11, 25),
                "en": {"raised": "25 Nov 2026, 22:30 (America/Cayenne)",
                       "escalated": "25 Nov 2026, 23:15 (America/Cayenne)",
                       "acknowledged": "26 Nov 2026, 11:05 (America/Cayenne)",
                       "day": "25 Nov 2026"},
                "fr": {"raised": "25 nov. 2026, 22:30 (America/Cayenne)",
                       "escalated": "25 nov. 2026, 23:15 (America/Cayenne)",
                       "acknowledged": "26 nov. 2026, 11:05 (America/Cayenne)",
                       "day": "25 nov. 2026"}},
}
UTC_TIMES = ("01:30", "02:15", "14:05")


@pytest.fixture
def sites(make_site, make_staff, make_patient, frozen_clock):
    frozen_clock(ACKNOWLEDGED + timedelta(hours=1))
    paris = make_site("Paris", timezone="Europe/Paris")
    cayenne = make_site("Cayenne", timezone="America/Cayenne",
                        alert_emails=("alerts@cayenne.example.org",))
    w = {"paris": paris, "cayenne": cayenne,
         "inv_paris": make_staff("investigator", "inv-paris@example.org", [paris]),
         "inv_cayenne": make_staff("investigator", "inv-cayenne@example.org", [cayenne]),
         "admin": make_staff("admin", "admin@example.org", []),
         "pat_paris": make_patient(paris, "P-0001"),
         "pat_cayenne": make_patient(cayenne, "P-0101", cure1_start=date(2026, 11, 2))}
    for name in ("paris", "cayenne"):
        alert = make_alert(w[f"pat_{name}"], raised_at=RAISED,
                           diary_date=EXPECTED[name]["day"])
        alert.escalation_count, alert.last_escalated_at = 1, ESCALATED
        db.session.commit()
        w[f"alert_{name}"] = alert
    return w


def _acknowledge(w, name):
    acknowledge(w[f"alert_{name}"], user=w[f"inv_{name}"], action="Phoned the patient",
                now=ACKNOWLEDGED)
    db.session.commit()


def _page(client, url, language):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    resp = client.get(url)
    assert resp.status_code == 200, resp.status_code
    return unescape(resp.get_data(as_text=True))


def _no_utc(html):
    assert "UTC" not in html
    for time in UTC_TIMES:
        assert time not in html, time


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("name", ["paris", "cayenne"])
def test_inbox_in_the_site_zone(client, auth, sites, name, language):
    auth.login(f"inv-{name}@example.org")
    want = EXPECTED[name][language]
    html = _page(client, "/staff/alerts", language)
    if language == "en":
        assert f"Raised {want['raised']}, diary day {want['day']}" in html
    else:
        assert f"Déclenchée le {want['raised']}, journée du carnet du {want['day']}" in html
    _no_utc(html)
    _acknowledge(sites, name)
    html = _page(client, "/staff/alerts?status=acknowledged", language)
    word = "acknowledged" if language == "en" else "accusé de réception le"
    assert f"{word} {want['acknowledged']}" in html
    _no_utc(html)


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("name", ["paris", "cayenne"])
def test_alert_page_in_the_site_zone(client, auth, sites, name, language):
    auth.login(f"inv-{name}@example.org")
    want = EXPECTED[name][language]
    url = f"/staff/alerts/{sites[f'alert_{name}'].id}"
    html = _page(client, url, language)
    if language == "en":
        assert f"Raised {want['raised']}, diary day {want['day']}." in html
        assert f"Escalated 1 time(s), last {want['escalated']}." in html
        assert f"<dt>Received</dt><dd>{want['raised']}</dd>" in html
    else:
        assert f"Déclenchée le {want['raised']}, journée du carnet du {want['day']}." in html
        assert f"Escaladée 1 fois, la dernière le {want['escalated']}." in html
        assert f"<dt>Reçu</dt><dd>{want['raised']}</dd>" in html
    # the recent check-ins: the day, then when it was received
    assert f"<summary>{want['day']} · {want['raised']}" in html
    _no_utc(html)
    _acknowledge(sites, name)
    html = _page(client, url, language)
    by = "By" if language == "en" else "Par"
    on = "on" if language == "en" else "le"
    assert f"{by} inv-{name}@example.org {on} {want['acknowledged']}." in html
    _no_utc(html)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_admin_inbox_mixes_sites_each_in_its_own_zone(client, auth, sites, language):
    auth.login("admin@example.org")
    html = _page(client, "/staff/alerts", language)
    for name in ("paris", "cayenne"):
        assert EXPECTED[name][language]["raised"] in html
    _no_utc(html)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_outbox_rows_in_their_site_zone_and_siteless_ones_in_utc(client, auth, sites, language):
    # the alert e-mails of each site (written when the alerts were raised), one message of
    # no site, and the scheduler's heartbeat (no site either)
    services.enqueue(channel="email", recipient="someone@example.org", subject="Invitation",
                     body="Welcome", kind="invitation", now=datetime(2026, 11, 26, 9, 0, 7, tzinfo=UTC))
    db.session.add(SchedulerLease(name="scheduler", holder="host:1:x",
                                  expires_at=datetime(2026, 11, 26, 16, 0, tzinfo=UTC),
                                  last_beat_at=datetime(2026, 11, 26, 15, 59, 58, tzinfo=UTC),
                                  acquired_at=RAISED))
    db.session.commit()
    auth.login("admin@example.org")
    html = _page(client, "/admin/outbox", language)
    month = "Nov" if language == "en" else "nov."
    assert f"26 {month} 2026, 02:30:00 (Europe/Paris)" in html
    assert f"25 {month} 2026, 22:30:00 (America/Cayenne)" in html
    assert f"26 {month} 2026, 09:00:07 (UTC)" in html  # no site: UTC, and says so
    heartbeat = "Scheduler's last heartbeat:" if language == "en" else \
        "Dernier signe de vie du planificateur :"
    assert f"{heartbeat} 26 {month} 2026, 15:59:58 (UTC)." in html
    assert "01:30" not in html


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("name", ["paris", "cayenne"])
def test_outbox_message_page_in_the_site_zone(client, auth, sites, name, language, smtp):
    msg = services.enqueue(channel="email", recipient="team@example.org", subject="Alert",
                           body="An alert", kind="alert", now=RAISED,
                           site_id=sites[name].id)
    db.session.commit()
    assert services.deliver_due(ESCALATED, "w1").sent >= 1
    auth.login("admin@example.org")
    html = _page(client, f"/admin/outbox/{msg.id}", language)
    want = EXPECTED[name][language]
    created = want["raised"].replace(" (", ":00 (")
    sent = want["escalated"].replace(" (", ":00 (")
    if language == "en":
        assert f"<dt>Created</dt><dd>{created}</dd>" in html
        assert f"<dt>Sent</dt><dd>{sent}</dd>" in html
    else:
        assert f"<dt>Créé</dt><dd>{created}</dd>" in html
        assert f"<dt>Envoyé</dt><dd>{sent}</dd>" in html
    _no_utc(html)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_pending_message_of_no_site_shows_its_next_attempt_in_utc(client, auth, sites, language):
    msg = services.enqueue(channel="email", recipient="someone@example.org", subject="Invitation",
                           body="Welcome", kind="invitation", now=RAISED)
    db.session.commit()
    auth.login("admin@example.org")
    html = _page(client, f"/admin/outbox/{msg.id}", language)
    month = "Nov" if language == "en" else "nov."
    label = "Next attempt" if language == "en" else "Prochaine tentative"
    assert f"<dt>{label}</dt><dd>26 {month} 2026, 01:30:00 (UTC)</dd>" in html


@pytest.mark.parametrize("language", ["en", "fr"])
def test_dashboard_reminder_time_in_the_patient_site_zone(client, auth, sites, language,
                                                          make_staff):
    for name in ("paris", "cayenne"):
        services.enqueue(channel="email", recipient="p@example.org", subject="Reminder",
                         body="Time for your diary", kind="reminder", now=RAISED,
                         patient=sites[f"pat_{name}"])
    db.session.commit()
    make_staff("coordinator", "coord@example.org", [sites["paris"], sites["cayenne"]])
    auth.login("coord@example.org")
    html = _page(client, "/staff/dashboard", language)
    for name in ("paris", "cayenne"):
        assert EXPECTED[name][language]["raised"] in html
    assert "UTC" not in html and "01:30" not in html
