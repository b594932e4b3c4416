"""Staff pages write days and times in the reader's language (25 Nov 2026, 08:10;
25 nov. 2026, 08:10), not as ISO dates: the patient list and record, the dose plan, the
history, a correction, an audit history."""
import re
from html import unescape

import pytest

from diary.injections.models import InjectionRecord
from tests.helpers_checkins import body
from tests.helpers_injections import CURE2_TODAY_START, dose, taken_payload

ISO_DAY = re.compile(r"\b20\d\d-\d\d-\d\d\b")


def _page(client, url, language):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    return unescape(resp.get_data(as_text=True))


def _shown_text(html):
    """What the reader sees: no tags, no attribute values (links and field values may hold
    ISO dates, which browsers and date inputs need)."""
    return re.sub(r"<[^>]*>", " ", html)


@pytest.mark.parametrize("language,words", [
    ("en", {"cure1": "11 Nov 2026", "day": "25 Nov 2026", "taken": "25 Nov 2026, 08:10",
            "degrees": "36.9"}),
    ("fr", {"cure1": "11 nov. 2026", "day": "25 nov. 2026", "taken": "25 nov. 2026, 08:10",
            "degrees": "36,9"})])
def test_staff_pages_write_days_in_the_reader_language(client, auth, world, make_patient,
                                                       frozen_clock, language, words):
    patient = make_patient(world["site1"], "P-0009", cure1_start=CURE2_TODAY_START)
    auth.api_login("P-0009")
    checkin_id = client.post("/api/v1/checkins", json=body()).get_json()["id"]
    resp = client.post("/api/v1/injections", json=taken_payload(dose(patient, 2, 1)))
    assert resp.status_code == 201, resp.get_json()
    record = InjectionRecord.query.one()
    auth.logout()
    auth.login("coord1@example.org")
    pid = patient.id
    pages = {
        "list": _page(client, "/staff/patients", language),
        "record": _page(client, f"/staff/patients/{pid}", language),
        "plan": _page(client, f"/patients/{pid}/plan", language),
        "history": _page(client, f"/staff/patients/{pid}/history", language),
        "correction": _page(client, f"/staff/patients/{pid}/checkins/{checkin_id}/correct",
                            language),
        "dose correction": _page(client, f"/patients/{pid}/injections/{record.id}/correct",
                                 language),
        "audit": _page(client, f"/staff/patients/{pid}/audit/injection_record/{record.id}",
                       language),
    }
    assert words["cure1"] in pages["list"] and words["cure1"] in pages["record"]
    assert words["cure1"] in pages["plan"]  # the first dose of cure 1
    assert words["day"] in pages["history"] and words["day"] in pages["correction"]
    # the chart's tooltip: the day, the temperature with the language's decimal mark
    assert f"<title>{words['day']}: {words['degrees']} °C</title>" in pages["history"]
    for name in ("plan", "history", "dose correction"):  # the dose taken at 08:10 in Paris
        assert words["taken"] in pages[name], name
    assert words["day"] in pages["audit"]
    for name, html in pages.items():
        assert not ISO_DAY.findall(_shown_text(html)), name
