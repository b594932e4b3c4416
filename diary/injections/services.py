"""The plan and the injection diary. Plain values, model objects and `now` in; flush, never commit.

Rules (clinical-rules.md sections 1, 5 and 6; numbers from the protocol file):
- enrolment materialises the protocol's doses (20, 52.5 MIU for VASCU-IL2);
- one record per scheduled dose; patients add, never edit; hospital doses are
  recorded by staff; staff correct with a reason (new version, old row kept);
- `taken_at` not in the future (clock skew allowed), on the dose's date or the
  day after in the patient's time zone; `late` when received more than
  `injection_late_hours` after it;
- "not taken" needs a reason and is possible from the dose's day on; it is
  `late` when received after the last day a dose could be taken;
- shifting cure N moves cure N and every later cure by the same number of days
  (intervals kept); a cure with a recorded dose cannot move.
"""
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from diary import audit
from diary.clock import local_date
from diary.errors import Conflict, Invalid, NotFound
from diary.extensions import db
from diary.injections.models import (
    ADMINISTERED_BY,
    INJECTION_SITES,
    NOT_TAKEN_REASONS,
    InjectionRecord,
    ScheduledDose,
)
from diary.protocol import ProtocolError, load_protocol
from diary.protocol import schedule as plan

NOTE_MAX = 1000
LOT_MAX = 40
REASON_MAX = 500


def protocol_of(patient):
    try:
        return load_protocol(patient.protocol)
    except ProtocolError as exc:
        raise Invalid(_("Unknown protocol %(code)s.", code=patient.protocol),
                      {"protocol": str(exc)}) from exc


# --- the plan ---------------------------------------------------------------

def materialise_plan(patient, *, actor, now: datetime) -> list[ScheduledDose]:
    """Create the patient's scheduled doses from the protocol (the enrolment hook)."""
    protocol = protocol_of(patient)
    doses = [ScheduledDose(patient_id=patient.id, cure=p.cure, day=p.day, planned_date=p.date,
                           original_date=p.date, dose_miu=p.dose_miu, setting=p.setting,
                           created_at=now)
             for p in plan.planned_doses(protocol, patient.cure1_start)]
    db.session.add_all(doses)
    db.session.flush()
    audit.record("plan", "patient_plan", patient.id, actor=actor, now=now, patient=patient,
                 after={"protocol": protocol.code, "cure1_start": patient.cure1_start,
                        "doses": len(doses),
                        "total_miu": round(sum(d.dose_miu for d in doses), 3)})
    return doses


@cache
def _statements() -> dict:
    """The queries of every patient page, built once."""
    pid = sa.bindparam("pid")
    doses = (sa.select(ScheduledDose).where(ScheduledDose.patient_id == pid)
             .order_by(ScheduledDose.planned_date, ScheduledDose.cure, ScheduledDose.day))
    current = sa.and_(InjectionRecord.scheduled_dose_id == ScheduledDose.id,
                      InjectionRecord.superseded_at.is_(None))
    return {
        "doses": doses,
        "records": sa.select(InjectionRecord).where(InjectionRecord.patient_id == pid,
                                                    InjectionRecord.superseded_at.is_(None)),
        # the plan with each dose's current record, in one round trip (the Today page)
        "plan": doses.add_columns(InjectionRecord).outerjoin(InjectionRecord, current),
    }


def patient_doses(patient) -> list[ScheduledDose]:
    return list(db.session.execute(_statements()["doses"], {"pid": patient.id}).scalars())


def current_records(patient) -> dict[int, InjectionRecord]:
    """The current (not superseded) record of each recorded dose, by scheduled dose id."""
    rows = db.session.execute(_statements()["records"], {"pid": patient.id}).scalars()
    return {r.scheduled_dose_id: r for r in rows}


def record_history(dose: ScheduledDose) -> list[InjectionRecord]:
    return list(db.session.execute(
        sa.select(InjectionRecord).where(InjectionRecord.scheduled_dose_id == dose.id)
        .order_by(InjectionRecord.version)
    ).scalars())


@dataclass
class DoseRow:
    dose: ScheduledDose
    record: InjectionRecord | None
    status: str


def plan_rows(patient, now: datetime) -> list[DoseRow]:
    today = local_date(now, patient.tz)
    # a dose has at most one current record (a unique index): one row a dose
    return [DoseRow(dose, record, plan.dose_status(dose.planned_date, record, today))
            for dose, record in db.session.execute(_statements()["plan"], {"pid": patient.id})]


def expected_checkins(patient) -> list[plan.ExpectedCheckin]:
    """Expected check-ins (date, kind daily|weekly), from the plan as it stands (shifts included).

    Computed on the fly, not stored: a shift changes them at once. A weekly
    one is fulfilled by a check-in from its date to that week's Sunday
    (`diary.protocol.schedule.week_end`).
    """
    protocol = protocol_of(patient)
    doses = patient_doses(patient)
    if not doses:
        return plan.plan_checkins(protocol, patient.cure1_start)
    return plan.expected_checkins(protocol, plan.cure_spans(protocol, doses), patient.cure1_start,
                                  plan.follow_up_end(protocol, patient.cure1_start))


@dataclass
class TodaySummary:
    today: date
    due: DoseRow | None  # today's dose
    catch_up: DoseRow | None  # yesterday's home dose, still unrecorded
    next: DoseRow | None  # the next dose after today
    cure: int | None  # the cure today falls in (first to last dose), if any
    follow_up_end: date
    total: int
    done: int


def today_summary(patient, now: datetime) -> TodaySummary:
    protocol = protocol_of(patient)
    rows = plan_rows(patient, now)
    today = local_date(now, patient.tz)
    due = next((r for r in rows if r.dose.planned_date == today), None)
    days_after = protocol.windows.injection_days_after_dose
    catch_up = next((r for r in rows if r.status == "missed" and r.dose.setting == "home"
                     and today - r.dose.planned_date <= timedelta(days=days_after)), None)
    upcoming = next((r for r in rows if r.dose.planned_date > today), None)
    cure = None
    for span in plan.cure_spans(protocol, [r.dose for r in rows]):
        if span.first <= today <= span.last:
            cure = span.cure
    return TodaySummary(today, due, catch_up, upcoming, cure,
                        plan.follow_up_end(protocol, patient.cure1_start), len(rows),
                        sum(1 for r in rows if r.status == "taken"))


def suggested_site(patient) -> str:
    """The site after the last one used, in the order of clinical-rules.md section 6."""
    last = db.session.execute(
        sa.select(InjectionRecord.site).where(InjectionRecord.patient_id == patient.id,
                                              InjectionRecord.superseded_at.is_(None),
                                              InjectionRecord.taken.is_(True))
        .order_by(InjectionRecord.taken_at.desc(), InjectionRecord.id.desc()).limit(1)
    ).scalar_one_or_none()
    if last not in INJECTION_SITES:
        return INJECTION_SITES[0]
    return INJECTION_SITES[(INJECTION_SITES.index(last) + 1) % len(INJECTION_SITES)]


def patient_may_record(dose: ScheduledDose, record, today: date) -> bool:
    return dose.setting == "home" and record is None and dose.planned_date <= today


def get_dose(patient, dose_id) -> ScheduledDose:
    dose = None
    if isinstance(dose_id, int) and not isinstance(dose_id, bool) and 0 < dose_id < 2**31:
        dose = db.session.get(ScheduledDose, dose_id)
    if dose is None or dose.patient_id != patient.id:
        raise NotFound(_("This scheduled dose does not exist."),
                       {"scheduled_dose_id": _("no such dose")})
    return dose


# --- checking an injection record: the one path for pages and API -----------

def _text(value, field: str, limit: int, errors: dict) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[field] = _("must be text")
        return ""
    value = value.strip()
    if len(value) > limit:
        errors[field] = _("%(max)d characters at most", max=limit)
    return value


def _moment(value, tz_for_naive: str | None, errors: dict) -> tuple[datetime, int] | None:
    """(UTC instant, device offset in minutes) of an ISO string or datetime, or None."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            errors["taken_at"] = _("not a date and time")
            return None
    if not isinstance(value, datetime):
        errors["taken_at"] = _("not a date and time")
        return None
    if value.tzinfo is None:
        if tz_for_naive is None:
            errors["taken_at"] = _("must include a UTC offset, e.g. 2026-11-25T08:10:00+01:00")
            return None
        # Round-trip through UTC: a wall time in the spring-forward gap moves forward.
        value = value.replace(tzinfo=ZoneInfo(tz_for_naive)).astimezone(UTC) \
            .astimezone(ZoneInfo(tz_for_naive))
    offset = int(value.utcoffset().total_seconds() // 60)
    return value.astimezone(UTC).replace(microsecond=0), offset


def _dose_amount(value, protocol, errors: dict) -> float | None:
    if isinstance(value, str):
        try:
            value = float(value.strip().replace(",", "."))
        except ValueError:
            errors["dose_miu"] = _("must be a number of MIU")
            return None
    if value is None:
        errors["dose_miu"] = _("required")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        errors["dose_miu"] = _("must be a number of MIU")
        return None
    if value in (float("inf"), float("-inf")):
        errors["dose_miu"] = _("must be a number of MIU")
        return None
    # Stored to 0.01 MIU: the check is on the value as it will be stored (0.001 would be
    # kept as 0, which the database refuses).
    value = round(float(value), 2)
    if not 0 < value <= protocol.max_dose_miu:
        errors["dose_miu"] = _("must be more than 0 and at most %(max)s MIU",
                               max=protocol.max_dose_miu)
        return None
    return value


class InvalidValues(Invalid):
    """Field-by-field refusals: each field's message says what is wrong."""


def clean_injection(values: dict, *, dose: ScheduledDose, patient, now: datetime,
                    tz_for_naive: str | None = None) -> dict:
    """Check an injection's values against section 5; return the columns or raise Invalid.

    `values` holds plain values (strings from a form or JSON types). A naive
    `taken_at` is read in `tz_for_naive` (the page's local time) or refused.
    """
    protocol = protocol_of(patient)
    win = protocol.windows
    tz = patient.tz
    errors: dict[str, str] = {}
    taken = values.get("taken")
    if not isinstance(taken, bool):
        errors["taken"] = _("must be true or false")
    out = {"taken": taken, "taken_at": None, "taken_at_offset_minutes": None, "dose_miu": None,
           "site": None, "administered_by": None, "not_taken_reason": None,
           "lot": _text(values.get("lot"), "lot", LOT_MAX, errors) or None,
           "note": _text(values.get("note"), "note", NOTE_MAX, errors)}
    first_day = dose.planned_date
    last_day = dose.planned_date + timedelta(days=win.injection_days_after_dose)
    if taken is True:
        given = values.get("taken_at")
        if isinstance(given, str):
            given = given.strip()
        parsed = None
        if given in (None, ""):
            errors["taken_at"] = _("required")
        else:
            parsed = _moment(given, tz_for_naive, errors)
        if parsed is not None:
            moment, offset = parsed
            if moment > now + timedelta(minutes=win.clock_skew_minutes):
                errors["taken_at"] = _("cannot be in the future")
            elif not first_day <= local_date(moment, tz) <= last_day:
                errors["taken_at"] = _(
                    "must be on the dose's day (%(first)s) or the day after (%(last)s)",
                    first=format_date(first_day, "medium"), last=format_date(last_day, "medium"))
            else:
                out["taken_at"], out["taken_at_offset_minutes"] = moment, offset
        out["dose_miu"] = _dose_amount(values.get("dose_miu"), protocol, errors)
        site = values.get("site")
        if site in (None, ""):
            errors["site"] = _("required")
        elif site not in INJECTION_SITES:
            errors["site"] = _("unknown site")
        out["site"] = site
        by = values.get("administered_by") or "self"
        if by not in ADMINISTERED_BY:
            errors["administered_by"] = _("must be one of %(values)s",
                                          values=", ".join(ADMINISTERED_BY))
        out["administered_by"] = by
        if values.get("not_taken_reason") not in (None, ""):
            errors["not_taken_reason"] = _("only for a dose not taken")
    elif taken is False:
        reason = values.get("not_taken_reason")
        if reason in (None, ""):
            errors["not_taken_reason"] = _("required: say why the dose was not taken")
        elif reason not in NOT_TAKEN_REASONS:
            errors["not_taken_reason"] = _("must be one of %(values)s",
                                           values=", ".join(NOT_TAKEN_REASONS))
        out["not_taken_reason"] = reason
        if dose.planned_date > local_date(now, tz):
            errors["taken"] = _("a dose can be recorded as not taken from its day on")
    if errors:
        raise InvalidValues(_("Some values are not valid: %(fields)s.",
                              fields=", ".join(sorted(errors))),
                      errors)
    if taken:
        out["late"] = now - out["taken_at"] > timedelta(hours=win.injection_late_hours)
    else:
        out["late"] = local_date(now, tz) > last_day
    return out


def clean_client_id(value) -> str:
    try:
        if not isinstance(value, str):
            raise ValueError
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise Invalid(_("client_id must be a UUID made by the client."),
                      {"client_id": _("must be a UUID")}) from None


def find_by_client_id(client_id: str) -> InjectionRecord | None:
    return db.session.execute(
        sa.select(InjectionRecord).where(InjectionRecord.client_id == client_id)
    ).scalar_one_or_none()


def snapshot(rec: InjectionRecord) -> dict:
    return {"scheduled_dose_id": rec.scheduled_dose_id, "taken": rec.taken,
            "taken_at": rec.taken_at_local, "dose_miu": rec.dose_miu, "site": rec.site,
            "lot": rec.lot, "administered_by": rec.administered_by,
            "not_taken_reason": rec.not_taken_reason, "note": rec.note, "late": rec.late,
            "version": rec.version, "client_id": rec.client_id}


def record_injection(*, patient, dose: ScheduledDose, values: dict, client_id, actor,
                     now: datetime, by_staff: bool = False,
                     tz_for_naive: str | None = None) -> tuple[InjectionRecord, bool]:
    """Record what happened to `dose`. Returns (record, created).

    The same `client_id` again returns the stored record unchanged (created
    False). Another record for a recorded dose is a Conflict.
    """
    cid = clean_client_id(client_id)
    existing = find_by_client_id(cid)
    if existing is not None:
        if existing.patient_id != patient.id:
            raise Conflict(_("This client_id is already used."), {"client_id": _("already used")})
        return existing, False
    if dose.patient_id != patient.id:
        raise NotFound(_("This scheduled dose does not exist."),
                       {"scheduled_dose_id": _("no such dose")})
    if dose.setting == "hospital" and not by_staff:
        raise Invalid(_("This dose is given in hospital: the study team records it."),
                      {"scheduled_dose_id": _("a hospital dose, recorded by the team")},
                      code="hospital_dose")
    if dose.id in current_records(patient):
        raise Conflict(_("This dose is already recorded. Ask the study team to correct it "
                         "if it is wrong."), code="already_recorded")
    clean = clean_injection(values, dose=dose, patient=patient, now=now, tz_for_naive=tz_for_naive)
    rec = InjectionRecord(scheduled_dose_id=dose.id, patient_id=patient.id, client_id=cid,
                          received_at=now, recorded_by_id=actor.id if actor else None,
                          version=1, **clean)
    try:
        db.session.add(rec)
        db.session.flush()
    except IntegrityError:
        # The same client_id (or a second record of the dose) arrived at once from
        # another request. No SAVEPOINT: with pysqlite, RELEASE would commit the
        # record before its audit event. The record is this transaction's first
        # write, so rolling the whole transaction back loses nothing.
        db.session.rollback()
        again = find_by_client_id(cid)  # the same request, racing itself
        if again is not None and again.patient_id == patient.id:
            return again, False
        raise Conflict(_("This dose is already recorded."), code="already_recorded") from None
    audit.record("create", "injection_record", rec.id, actor=actor, now=now, patient=patient,
                 after=snapshot(rec))
    return rec, True


def correct_injection(record: InjectionRecord, *, values: dict, reason: str, actor,
                      now: datetime, tz_for_naive: str | None = None) -> InjectionRecord:
    """Staff correction: a new version replaces `record`, which stays, marked superseded."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_("Give the reason for the correction."), {"reason": _("required")})
    if len(reason) > REASON_MAX:
        raise Invalid(_("The reason is too long."), {"reason": _("%(max)d characters at most",
                                                                 max=REASON_MAX)})
    if record.superseded_at is not None:
        raise Conflict(_("This record was already corrected; correct the current version."))
    dose = record.scheduled_dose
    patient = dose.patient
    clean = clean_injection(values, dose=dose, patient=patient, now=now, tz_for_naive=tz_for_naive)
    clean["late"] = record.late  # lateness is about the first record, not the correction
    record.superseded_at = now
    db.session.flush()  # free the one-current-record index before the new version
    new = InjectionRecord(scheduled_dose_id=dose.id, patient_id=patient.id,
                          client_id=str(uuid.uuid4()), received_at=now,
                          recorded_by_id=actor.id if actor else None, version=record.version + 1,
                          supersedes_id=record.id, correction_reason=reason, **clean)
    db.session.add(new)
    db.session.flush()
    audit.record("correct", "injection_record", new.id, actor=actor, now=now, patient=patient,
                 before=snapshot(record), after=snapshot(new), reason=reason)
    return new


# --- coordinator changes to the plan ----------------------------------------

def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_("Give the reason for the change."), {"reason": _("required")})
    if len(reason) > REASON_MAX:
        raise Invalid(_("The reason is too long."),
                      {"reason": _("%(max)d characters at most", max=REASON_MAX)})
    return reason


def _label(dose: ScheduledDose) -> str:
    return _("cure %(cure)d day %(day)d", cure=dose.cure, day=dose.day)


def shift_cure(patient, *, cure: int, new_start: date, reason: str, actor,
               now: datetime) -> int:
    """Move cure `cure` to start on `new_start`, and every later cure by the same days.

    Returns the number of days moved. A cure with a recorded dose cannot move,
    nor can a later one; a cure may not start before the previous one ends.
    """
    reason = _reason(reason)
    doses = patient_doses(patient)
    this = [d for d in doses if d.cure == cure]
    if not this:
        raise Invalid(_("There is no cure %(cure)s in this plan.", cure=cure),
                      {"cure": _("no such cure")})
    if not isinstance(new_start, date):
        raise Invalid(_("Give the new start date."), {"new_start": _("required")})
    delta = new_start - min(d.planned_date for d in this)
    if delta.days == 0:
        raise Invalid(_("The cure already starts on that day."), {"new_start": _("unchanged")})
    previous = [d.planned_date for d in doses if d.cure == cure - 1]
    if previous and new_start <= max(previous):
        raise Invalid(_("Cure %(cure)d must start after cure %(prev)d ends (%(end)s).",
                        cure=cure, prev=cure - 1, end=format_date(max(previous), "medium")),
                      {"new_start": _("overlaps the previous cure")})
    moving = [d for d in doses if d.cure >= cure]
    records = current_records(patient)
    recorded = [d for d in moving if d.id in records]
    if recorded:
        raise Conflict(_("%(dose)s is already recorded: a cure with recorded doses cannot move.",
                         dose=_label(recorded[0])), {"cure": _("has recorded doses")})
    before = {f"C{d.cure}D{d.day}": d.planned_date for d in moving}
    for d in moving:
        d.planned_date += delta
        d.version += 1
        d.updated_at = now
    old_start = patient.cure1_start
    if cure == 1:
        patient.cure1_start = new_start
    db.session.flush()
    audit.record("shift_cure", "patient_plan", patient.id, actor=actor, now=now, patient=patient,
                 before={"cure": cure, "cure1_start": old_start, "dates": before},
                 after={"cure": cure, "cure1_start": patient.cure1_start, "days": delta.days,
                        "dates": {f"C{d.cure}D{d.day}": d.planned_date for d in moving}},
                 reason=reason)
    return delta.days


def change_dose(dose: ScheduledDose, *, dose_miu, reason: str, actor, now: datetime,
                rest_of_cure: bool = False) -> list[ScheduledDose]:
    """Change the planned dose of `dose` (and of the cure's later unrecorded doses)."""
    reason = _reason(reason)
    patient = dose.patient
    errors: dict[str, str] = {}
    amount = _dose_amount(dose_miu, protocol_of(patient), errors)
    if errors:
        raise Invalid(_("The new dose is not valid."), errors)
    records = current_records(patient)
    if dose.id in records:
        raise Conflict(_("%(dose)s is already recorded: its planned dose cannot change.",
                         dose=_label(dose)), {"dose_miu": _("dose already recorded")})
    targets = [dose]
    if rest_of_cure:
        targets += [d for d in patient_doses(patient) if d.cure == dose.cure and d.day > dose.day
                    and d.id not in records]
    before = {f"C{d.cure}D{d.day}": d.dose_miu for d in targets}
    for d in targets:
        d.dose_miu = amount
        d.version += 1
        d.updated_at = now
    db.session.flush()
    audit.record("change_dose", "patient_plan", patient.id, actor=actor, now=now, patient=patient,
                 before={"dose_miu": before},
                 after={"dose_miu": {f"C{d.cure}D{d.day}": d.dose_miu for d in targets}},
                 reason=reason)
    return targets
