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
    page.locator("#offline-queue").get_by_text("Waiting to be sent (1)").wait_for()
    # the day as the pages write it, not as the API carries it (2026-11-25)
    page.locator("#offline-queue").get_by_text("Check-in for 25 Nov 2026").wait_for()
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


def test_offline_dose_record_is_sent_with_its_time_and_offset(phone, frozen_clock, world,
                                                              make_patient, check_a11y):
    from datetime import date

    from diary.injections.models import InjectionRecord

    # cure 2 (at home) starts on FIXED_NOW's day, 2026-11-25
    patient = make_patient(world["site1"], "P-0050", cure1_start=date(2026, 11, 11))
    page = phone
    log_in(page, "P-0050")
    page.goto("/today")
    record_url = page.get_by_role("link", name="Record today's injection").get_attribute("href")
    wait_until_kept_offline(page, "/today", record_url)

    go_offline(page)
    page.goto(record_url)
    page.get_by_label("When did you inject it?").fill("2026-11-25T08:10")
    page.get_by_label("Where did you inject it?").select_option("thigh_right")
    page.get_by_role("button", name="Save: dose taken").click()
    page.locator(".offline-saved").wait_for()
    check_a11y(page)
    page.locator("#offline-queue").get_by_text("Dose taken at 25 Nov 2026, 08:10").wait_for()
    stored = page.evaluate("DiaryQueue.all().then(rows => rows.map(r => r.body))")
    assert len(stored) == 1
    body = stored[0]
    assert body["taken"] is True and body["site"] == "thigh_right" and body["dose_miu"] == 3
    assert body["taken_at"].startswith("2026-11-25T08:10:00")
    assert body["taken_at"][19:] in ("+00:00", "Z") or body["taken_at"][19] in "+-"

    page.context.set_offline(False)
    page.goto("/today")
    page.get_by_text("Everything you entered offline has been sent.").wait_for()
    db.session.expire_all()
    records = db.session.execute(sa.select(InjectionRecord)).scalars().all()
    mine = [r for r in records if r.scheduled_dose.patient_id == patient.id]
    assert len(mine) == 1
    assert mine[0].taken and mine[0].site == "thigh_right" and mine[0].client_id == body["client_id"]
