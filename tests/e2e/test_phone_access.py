"""Patient pages at 200% zoom on a 360 px phone, and with the keyboard alone."""
import pytest

from tests.e2e.helpers_offline import log_in

PAGES = ("/today", "/checkin", "/calendar", "/offline")


@pytest.mark.parametrize("path", PAGES)
def test_no_horizontal_scroll_at_200_percent_zoom(browser, live_server, frozen_clock, world,
                                                  check_a11y, path):
    context = browser.new_context(base_url=live_server, viewport={"width": 180, "height": 400},
                                  device_scale_factor=2, locale="en-GB")  # 360 CSS px at 200%
    page = context.new_page()
    log_in(page, "P-0001")
    page.goto(path)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    check_a11y(page)
    context.close()
    assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"


def test_checkin_with_the_keyboard_alone(phone, frozen_clock, world):
    page = phone
    log_in(page, "P-0001")
    page.goto("/checkin")
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    names = []
    for _ in range(120):  # walk the form: every control is reachable, in order
        page.keyboard.press("Tab")
        names.append(page.evaluate(
            "(document.activeElement.name || '') + '|' + document.activeElement.textContent.trim()"))
        if names[-1].startswith("action|"):
            break
    assert names[-1] == "action|Review my answers"
    assert any(n.startswith("symptom-purpura|") for n in names)
    assert any(n.startswith("temperature_c|") for n in names)
    page.keyboard.press("Enter")  # submit from the keyboard: the review step
    page.get_by_role("heading", name="Check your answers").wait_for()
