"""The investigator's inbox on a phone: open an urgent alert, acknowledge it; accessible."""
from tests.conftest import PASSWORD
from tests.helpers_notifications import make_alert


def test_investigator_acknowledges_an_urgent_alert_on_a_phone(phone, check_a11y, world):
    make_alert(world["pat2"], tier="urgent", rule="U1")  # another site: never shown
    make_alert(world["pat1"], tier="within_24h", rule="D5", warning_signs=())
    alert = make_alert(world["pat1"], tier="urgent", rule="U3")
    phone.goto("/login")
    phone.get_by_label("Study code or e-mail").fill("inv1@example.org")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Log in").click()
    phone.wait_for_url("**/staff/alerts")
    check_a11y(phone)
    items = phone.locator(".alert-item").all_inner_texts()
    assert len(items) == 2 and "U3" in items[0] and "D5" in items[1]
    phone.get_by_role("link", name="URGENT P-0001 · rule U3").click()
    phone.wait_for_url(f"**/staff/alerts/{alert.id}")
    check_a11y(phone)
    assert "Fainting or feeling faint" in phone.content()
    phone.get_by_role("button", name="Acknowledge the alert").click()
    assert "Say what action was taken." in phone.locator(".error").inner_text()
    check_a11y(phone)
    phone.get_by_label("Action taken").fill("Phoned the patient, seen in clinic today")
    phone.get_by_role("button", name="Acknowledge the alert").click()
    phone.wait_for_url("**/staff/alerts")
    assert "Alert acknowledged" in phone.get_by_role("status").inner_text()
    assert len(phone.locator(".alert-item").all()) == 1


def test_inbox_touch_targets_at_least_44px(phone, world):
    make_alert(world["pat1"])
    phone.goto("/login")
    phone.get_by_label("Study code or e-mail").fill("inv1@example.org")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Log in").click()
    phone.wait_for_url("**/staff/alerts")
    small = phone.evaluate("""() => [...document.querySelectorAll(
            'main button, main input, main textarea, main a')]
        .filter(e => e.offsetParent !== null && e.type !== 'hidden')
        .map(e => [e.outerHTML.slice(0, 60), e.getBoundingClientRect().height])
        .filter(([, h]) => h < 44)""")
    assert small == []
