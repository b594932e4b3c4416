"""Offline on a phone: the pages open from the phone's copy, a check-in is kept in
IndexedDB with the urgent advice shown from the phone's rules, and it is sent once
when the phone is back online, even after the page was closed."""
import pytest
import sqlalchemy as sa

from diary.extensions import db
from tests.e2e.helpers_offline import go_offline, log_in, wait_until_kept_offline


def _checkins(patient):
    from diary.checkins.models import CheckIn

    db.session.expire_all()
    return db.session.execute(sa.select(CheckIn).where(CheckIn.patient_id == patient.id)
                              ).scalars().all()


@pytest.mark.parametrize("phone", ["pixel5", "iphone"], indirect=True)
def test_offline_checkin_waits_then_is_sent_once(phone, browser, live_server, check_a11y,
                                                 frozen_clock, world):
    page, patient = phone, world["pat1"]
    log_in(page, "P-0001")
    page.goto("/today")
    wait_until_kept_offline(page, "/today", "/checkin")

    go_offline(page)
    page.goto("/checkin")
    assert page.get_by_text("You are offline").first.is_visible()
    page.get_by_label("Temperature in °C, if you measured it").fill("38.2")
    page.get_by_text("Anything new or unusual?").click()
    page.get_by_label("Fainting or feeling faint").check()
    advice = page.locator(".offline-live").get_by_role("alert")
    assert "Call the trial team now" in advice.inner_text()
    assert "+33 1 42 16 00 00" in advice.inner_text()
    check_a11y(page)
    page.get_by_role("button", name="Save on this phone").click()

    saved = page.locator(".offline-saved")
    saved.wait_for()
    assert "kept on this phone" in saved.inner_text()
    assert page.get_by_role("alert").filter(has_text="Call the trial team now").first.is_visible()
    assert page.get_by_role("link", name="Call +33 1 42 16 00 00").first.get_attribute(
        "href") == "tel:+33142160000"
    assert _checkins(patient) == []

    page.goto("/today")  # the phone's copy of Today lists what waits
    queue = page.locator("#offline-queue")
    queue.wait_for()
    assert "Waiting to be sent (1)" in queue.inner_text()
    check_a11y(page)

    # the page is closed before the phone is back online: nothing is lost
    context = page.context
    page.close()
    context.set_offline(False)
    page = context.new_page()
    page.goto("/today")
    page.get_by_text("Everything you entered offline has been sent.").wait_for()
    assert page.locator("#offline-queue").is_hidden()
    rows = _checkins(patient)
    assert len(rows) == 1
    row = rows[0]
    assert row.temperature_c == 38.2
    assert row.device_recorded_at is not None
    assert row.warning_signs == ["fainting"]
    assert row.source == "api"  # it came through the JSON API, with the phone's client_id

    page.reload()  # a second visit sends nothing again
    page.wait_for_load_state("networkidle")
    assert len(_checkins(patient)) == 1
    check_a11y(page)
