"""A patient's history: check-ins (with their corrections), doses, alerts, and audit trails.

Used by the staff patient page and by the patient's own 30-day page; both draw
the same `charts.Timeline`. Services take the patient and `now`; they flush,
never commit.
"""
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _

from diary import audit
from diary.alerts.models import Alert
from diary.audit.models import AuditEvent
from diary.checkins.models import CheckIn
from diary.checkins.services import clean as clean_checkin
from diary.checkins.services import values_of
from diary.clock import local_date
from diary.dashboards.charts import Timeline
from diary.dashboards.models import CheckInVersion
from diary.errors import Invalid
from diary.extensions import db
from diary.injections import services as injections
from diary.injections.models import InjectionRecord
from diary.protocol import schedule as plan

REASON_MAX = 500


def received_values(checkin: CheckIn) -> dict:
    """A check-in's values as the patient sent them (version 1), in the API's shape."""
    values = values_of(checkin)
    del values["diary_date"]
    return values | {"note": checkin.note}


@dataclass
class CheckInView:
    """A check-in with its current values (the latest correction's, if any)."""

    checkin: CheckIn
    values: dict
    version: int
    corrected: CheckInVersion | None

    @property
    def diary_date(self) -> date:
        return self.checkin.diary_date


def latest_versions(checkin_ids) -> dict[int, CheckInVersion]:
    """The highest correction of each check-in, in one query."""
    ids = list(checkin_ids)
    if not ids:
        return {}
    top = (sa.select(CheckInVersion.checkin_id, sa.func.max(CheckInVersion.version).label("v"))
           .where(CheckInVersion.checkin_id.in_(ids)).group_by(CheckInVersion.checkin_id)
           .subquery())
    rows = db.session.execute(
        sa.select(CheckInVersion).join(top, sa.and_(top.c.checkin_id == CheckInVersion.checkin_id,
                                                    top.c.v == CheckInVersion.version))
    ).scalars()
    return {v.checkin_id: v for v in rows}


def checkin_views(patient, start: date | None = None, end: date | None = None) -> list[CheckInView]:
    stmt = (sa.select(CheckIn).where(CheckIn.patient_id == patient.id)
            .options(so.selectinload(CheckIn.symptoms)))
    if start is not None:
        stmt = stmt.where(CheckIn.diary_date >= start)
    if end is not None:
        stmt = stmt.where(CheckIn.diary_date <= end)
    checkins = list(db.session.execute(
        stmt.order_by(CheckIn.diary_date, CheckIn.received_at, CheckIn.id)).scalars())
    latest = latest_versions(c.id for c in checkins)
    out = []
    for c in checkins:
        v = latest.get(c.id)
        out.append(CheckInView(c, v.values if v else received_values(c), v.version if v else 1, v))
    return out


def correct_checkin(checkin: CheckIn, *, data: dict, reason: str, actor,
                    now: datetime) -> CheckInVersion:
    """Staff correction: a new version with every value, checked as a new check-in is.

    `data` is API-shaped (temperature_c, symptoms, new_or_worse, warning_signs,
    injection_site, note). The diary day, times and photo stay those received.
    Alerts are not re-evaluated: they stand for what the patient reported.
    """
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_("Give the reason for the correction."), {"reason": _("required")})
    if len(reason) > REASON_MAX:
        raise Invalid(_("The reason is too long."),
                      {"reason": _("%(max)d characters at most", max=REASON_MAX)})
    patient = checkin.patient
    fields = ("temperature_c", "symptoms", "new_or_worse", "warning_signs", "injection_site",
              "note")
    # the one validation path of check-ins; the diary day is not being changed
    checked = clean_checkin({"client_id": "staff-correction",
                             **{k: data.get(k) for k in fields}}, patient, now)
    after = {k: checked[k] for k in fields}
    latest = latest_versions([checkin.id]).get(checkin.id)
    before = latest.values if latest else received_values(checkin)
    if _canonical(before) == _canonical(after):
        raise Invalid(_("Nothing was changed."), {"reason": _("change at least one value")})
    version = CheckInVersion(checkin_id=checkin.id, patient_id=patient.id,
                             version=(latest.version if latest else 1) + 1, values=after,
                             reason=reason, corrected_by_id=actor.id if actor else None,
                             corrected_at=now)
    db.session.add(version)
    db.session.flush()
    audit.record("correct", "checkin", checkin.id, actor=actor, now=now, patient=patient,
                 before=before | {"version": version.version - 1},
                 after=after | {"version": version.version}, reason=reason)
    return version


def _canonical(values: dict) -> str:
    return json.dumps(values, sort_keys=True, default=str)


# --- the timeline -------------------------------------------------------------

@dataclass
class PatientHistory:
    timeline: Timeline
    checkins: list[CheckInView]
    doses: list  # injections.services.DoseRow
    alerts: list[Alert]
    today: date


def patient_history(patient, now: datetime, days: int | None = None) -> PatientHistory:
    """Everything the timeline and the history table show, from `days` ago (or cure 1) to today."""
    today = local_date(now, patient.tz)
    rows = injections.plan_rows(patient, now)
    first = min([patient.cure1_start] + [r.dose.planned_date for r in rows])
    start = today - timedelta(days=days - 1) if days else min(first, today)
    end = today
    checkins = checkin_views(patient, start, end)
    alerts = list(db.session.execute(
        sa.select(Alert).where(Alert.patient_id == patient.id, Alert.diary_date >= start,
                               Alert.diary_date <= end)
        .order_by(Alert.diary_date, Alert.raised_at)).scalars())
    spans = []
    try:
        protocol = injections.protocol_of(patient)
        spans = [(s.first, s.last, s.cure) for s in plan.cure_spans(protocol, [r.dose for r in rows])]
    except Invalid:
        pass
    timeline = Timeline(
        start=start, end=end,
        temperatures=[(c.diary_date, c.values["temperature_c"]) for c in checkins
                      if c.values.get("temperature_c") is not None],
        grades=[(c.diary_date, code, grade) for c in checkins
                for code, grade in (c.values.get("symptoms") or {}).items()],
        doses=[(r.dose.planned_date, r.status) for r in rows],
        alerts=[(a.diary_date, a.tier) for a in alerts],
        cures=spans,
    )
    doses = [r for r in rows if start <= r.dose.planned_date <= end]
    return PatientHistory(timeline, checkins, doses, alerts, today)


# --- audit history of one value -----------------------------------------------

@dataclass
class AuditChange:
    event: AuditEvent
    actor: str
    changes: list[tuple[str, object, object]]  # (field, before, after)


def _flat(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): value}


def audit_history(patient, entity: str, entity_ids: list[str]) -> list[AuditChange]:
    """The audit events of these records of `patient`, oldest first, field by field."""
    from diary.accounts.models import User

    events = db.session.execute(
        sa.select(AuditEvent, User.email, User.role)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.patient_id == patient.id, AuditEvent.entity == entity,
               AuditEvent.entity_id.in_([str(i) for i in entity_ids]))
        .order_by(AuditEvent.id)).all()
    out = []
    for ev, email, role in events:
        before = _flat(json.loads(ev.before)) if ev.before else {}
        after = _flat(json.loads(ev.after)) if ev.after else {}
        keys = sorted(set(before) | set(after))
        changes = [(k, before.get(k), after.get(k)) for k in keys
                   if not ev.before or before.get(k) != after.get(k)]
        who = email or (patient.study_code if role == "patient" else ev.actor_role)
        out.append(AuditChange(ev, who, changes))
    return out


def injection_record_ids(patient, record: InjectionRecord) -> list[int]:
    """Every version of the record of one scheduled dose (the audit follows new ids)."""
    return list(db.session.execute(
        sa.select(InjectionRecord.id).where(InjectionRecord.patient_id == patient.id,
                                            InjectionRecord.scheduled_dose_id ==
                                            record.scheduled_dose_id)
        .order_by(InjectionRecord.version)).scalars())
