"""A world for the security tests: patient A's objects, one client per role, row counts.

Every object a URL parameter can name belongs to patient A ("P-0001") of site 1.
For patient B ("P-0002", same site), the staff of site 2 they belong to SOMEONE
ELSE; for patient A, the staff of site 1 and the admin they are in scope.
"""
import io
import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from PIL import Image

from diary.extensions import db
from tests.conftest import FIXED_NOW

#: role name in the tests -> login (None: anonymous)
LOGINS = {
    "anonymous": None,
    "patient_a": "P-0001",
    "patient_b": "P-0002",
    "inv1": "inv1@example.org",
    "coord1": "coord1@example.org",
    "inv2": "inv2@example.org",
    "coord2": "coord2@example.org",
    "admin": "admin@example.org",
}
#: role name in the tests -> the app's role
APP_ROLE = {"anonymous": None, "patient_a": "patient", "patient_b": "patient",
            "inv1": "investigator", "coord1": "coordinator", "inv2": "investigator",
            "coord2": "coordinator", "admin": "admin"}
#: whose scope covers patient A's objects
IN_SCOPE = {"patient_a", "inv1", "coord1", "admin"}


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@dataclass
class Objects:
    """Ids of patient A's objects, by the URL parameter names that name them."""

    params: dict = field(default_factory=dict)
    world: dict = field(default_factory=dict)


def build_objects(world) -> Objects:
    """A check-in with a photo and an alert, doses, an injection record, an outbox
    message, an enrolment code and an audit trail, all of patient A (site 1)."""
    from diary.accounts import staff_services
    from diary.alerts.models import Alert
    from diary.checkins import photos
    from diary.checkins.services import record_checkin
    from diary.notifications.services import enqueue
    from tests.helpers_dashboards import dose_of, take

    pat = world["pat1"]
    name, ctype = photos.store(png_bytes())
    saved = record_checkin(
        pat, {"client_id": str(uuid.uuid4()), "diary_date": "2026-11-25",
              "temperature_c": 39.4, "symptoms": {"asthenia": 2}, "note": "fever"},
        actor=pat.user, now=FIXED_NOW, photo=(name, ctype))
    checkin = saved.checkin
    alert = db.session.execute(
        sa.select(Alert).where(Alert.patient_id == pat.id)).scalars().first()
    assert alert is not None, "the fever should raise an alert"
    record = take(pat, 2, 1)  # a home dose, taken
    open_dose = dose_of(pat, 2, 3)  # a home dose with no record yet
    msg = enqueue(channel="email", recipient="p1@example.org", subject="Reminder",
                  body="Time for your check-in", kind="reminder", now=FIXED_NOW, patient=pat)
    # a second patient of site 1 waiting for enrolment: their code is on paper
    waiting, issued = staff_services.enrol_patient(
        study_code="P-0003", site=world["site1"], cure1_start=FIXED_NOW.date() - timedelta(days=3),
        actor=world["coord1"], now=FIXED_NOW)
    db.session.commit()
    params = {
        "patient_id": pat.id,
        "checkin_id": checkin.id,
        "alert_id": alert.id,
        "dose_id": open_dose.id,
        "record_id": record.id,
        "message_id": msg.id,
        "code": issued.code,
        "table": "checkins",
        "entity": "checkin",
        "object_id": checkin.id,
        "site_id": world["site1"].id,
    }
    return Objects(params=params, world=world)


_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def fill(rule: str, params: dict) -> str:
    """The rule's path with each `<conv:name>` replaced; KeyError on an unknown name."""
    def value(match):
        name = match.group(1)
        if name not in params:
            raise KeyError(
                f"URL parameter <{name}> in {rule} is not in the security tests' parameter "
                f"map (tests/helpers_security.py, build_objects): add an object of patient A "
                f"for it")
        return str(params[name])
    return _PARAM.sub(value, rule)


def param_names(rule: str) -> list[str]:
    return _PARAM.findall(rule)


def clients(app) -> dict:
    """One test client per role, logged in through the login form (CSRF off)."""
    from tests.conftest import PASSWORD
    result = {}
    for role, login in LOGINS.items():
        c = app.test_client()
        if login is not None:
            resp = c.post("/login", data={"login": login, "password": PASSWORD})
            assert resp.status_code == 302, (role, resp.status_code)
        result[role] = c
    return result


def state_changing_rules(app):
    """(rule, method) for every POST/PUT/PATCH/DELETE route of the app."""
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            out.append((rule, method))
    return sorted(out, key=lambda rm: (rm[0].rule, rm[1]))


def snapshot() -> dict:
    """Every row of every table (as sorted text): a stored or changed row shows up."""
    db.session.expire_all()
    return {table.name: sorted(repr(tuple(row)) for row in db.session.execute(sa.select(table)))
            for table in db.metadata.sorted_tables}


def diff(before: dict, after: dict) -> dict:
    """{table: (rows gone, rows new)} for the tables that changed."""
    out = {}
    for name in before:
        gone = sorted(set(before[name]) - set(after[name]))
        new = sorted(set(after[name]) - set(before[name]))
        if gone or new:
            out[name] = (gone, new)
    return out
