"""Staff pages write days in the reader's language (30 Nov 2026, 30 nov. 2026), not as
ISO dates: the patient list and record, the dose plan, the history and a correction."""
import re
from html import unescape

import pytest

from tests.helpers_checkins import body

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


@pytest.mark.parametrize("language,cure1,day,degrees", [
    ("en", "2 Nov 2026", "25 Nov 2026", "36.9"), ("fr", "2 nov. 2026", "25 nov. 2026", "36,9")])
def test_staff_pages_write_days_in_the_reader_language(client, auth, world, frozen_clock,
                                                       language, cure1, day, degrees):
    auth.api_login("P-0001")
    checkin_id = client.post("/api/v1/checkins", json=body()).get_json()["id"]
    auth.logout()
    auth.login("coord1@example.org")
    pid = world["pat1"].id
    pages = {
        "list": _page(client, "/staff/patients", language),
        "record": _page(client, f"/staff/patients/{pid}", language),
        "plan": _page(client, f"/patients/{pid}/plan", language),
        "history": _page(client, f"/staff/patients/{pid}/history", language),
        "correction": _page(client, f"/staff/patients/{pid}/checkins/{checkin_id}/correct",
                            language),
    }
    assert cure1 in pages["list"] and cure1 in pages["record"]
    assert cure1 in pages["plan"]  # the first dose of cure 1
    assert day in pages["history"] and day in pages["correction"]
    assert f"<title>{day}: {degrees} °C</title>" in pages["history"]  # the chart's tooltip
    for name, html in pages.items():
        assert not ISO_DAY.findall(_shown_text(html)), name
