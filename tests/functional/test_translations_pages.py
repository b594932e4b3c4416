"""Pages in French: the browser's language chooses, a user can override it, numbers and units
follow the language (1,5 MUI), and nothing English is left on the patient's main pages."""
from datetime import date
from html import unescape

import pytest
from flask import g

# cure 2 day 1 (3 MIU at home) falls on FIXED_NOW's day; cure 1 (1.5 MIU) was in hospital
CURE1_START = date(2026, 11, 11)


@pytest.fixture
def patient(make_site, make_patient, frozen_clock):
    return make_patient(make_site(), "P-0042", cure1_start=CURE1_START)


def _speak(client, language):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language


def _page(client, url):
    # The test app keeps one app context, so `g` outlives a request; Flask-Babel caches the
    # chosen locale in g._flask_babel. A real request starts with a fresh `g`: so do we.
    g.pop("_flask_babel", None)
    return unescape(client.get(url).get_data(as_text=True))


def test_login_page_follows_the_browser_language(client):
    _speak(client, "fr-FR,fr;q=0.9,en;q=0.5")
    html = _page(client, "/login")
    assert '<html lang="fr">' in html
    assert "Se connecter" in html and "Code d'étude ou adresse e-mail" in html
    assert "Log in" not in html


def test_patient_today_and_calendar_in_french(client, auth, patient):
    _speak(client, "fr")
    auth.login("P-0042")
    today = _page(client, "/today")
    assert '<html lang="fr">' in today
    assert "Dose du jour : 3 MUI, à domicile." in today
    assert "mercredi 25 novembre 2026" in today
    calendar = _page(client, "/calendar")
    assert "1,5 MUI · à l'hôpital" in calendar
    assert "MIU" not in calendar and "1.5" not in calendar
    form = _page(client, "/checkin")
    assert "Taches rouges ou violettes sur la peau (jambes)" in form
    assert "Essoufflement" in form and "Fourmillements" in form


def test_english_browser_gets_english(client, auth, patient):
    _speak(client, "en-GB,en;q=0.9")
    auth.login("P-0042")
    today = _page(client, "/today")
    assert '<html lang="en">' in today
    assert "Today's dose: 3 MIU, at home." in today
    assert "1.5 MIU" in _page(client, "/calendar")


def test_the_patient_overrides_the_browser_language(client, auth, patient):
    _speak(client, "fr")
    auth.login("P-0042")
    resp = client.post("/language", data={"locale": "en"})
    assert resp.status_code == 302
    today = _page(client, "/today")
    assert '<html lang="en">' in today and "Today's dose" in today
    client.post("/language", data={"locale": "fr"})
    assert "Dose du jour" in _page(client, "/today")


def test_unknown_language_is_refused(client):
    resp = client.post("/language", data={"locale": "de"})
    assert resp.status_code == 422 or resp.status_code == 400
    assert client.get("/login").status_code == 200


def test_staff_alert_rules_in_precise_french(client, auth, make_site, make_staff, frozen_clock):
    site = make_site()
    make_staff("investigator", "inv@example.org", [site])
    _speak(client, "fr")
    auth.login("inv@example.org")
    html = _page(client, "/staff/alert-rules")
    assert "Règles d'alerte" in html
    assert "Appeler l'équipe de l'essai maintenant (ou le 15)" in html
    assert "Escalade vers les contacts d'escalade du site" in html


def test_check_in_review_in_french_takes_a_decimal_comma(client, auth, patient):
    _speak(client, "fr")
    auth.login("P-0042")
    g.pop("_flask_babel", None)
    resp = client.post("/checkin", data={
        "client_id": "c0ffee00-0000-4000-8000-000000000042", "diary_date": "2026-11-25",
        "temperature_c": "37,8", "symptom-purpura": "1", "site_diameter_cm": "2,5",
        "site_ulceration": "no"})
    html = unescape(resp.get_data(as_text=True))
    assert resp.status_code == 200, html
    assert "Vérifiez vos réponses" in html
    assert "mercredi 25 novembre 2026" in html
    assert "37,8 °C" in html and "2,5 cm de rougeur ou d'induration" in html
    assert "1 – Léger" in html


def test_check_in_error_in_french_names_the_range_with_commas(client, auth, patient):
    _speak(client, "fr")
    auth.login("P-0042")
    g.pop("_flask_babel", None)
    resp = client.post("/checkin", data={
        "client_id": "c0ffee00-0000-4000-8000-000000000043", "diary_date": "2026-11-25",
        "temperature_c": "45"})
    html = unescape(resp.get_data(as_text=True))
    assert resp.status_code == 422
    assert "doit être compris entre 34,0 et 43,0 °C" in html


def test_template_translations_follow_the_language_in_force_and_escape_their_values(app):
    """Templates' gettext and ngettext are bound once per render (core/setup.py): the
    language in force at the render (force_locale included), values escaped, `num` set."""
    from flask import render_template_string
    from flask_babel import force_locale

    source = ('{{ _("Next dose: %(date)s.", date=value) }}|'
              '{{ ngettext("%(num)d patient", "%(num)d patients", n) }}')
    with app.test_request_context(headers={"Accept-Language": "en"}):
        english = render_template_string(source, value="<b>", n=2)
        with force_locale("fr"):
            french = render_template_string(source, value="<b>", n=1)
        again = render_template_string(source, value="x", n=3)
    assert english == "Next dose: &lt;b&gt;.|2 patients"
    assert french == "Prochaine dose : &lt;b&gt;.|1 patient"
    assert again == "Next dose: x.|3 patients"
