"""The navigation bar: each feature registers its entries for the roles that use them."""
from dataclasses import dataclass

from flask import url_for


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


def nav_items(user) -> list[dict]:
    return [{"url": url_for(item.endpoint), "label": str(item.label)}
            for item in NAV if user.role in item.roles]
