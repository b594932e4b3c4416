"""Helpers for the staff account pages' tests: reading what the pages show."""
import re

import sqlalchemy as sa

from diary.audit.models import AuditEvent
from diary.extensions import db

CODE_RE = re.compile(r'id="enrolment-code">([0-9A-Z-]+)<')


def code_on_page(html: str) -> str:
    found = CODE_RE.search(html)
    assert found, "no enrolment code on the page"
    return found.group(1)


def enrol_form(site: int, **overrides) -> dict:
    data = {"study_code": "P-0042", "site_id": str(site), "cure1_start": "2026-12-01",
            "timezone": "", "contact_email": ""}
    data.update(overrides)
    return data


def audit_actions(entity: str | None = None) -> list[str]:
    stmt = sa.select(AuditEvent.action).order_by(AuditEvent.id)
    if entity:
        stmt = stmt.where(AuditEvent.entity == entity)
    return list(db.session.execute(stmt).scalars())


def choose_password(client, url: str, code: str, password: str):
    return client.post(url, data={"code": code, "password": password, "confirm": password})
