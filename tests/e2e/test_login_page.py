"""The login page on a phone: usable, accessible, in both languages."""
from tests.conftest import PASSWORD


def test_patient_logs_in_on_a_phone(phone, check_a11y, world):
    phone.goto("/login")
    check_a11y(phone)
    phone.get_by_label("Study code or e-mail").fill("P-0001")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Log in").click()
    phone.wait_for_load_state()
    assert "/login" not in phone.url
    check_a11y(phone)


def test_wrong_password_message_is_announced(phone, world):
    phone.goto("/login")
    phone.get_by_label("Study code or e-mail").fill("P-0001")
    phone.get_by_label("Password").fill("not the password")
    phone.get_by_role("button", name="Log in").click()
    alert = phone.get_by_role("alert")
    assert "Wrong login or password" in alert.inner_text()


def test_no_horizontal_scroll_at_360px_and_200_percent_zoom(browser, live_server):
    context = browser.new_context(base_url=live_server, viewport={"width": 180, "height": 400},
                                  device_scale_factor=2)  # 360 CSS px at 200% zoom
    page = context.new_page()
    page.goto("/login")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    context.close()
    assert overflow <= 0


def test_touch_targets_at_least_44px(phone, world):
    phone.goto("/login")
    small = phone.evaluate("""() => [...document.querySelectorAll('button, input, select, a.button')]
        .filter(e => e.offsetParent !== null && e.type !== 'hidden')
        .map(e => [e.outerHTML.slice(0, 60), e.getBoundingClientRect().height])
        .filter(([, h]) => h < 44)""")
    assert small == []
