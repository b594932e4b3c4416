"""The whole journey on phones (Pixel 5 and iPhone sizes), axe-core on every page visited.

A coordinator enrols a patient and hands over the one-time code; the patient sets a
password with it, records today's dose, saves a check-in with a warning sign and
sees the call-now advice; goes offline, saves a check-in that waits on the phone,
comes back online and sees it sent once; an investigator acknowledges the alert;
the coordinator's adherence dashboard shows the patient.
"""
from datetime import date

import pytest
import sqlalchemy as sa

from diary.extensions import db
from tests.conftest import PASSWORD
from tests.e2e.helpers_offline import go_offline, log_in, wait_until_kept_offline

NEW_PASSWORD = "a long and private sentence"
#: FIXED_NOW is 2026-11-25: with cure 1 on 11 November, cure 2 (at home) starts today
CURE1_START = date(2026, 11, 11)


def _rows(model, **where):
    db.session.expire_all()
    query = sa.select(model).filter_by(**where)
    return db.session.execute(query).scalars().all()


def new_context(browser, live_server, phone):
    from tests.e2e.conftest import PHONES

    context = browser.new_context(base_url=live_server, locale="en-GB", **PHONES[phone])
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


@pytest.mark.parametrize("phone", ["pixel5", "iphone"], indirect=True)
def test_patient_journey(request, phone, browser, live_server, check_a11y, frozen_clock, world):
    from diary.accounts.models import Patient
    from diary.alerts.models import Alert
    from diary.checkins.models import CheckIn
    from diary.injections.models import InjectionRecord

    size = request.node.callspec.params["phone"]
    staff = new_context(browser, live_server, size)

    # 1. the coordinator enrols P-0042 and reads out the one-time code
    log_in(staff, "coord1@example.org", PASSWORD)
    staff.goto("/staff/patients/new")
    check_a11y(staff)
    staff.get_by_label("Study code").fill("P-0042")
    staff.get_by_label("Start of cure 1 (day 1)").fill(CURE1_START.isoformat())
    staff.get_by_role("button", name="Enrol and get the code").click()
    code = staff.locator("#enrolment-code").inner_text().strip()
    check_a11y(staff)
    staff.get_by_role("button", name="Log out").click()

    # 2. the patient sets a password with the code, on the phone
    page = phone
    page.goto("/enrol")
    check_a11y(page)
    page.get_by_label("Your one-time code").fill(code)
    page.get_by_label("Choose a password (at least 10 characters)").fill(NEW_PASSWORD)
    page.get_by_label("Type the password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save my password").click()
    page.wait_for_url("**/today")
    assert "Welcome. Your password is set." in page.get_by_role("status").first.inner_text()
    check_a11y(page)
    patient = _rows(Patient, study_code="P-0042")[0]

    # 3. today's dose (cure 2, day 1, at home)
    page.get_by_role("link", name="Record today's injection").click()
    check_a11y(page)
    page.get_by_role("button", name="Save: dose taken").click()
    page.wait_for_url("**/today")
    assert "Dose recorded. Thank you." in page.content()
    records = [r for r in _rows(InjectionRecord) if r.scheduled_dose.patient_id == patient.id]
    assert len(records) == 1 and records[0].taken and records[0].dose_miu == 3.0
    check_a11y(page)

    # 4. a check-in with a warning sign: review, save, call-now advice
    page.goto("/checkin")
    check_a11y(page)
    page.get_by_text("Anything new or unusual?").click()
    page.get_by_label("Coughing up blood").check()
    page.get_by_role("button", name="Review my answers").click()
    check_a11y(page)
    page.get_by_role("button", name="Save", exact=True).click()
    advice = page.get_by_role("alert")
    assert "Call the trial team now" in advice.inner_text()
    assert "+33 1 42 16 00 00" in advice.inner_text()
    check_a11y(page)

    # 5. offline: a check-in waits on the phone, then is sent once
    page.goto("/today")
    wait_until_kept_offline(page, "/today", "/checkin")
    go_offline(page)
    page.goto("/checkin")
    page.get_by_label("Temperature in °C, if you measured it").fill("37.9")
    page.get_by_role("button", name="Save on this phone").click()
    page.locator(".offline-saved").wait_for()
    page.goto("/today")
    page.locator("#offline-queue").get_by_text("Waiting to be sent (1)").wait_for()
    check_a11y(page)
    assert len(_rows(CheckIn, patient_id=patient.id)) == 1
    page.context.set_offline(False)
    page.get_by_text("Everything you entered offline has been sent.").wait_for()
    assert page.locator("#offline-queue").is_hidden()
    checkins = _rows(CheckIn, patient_id=patient.id)
    assert len(checkins) == 2
    assert sorted(c.temperature_c or 0 for c in checkins) == [0, 37.9]
    page.reload()
    page.wait_for_load_state("networkidle")
    assert len(_rows(CheckIn, patient_id=patient.id)) == 2

    # 6. the investigator acknowledges the urgent alert
    inv = new_context(browser, live_server, size)
    log_in(inv, "inv1@example.org", PASSWORD)
    inv.goto("/staff/alerts")
    check_a11y(inv)
    alert = [a for a in _rows(Alert, patient_id=patient.id) if a.tier == "urgent"][0]
    inv.goto(f"/staff/alerts/{alert.id}")
    check_a11y(inv)
    inv.get_by_label("Action taken").fill("Phoned P-0042: seen in clinic this afternoon")
    inv.get_by_role("button", name="Acknowledge the alert").click()
    inv.wait_for_url("**/staff/alerts")
    assert "Alert acknowledged" in inv.get_by_role("status").inner_text()
    assert _rows(Alert, id=alert.id)[0].status == "acknowledged"
    inv.context.close()

    # 7. the coordinator's adherence dashboard shows the patient
    log_in(staff, "coord1@example.org", PASSWORD)
    staff.goto("/staff/dashboard")
    assert "P-0042" in staff.locator("main").inner_text()
    check_a11y(staff)
    staff.context.close()
