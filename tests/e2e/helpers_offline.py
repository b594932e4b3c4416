"""Shared steps of the phone-first browser tests (issue 8)."""
from tests.conftest import PASSWORD


def log_in(page, login, password=PASSWORD):
    page.goto("/login")
    page.get_by_label("Study code or e-mail").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:500]


def wait_until_kept_offline(page, *paths):
    """The service worker controls the page and holds a copy of each path."""
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller",
                           timeout=15_000)
    for path in paths:
        page.wait_for_function(
            """async (path) => {
                 const cache = await caches.open('diary-pages');
                 return !!(await cache.match(new URL(path, location.href).href));
               }""", arg=path, timeout=15_000, polling=250)


def go_offline(page):
    page.context.set_offline(True)
    page.wait_for_function("() => !navigator.onLine")
