"""Check-ins: the one validation path (page and API), saving, history for the rules.

`clean(data, patient, now)` turns an API-shaped dict into checked values or
raises `Invalid` naming every field at fault; `record_checkin(...)` stores a
check-in, evaluates the alert rules and returns the result the patient sees.
"""
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from numbers import Real

import sqlalchemy as sa
from flask_babel import format_decimal
from flask_babel import gettext as _

from diary import audit
from diary.checkins import protocol_data
from diary.checkins.items import (
    DIAMETER_RANGE,
    MAX_GRADE,
    MIN_GRADE,
    NOTE_MAX,
    SYMPTOMS,
    TEMPERATURE_RANGE,
    WARNING_SIGNS,
)
from diary.checkins.models import CheckIn, CheckInSymptom
from diary.clock import local_date
from diary.errors import Conflict, Invalid
from diary.extensions import db

CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def _number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _one_decimal(value) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def window(patient, now: datetime) -> tuple[date, date]:
    """The diary days a check-in may be entered for: (earliest, today)."""
    today = local_date(now, patient.tz)
    back = int(protocol_data.windows(patient.protocol).get("checkin_days_back", 1))
    return today - timedelta(days=back), today


def clean(data: dict, patient, now: datetime) -> dict:
    """Checked values of one check-in, or Invalid naming each field at fault."""
    errors: dict[str, str] = {}
    out: dict = {}

    client_id = data.get("client_id")
    if not isinstance(client_id, str) or not CLIENT_ID_RE.match(client_id):
        errors["client_id"] = _("required: an identifier of 1 to 64 letters, digits or dashes")
    out["client_id"] = client_id

    earliest, today = window(patient, now)
    raw_date = data.get("diary_date")
    diary_date = None
    if raw_date is None:
        diary_date = today
    elif not isinstance(raw_date, str):
        errors["diary_date"] = _("a date YYYY-MM-DD is required")
    else:
        try:
            diary_date = date.fromisoformat(raw_date)
        except ValueError:
            errors["diary_date"] = _("a date YYYY-MM-DD is required")
    if diary_date is not None:
        if diary_date > today:
            errors["diary_date"] = _("a check-in cannot be for a day that has not come yet")
        elif diary_date < earliest:
            errors["diary_date"] = _("a check-in can be entered for today or yesterday only")
    out["diary_date"] = diary_date
    out["late"] = diary_date is not None and diary_date < today

    raw_device = data.get("device_recorded_at")
    out["device_recorded_at"] = None
    if raw_device is not None:
        try:
            moment = datetime.fromisoformat(raw_device) if isinstance(raw_device, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            errors["device_recorded_at"] = _("a date and time with its UTC offset is required")
        else:
            out["device_recorded_at"] = moment

    temp = data.get("temperature_c")
    out["temperature_c"] = None
    if temp is not None:
        low, high = TEMPERATURE_RANGE
        if not _number(temp):
            errors["temperature_c"] = _("a number of degrees C is required")
        elif not low <= temp <= high:
            errors["temperature_c"] = _("must be between %(low)s and %(high)s °C",
                                        low=format_decimal(low, format="0.0"),
                                        high=format_decimal(high, format="0.0"))
        else:
            out["temperature_c"] = _one_decimal(temp)

    symptoms = data.get("symptoms")
    out["symptoms"] = {}
    if symptoms is None:
        symptoms = {}
    if not isinstance(symptoms, dict):
        errors["symptoms"] = _("an object of item codes and grades is required")
    else:
        for code, grade in symptoms.items():
            key = f"symptoms.{code}"
            if code not in SYMPTOMS:
                errors[key] = _("unknown item")
            elif grade is None:
                continue  # not answered
            elif not isinstance(grade, int) or isinstance(grade, bool):
                errors[key] = _("a whole number from 0 to 4 is required")
            elif not MIN_GRADE <= grade <= MAX_GRADE:
                errors[key] = _("a whole number from 0 to 4 is required")
            else:
                out["symptoms"][code] = grade

    for name, known in (("new_or_worse", SYMPTOMS), ("warning_signs", WARNING_SIGNS)):
        value = data.get(name)
        if value is None:
            value = []
        out[name] = []
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            errors[name] = _("a list of codes is required")
            continue
        unknown = [c for c in value if c not in known]
        if unknown:
            errors[name] = _("unknown codes: %(codes)s", codes=", ".join(unknown[:10]))
            continue
        out[name] = [c for c in known if c in value]  # canonical order, no duplicates

    site = data.get("injection_site")
    out["injection_site"] = {"diameter_cm": None, "ulceration": None}
    if site is not None and not isinstance(site, dict):
        errors["injection_site"] = _("an object with diameter_cm and ulceration is required")
    elif site:
        diameter, ulceration = site.get("diameter_cm"), site.get("ulceration")
        low, high = DIAMETER_RANGE
        if diameter is not None:
            if not _number(diameter):
                errors["injection_site.diameter_cm"] = _("a number of cm is required")
            elif not low <= diameter <= high:
                errors["injection_site.diameter_cm"] = _(
                    "must be between %(low)s and %(high)s cm", low=int(low), high=int(high))
            else:
                out["injection_site"]["diameter_cm"] = _one_decimal(diameter)
        if ulceration is not None:
            if not isinstance(ulceration, bool):
                errors["injection_site.ulceration"] = _("true or false is required")
            else:
                out["injection_site"]["ulceration"] = ulceration

    note = data.get("note")
    if note is None:
        note = ""
    if not isinstance(note, str):
        errors["note"] = _("text is required")
        note = ""
    elif len(note) > NOTE_MAX:
        errors["note"] = _("at most %(n)s characters", n=NOTE_MAX)
    out["note"] = note.strip()

    if errors:
        raise Invalid(_("Some answers need a second look."), errors)
    return out


# --- storing ---------------------------------------------------------------

def find_by_client_id(client_id) -> CheckIn | None:
    if not isinstance(client_id, str):
        return None
    return db.session.execute(
        sa.select(CheckIn).where(CheckIn.client_id == client_id)).scalar_one_or_none()


def values_of(checkin) -> dict:
    """A stored check-in (a CheckIn, or a row with its columns) as the rules and the API
    see it; graded items are added by the caller for a row."""
    return {
        "diary_date": checkin.diary_date,
        "temperature_c": checkin.temperature_c,
        "symptoms": checkin.grades if isinstance(checkin, CheckIn) else {},
        "new_or_worse": checkin.new_or_worse if isinstance(checkin, CheckIn) else [],
        "warning_signs": list(checkin.warning_signs or []),
        "injection_site": {"diameter_cm": checkin.site_diameter_cm,
                           "ulceration": checkin.site_ulceration},
    }


@dataclass
class Saved:
    checkin: CheckIn
    created: bool
    alerts: list  # [(Alert, rule, tier)] for every rule that fired on this check-in
    advice: str


def record_checkin(patient, data: dict, *, actor, now: datetime, source: str = "api",
                   photo: tuple[str, str] | None = None) -> Saved:
    """Validate, store and evaluate one check-in; the same client_id again changes nothing."""
    from diary.alerts import services as alert_services

    try:
        values = clean(data, patient, now)
    except Invalid:
        # a replay is answered with what was stored, whatever it carries this time
        existing = find_by_client_id(data.get("client_id"))
        if existing is None:
            raise
        return _replayed(existing, patient)
    offset = None
    if values["device_recorded_at"] is not None:
        offset = int(values["device_recorded_at"].utcoffset().total_seconds() // 60)
    row = dict(
        patient_id=patient.id, client_id=values["client_id"], diary_date=values["diary_date"],
        device_recorded_at=values["device_recorded_at"], device_utc_offset_min=offset,
        received_at=now, late=values["late"], temperature_c=values["temperature_c"],
        site_diameter_cm=values["injection_site"]["diameter_cm"],
        site_ulceration=values["injection_site"]["ulceration"],
        warning_signs=values["warning_signs"], note=values["note"], source=source,
        recorded_by_id=actor.id if actor is not None else None,
        photo_file=photo[0] if photo else None, photo_content_type=photo[1] if photo else None,
    )
    items = []
    for code in SYMPTOMS:
        grade = values["symptoms"].get(code)
        marked = code in values["new_or_worse"]
        if grade is not None or marked:
            items.append({"code": code, "grade": grade, "new_or_worse": marked})
    history = None
    try:
        if db.session.get_bind().dialect.name == "postgresql":
            # One statement, one round trip: the check-in, its items and the rules'
            # history (data-modifying WITHs; the query sees the database as it was
            # before them, so the new check-in is not in its own history)
            checkin_id, history = _insert_with_history(patient, row, items)
        else:
            # Two INSERT statements rather than the unit of work: this runs for every
            # check-in, and the rows are known in full.
            checkin_id = db.session.execute(_insert_statement(), row).scalar_one()
            if items:  # a statement compiled once, the rows sent together (executemany)
                db.session.execute(_items_insert_statement(),
                                   [dict(item, checkin_id=checkin_id) for item in items])
    except sa.exc.IntegrityError:
        # The same client_id arrived twice at once and the other request stored it.
        # The check-in is this request's first write, so rolling back loses nothing
        # (a SAVEPOINT is not used: with pysqlite, RELEASE would commit early).
        # The same client_id sent again (an offline queue replaying) ends here too: the
        # unique index answers, so a new check-in costs no lookup beforehand.
        db.session.rollback()
        existing = find_by_client_id(values["client_id"])
        if existing is None:
            raise
        return _replayed(existing, patient)
    # The stored check-in as an object for the rules, the audit event and the answer;
    # it is not added to the session (it is in the database already).
    checkin = CheckIn(id=checkin_id, **row)
    checkin.symptoms = [CheckInSymptom(checkin_id=checkin_id, **item) for item in items]
    audit.record("create", "checkin", checkin.id, actor=actor, now=now, patient=patient,
                 after=to_json(checkin) | {"photo": bool(photo)})
    raised = alert_services.raise_alerts(patient, checkin, now, history=history)
    from diary.alerts.rules import advice_for
    return Saved(checkin, True, raised, advice_for(raised))


def _replayed(existing: CheckIn, patient) -> Saved:
    if existing.patient_id != patient.id:
        raise Conflict(_("This check-in identifier is already used."),
                       {"client_id": _("already used")})
    return stored_result(existing)


def stored_result(checkin: CheckIn) -> Saved:
    """What a check-in raised, read back (idempotent replay, the advice page)."""
    from diary.alerts import services as alert_services
    from diary.alerts.rules import advice_for

    raised = alert_services.alerts_for_checkin(checkin)
    return Saved(checkin, False, raised, advice_for(raised))


@cache
def _insert_statement():
    return CheckIn.__table__.insert().returning(CheckIn.__table__.c.id)


@cache
def _items_insert_statement():
    return CheckInSymptom.__table__.insert()


def _history_query(*, exclude: bool = True) -> sa.Select:
    """The previous diary day's check-ins and the latest check-in up to the day
    ("earlier" in diary order: an earlier day, or the same day received before), a
    row per graded item; without `exclude`, no check-in is left out by id."""
    p = sa.bindparam
    c, s = CheckIn.__table__.c, CheckInSymptom.__table__.c
    mine = (c.patient_id == p("pid"),) + ((c.id != p("exclude"),) if exclude else ())
    latest = (sa.select(c.id).where(*mine, c.diary_date <= p("day"))
              .order_by(c.diary_date.desc(), c.received_at.desc(), c.id.desc())
              .limit(1).scalar_subquery())
    return (sa.select(c.id, c.diary_date, c.received_at, c.temperature_c, c.warning_signs,
                      c.site_diameter_cm, c.site_ulceration, s.id.label("item_id"), s.code,
                      s.grade, s.new_or_worse)
            .select_from(CheckIn.__table__.outerjoin(CheckInSymptom.__table__,
                                                     s.checkin_id == c.id))
            .where(*mine, sa.or_(c.diary_date == p("day_before"), c.id == latest)))


@cache
def _history_statement():
    """One round trip, built once, read as plain rows: every check-in runs it."""
    query = _history_query()
    return query.order_by(query.selected_columns.id, query.selected_columns.item_id)


@cache
def _insert_with_history_statement():
    """PostgreSQL: the check-in (its id returned), its graded items (three arrays of the
    same length, unnested into rows) and the rules' history, in one statement. The
    history is joined to the new id with LEFT JOIN ON true: one row at least, the
    id in each."""
    from sqlalchemy.dialects import postgresql as pg

    p, checkins, symptoms = sa.bindparam, CheckIn.__table__, CheckInSymptom.__table__
    new = (checkins.insert()
           .values({col.name: p(col.name, type_=col.type)
                    for col in checkins.columns if col.name != "id"})
           .returning(checkins.c.id).cte("new_checkin"))
    item = (sa.func.unnest(p("codes", type_=pg.ARRAY(sa.String)),
                           p("grades", type_=pg.ARRAY(sa.SmallInteger)),
                           p("marks", type_=pg.ARRAY(sa.Boolean)))
            .table_valued("code", "grade", "new_or_worse").render_derived("item"))
    add_items = symptoms.insert().from_select(
        ["checkin_id", "code", "grade", "new_or_worse"],
        sa.select(new.c.id, item.c.code, item.c.grade, item.c.new_or_worse)
        .select_from(new).join(item, sa.true())).cte("new_items")
    history = _history_query(exclude=False).subquery("history")
    return (sa.select(new.c.id.label("new_id"), history)
            .select_from(new.outerjoin(history, sa.true()))
            .order_by(history.c.id, history.c.item_id)
            .add_cte(add_items))


def _insert_with_history(patient, row: dict, items: list[dict]):
    """Store a check-in and its items and read the rules' history (PostgreSQL)."""
    rows = db.session.execute(_insert_with_history_statement(), row | {
        "codes": [i["code"] for i in items], "grades": [i["grade"] for i in items],
        "marks": [i["new_or_worse"] for i in items],
        "pid": patient.id, "day": row["diary_date"],
        "day_before": row["diary_date"] - timedelta(days=1)}).all()
    return rows[0].new_id, _history_of_rows(
        [r for r in rows if r.id is not None], row["diary_date"])


def history_for(patient, diary_date: date, exclude_id: int | None = None):
    """The rules' view of the past: the latest earlier check-in and the previous diary day's."""
    return _history_of_rows(db.session.execute(_history_statement(), {
        "pid": patient.id, "exclude": exclude_id if exclude_id is not None else 0,
        "day": diary_date, "day_before": diary_date - timedelta(days=1)}), diary_date)


def _history_of_rows(rows, diary_date: date):
    """The History of the history query's rows, in check-in and item order."""
    from diary.alerts.rules import History

    found: dict[int, tuple] = {}  # id -> (order key, values as values_of() gives them)
    for row in rows:
        if row.id not in found:
            found[row.id] = ((row.diary_date, row.received_at, row.id), values_of(row))
        values = found[row.id][1]
        if row.code is not None:
            if row.grade is not None:
                values["symptoms"][row.code] = row.grade
            if row.new_or_worse:
                values["new_or_worse"].append(row.code)
    ordered = sorted(found.values(), key=lambda kv: kv[0])
    day_before = diary_date - timedelta(days=1)
    return History(previous=ordered[-1][1] if ordered else None,  # the latest, up to the day
                   previous_day=[v for _key, v in ordered if v["diary_date"] == day_before])


def to_json(checkin: CheckIn) -> dict:
    """The API shape: as posted, plus id, late and received_at."""
    device = checkin.device_recorded_at
    if device is not None and checkin.device_utc_offset_min is not None:
        from datetime import timezone
        device = device.astimezone(timezone(timedelta(minutes=checkin.device_utc_offset_min)))
    return values_of(checkin) | {
        "id": checkin.id,
        "client_id": checkin.client_id,
        "diary_date": checkin.diary_date.isoformat(),
        "device_recorded_at": device.isoformat() if device else None,
        "received_at": checkin.received_at.isoformat(),
        "late": checkin.late,
        "note": checkin.note,
        "has_photo": checkin.photo_file is not None,
    }


def count_for_day(patient, now: datetime) -> int:
    """How many check-ins the patient sent for today's diary day."""
    today = local_date(now, patient.tz)
    return db.session.execute(_count_statement(), {"pid": patient.id, "day": today}).scalar_one()


@cache
def _count_statement():
    return sa.select(sa.func.count(CheckIn.id)).where(CheckIn.patient_id == sa.bindparam("pid"),
                                                      CheckIn.diary_date == sa.bindparam("day"))


def list_checkins(patient, start: date | None, end: date | None) -> list[CheckIn]:
    stmt = sa.select(CheckIn).where(CheckIn.patient_id == patient.id)
    if start is not None:
        stmt = stmt.where(CheckIn.diary_date >= start)
    if end is not None:
        stmt = stmt.where(CheckIn.diary_date <= end)
    return list(db.session.execute(
        stmt.order_by(CheckIn.diary_date, CheckIn.received_at, CheckIn.id)).scalars())
