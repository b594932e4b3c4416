"""The tables coordinators export, each with documented columns, scoped to the user's sites.

Each table is a list of `Column` (name, meaning) and a function returning rows
in that order. Codes are those of clinical-rules.md; times are ISO 8601 UTC
unless the column says otherwise; patients appear by study code only.
"""
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import lazy_gettext as _l

from diary.accounts import scope
from diary.accounts.models import Patient, Site, User
from diary.alerts.models import Alert
from diary.audit.models import AuditEvent
from diary.checkins.items import SYMPTOMS
from diary.checkins.models import CheckIn
from diary.clock import local_date
from diary.dashboards.history import latest_versions, received_values
from diary.extensions import db
from diary.injections.models import InjectionRecord, ScheduledDose
from diary.protocol import schedule as plan


@dataclass(frozen=True)
class Column:
    name: str
    meaning: object  # a lazy string


@dataclass(frozen=True)
class Table:
    name: str
    title: object
    columns: tuple[Column, ...]


def _visible(user, model_patient_id, site_id: int | None):
    clause = scope.patient_clause(user, model_patient_id)
    if site_id is not None:
        clause = sa.and_(clause, model_patient_id.in_(
            sa.select(Patient.id).where(Patient.site_id == site_id)))
    return clause


C = Column
TABLES: dict[str, Table] = {t.name: t for t in (
    Table("patients", _l("Patients"), (
        C("study_code", _l("pseudonymous study code, e.g. P-0007 (the only identifier)")),
        C("site", _l("site name")),
        C("status", _l("active | withdrawn")),
        C("protocol", _l("protocol code, e.g. vascu-il2")),
        C("cure1_start", _l("cure 1 day 1 (date, YYYY-MM-DD)")),
        C("timezone", _l("IANA time zone of the patient's diary day")),
        C("enrolled_at", _l("enrolment time (UTC)")),
        C("withdrawn_at", _l("withdrawal time (UTC), empty if active")),
    )),
    Table("doses", _l("Scheduled doses"), (
        C("dose_id", _l("scheduled dose id")),
        C("study_code", _l("patient")),
        C("cure", _l("cure number")),
        C("day", _l("dose rank in the cure (day 1 to 5)")),
        C("planned_date", _l("date due, patient's time zone")),
        C("original_date", _l("date the protocol gave before any shift")),
        C("dose_miu", _l("planned dose in MIU")),
        C("setting", _l("hospital | home")),
        C("version", _l("1, +1 at each coordinator change (shift, dose)")),
        C("status", _l("upcoming | due | taken | not_taken | missed, on the export day")),
    )),
    Table("injection_records", _l("Injection records (every version)"), (
        C("record_id", _l("injection record id")),
        C("study_code", _l("patient")),
        C("dose_id", _l("scheduled dose id")),
        C("cure", _l("cure number")),
        C("day", _l("dose rank in the cure")),
        C("version", _l("1 for the patient's record, +1 per staff correction")),
        C("current", _l("true for the version in force")),
        C("taken", _l("true | false (ECOCCUR)")),
        C("taken_at", _l("injection time with the device's UTC offset")),
        C("dose_miu", _l("dose given in MIU, empty if not taken")),
        C("site", _l("abdomen_left | abdomen_right | thigh_left | thigh_right | arm_left | "
                     "arm_right")),
        C("lot", _l("lot number")),
        C("administered_by", _l("self | nurse | carer")),
        C("not_taken_reason", _l("forgot | side_effect | hospitalised | no_drug | other")),
        C("late", _l("recorded more than 24 h after the fact")),
        C("received_at", _l("server time received (UTC)")),
        C("supersedes_id", _l("record id this version corrects")),
        C("correction_reason", _l("why the team corrected it")),
        C("note", _l("free text")),
    )),
    Table("checkins", _l("Check-ins (values in force)"), (
        C("checkin_id", _l("check-in id")),
        C("study_code", _l("patient")),
        C("diary_date", _l("diary day, patient's time zone")),
        C("received_at", _l("server time received (UTC)")),
        C("device_recorded_at", _l("time on the device, with its UTC offset")),
        C("late", _l("entered for the previous diary day")),
        C("source", _l("web | api")),
        C("version", _l("1 as received, +1 per staff correction")),
        C("temperature_c", _l("degrees C, 34.0-43.0, empty if not measured")),
        C("site_diameter_cm", _l("largest redness/hardening, 0-30 cm")),
        C("site_ulceration", _l("true | false, empty if not answered")),
        C("warning_signs", _l("codes present, separated by spaces")),
        C("note", _l("free text")),
        C("correction_reason", _l("reason of the last correction, if any")),
    )),
    Table("checkin_items", _l("Check-in graded items (values in force)"), (
        C("checkin_id", _l("check-in id")),
        C("study_code", _l("patient")),
        C("diary_date", _l("diary day")),
        C("code", _l("item code (clinical-rules.md section 3)")),
        C("grade", _l("0 none, 1 mild, 2 moderate, 3 severe, 4 very severe; empty: not graded")),
        C("new_or_worse", _l("marked new or worse since the last check-in")),
    )),
    Table("alerts", _l("Alerts"), (
        C("alert_id", _l("alert id")),
        C("study_code", _l("patient")),
        C("rule", _l("U1-U5, D1-D7, R1-R3 (clinical-rules.md section 4)")),
        C("tier", _l("urgent | within_24h | routine")),
        C("diary_date", _l("diary day of the check-in that raised it")),
        C("raised_at", _l("time raised (UTC)")),
        C("checkin_id", _l("first check-in that fired the rule")),
        C("status", _l("open | acknowledged")),
        C("acknowledged_at", _l("time acknowledged (UTC)")),
        C("acknowledged_by_role", _l("role of who acknowledged")),
        C("action", _l("action taken, in the acknowledger's words")),
        C("escalation_count", _l("escalation messages sent")),
    )),
    Table("audit", _l("Audit trail"), (
        C("chain", _l("hash chain: the patient's id, 0 for events of no patient")),
        C("seq", _l("position in that chain")),
        C("at", _l("time (UTC)")),
        C("actor", _l("staff e-mail, patient study code, or system")),
        C("actor_role", _l("patient | investigator | coordinator | admin | system")),
        C("action", _l("what was done, e.g. create, correct, acknowledge, export")),
        C("entity", _l("kind of record, e.g. checkin, injection_record")),
        C("entity_id", _l("its id")),
        C("study_code", _l("patient, if the record is a patient's")),
        C("before", _l("values before (JSON)")),
        C("after", _l("values after (JSON)")),
        C("reason", _l("reason given")),
        C("hash", _l("SHA-256 of the event, chained to the previous one")),
    )),
)}
CSV_TABLES = ("patients", "doses", "injection_records", "checkins", "checkin_items", "alerts")


def rows(table: str, user, now: datetime, *, site_id: int | None = None,
         patient_id: int | None = None) -> list[list]:
    return _ROWS[table](user, now, site_id, patient_id)


def _patients(user, now, site_id, patient_id):
    stmt = (sa.select(Patient, Site.name, Site.timezone).join(Site, Site.id == Patient.site_id)
            .where(_visible(user, Patient.id, site_id)).order_by(Patient.study_code))
    return [[p.study_code, site, p.status, p.protocol, p.cure1_start, p.timezone or tz,
             p.created_at, p.withdrawn_at] for p, site, tz in db.session.execute(stmt)]


def _doses(user, now, site_id, patient_id):
    stmt = (sa.select(ScheduledDose, Patient.study_code, Patient.timezone, Site.timezone,
                      InjectionRecord.taken)
            .join(Patient, Patient.id == ScheduledDose.patient_id)
            .join(Site, Site.id == Patient.site_id)
            .outerjoin(InjectionRecord, sa.and_(InjectionRecord.scheduled_dose_id == ScheduledDose.id,
                                                InjectionRecord.superseded_at.is_(None)))
            .where(_visible(user, ScheduledDose.patient_id, site_id))
            .order_by(Patient.study_code, ScheduledDose.planned_date, ScheduledDose.day))
    out = []
    for d, code, ptz, stz, taken in db.session.execute(stmt):
        today = local_date(now, ptz or stz)
        record = None if taken is None else type("R", (), {"taken": taken})
        out.append([d.id, code, d.cure, d.day, d.planned_date, d.original_date, d.dose_miu,
                    d.setting, d.version, plan.dose_status(d.planned_date, record, today)])
    return out


def _injection_records(user, now, site_id, patient_id):
    stmt = (sa.select(InjectionRecord, Patient.study_code, ScheduledDose.cure, ScheduledDose.day)
            .join(Patient, Patient.id == InjectionRecord.patient_id)
            .join(ScheduledDose, ScheduledDose.id == InjectionRecord.scheduled_dose_id)
            .where(_visible(user, InjectionRecord.patient_id, site_id))
            .order_by(Patient.study_code, ScheduledDose.planned_date, InjectionRecord.version))
    return [[r.id, code, r.scheduled_dose_id, cure, day, r.version, r.superseded_at is None,
             r.taken, r.taken_at_local, r.dose_miu, r.site, r.lot, r.administered_by,
             r.not_taken_reason, r.late, r.received_at, r.supersedes_id, r.correction_reason,
             r.note] for r, code, cure, day in db.session.execute(stmt)]


def current_checkins(user, site_id, patient_id=None):
    """(CheckIn, study code, values in force, version, last correction) for export."""
    stmt = (sa.select(CheckIn, Patient.study_code).join(Patient, Patient.id == CheckIn.patient_id)
            .where(_visible(user, CheckIn.patient_id, site_id))
            .options(so.selectinload(CheckIn.symptoms))
            .order_by(Patient.study_code, CheckIn.diary_date, CheckIn.received_at, CheckIn.id))
    if patient_id is not None:
        stmt = stmt.where(CheckIn.patient_id == patient_id)
    found = db.session.execute(stmt).all()
    latest = latest_versions(c.id for c, _ in found)
    out = []
    for c, code in found:
        v = latest.get(c.id)
        out.append((c, code, v.values if v else received_values(c), v.version if v else 1, v))
    return out


def _checkins(user, now, site_id, patient_id):
    out = []
    for c, code, values, version, corr in current_checkins(user, site_id):
        site = values.get("injection_site") or {}
        out.append([c.id, code, c.diary_date, c.received_at, _device_time(c), c.late, c.source,
                    version, values.get("temperature_c"), site.get("diameter_cm"),
                    site.get("ulceration"), " ".join(values.get("warning_signs") or []),
                    values.get("note"), corr.reason if corr else None])
    return out


def _device_time(c: CheckIn):
    from datetime import timedelta, timezone
    if c.device_recorded_at is None:
        return None
    offset = timezone(timedelta(minutes=c.device_utc_offset_min or 0))
    return c.device_recorded_at.astimezone(offset)


def _checkin_items(user, now, site_id, patient_id):
    out = []
    for c, code, values, _version, _corr in current_checkins(user, site_id):
        grades = values.get("symptoms") or {}
        marked = set(values.get("new_or_worse") or [])
        for item in SYMPTOMS:
            if item in grades or item in marked:
                out.append([c.id, code, c.diary_date, item, grades.get(item), item in marked])
    return out


def _alerts(user, now, site_id, patient_id):
    ack = so.aliased(User)
    stmt = (sa.select(Alert, Patient.study_code, ack.role)
            .join(Patient, Patient.id == Alert.patient_id)
            .outerjoin(ack, ack.id == Alert.acknowledged_by_id)
            .where(_visible(user, Alert.patient_id, site_id))
            .order_by(Patient.study_code, Alert.raised_at, Alert.id))
    return [[a.id, code, a.rule, a.tier, a.diary_date, a.raised_at, a.checkin_id, a.status,
             a.acknowledged_at, role, a.action, a.escalation_count]
            for a, code, role in db.session.execute(stmt)]


def _audit(user, now, site_id, patient_id):
    """A patient's trail, or the trail of the user's sites (or one of them)."""
    actor = so.aliased(User)
    stmt = (sa.select(AuditEvent, actor.email, Patient.study_code)
            .outerjoin(actor, actor.id == AuditEvent.actor_id)
            .outerjoin(Patient, Patient.id == AuditEvent.patient_id))
    if patient_id is not None:
        stmt = stmt.where(AuditEvent.patient_id == patient_id,
                          scope.patient_clause(user, AuditEvent.patient_id))
    else:
        sites = scope.visible_site_ids(user)
        if site_id is not None:
            sites = [s for s in sites if s == site_id]
        stmt = stmt.where(AuditEvent.site_id.in_(sites))
    own_codes = {}
    out = []
    for ev, email, code in db.session.execute(stmt.order_by(AuditEvent.id)):
        who = email or (own_codes.get(ev.actor_id) if ev.actor_role == "patient" else None)
        if who is None and ev.actor_role == "patient":
            who = db.session.execute(sa.select(Patient.study_code).where(
                Patient.user_id == ev.actor_id)).scalar_one_or_none()
            own_codes[ev.actor_id] = who
        out.append([ev.chain, ev.seq, ev.at, who or ev.actor_role, ev.actor_role, ev.action, ev.entity,
                    ev.entity_id, code, ev.before, ev.after, ev.reason, ev.hash])
    return out


_ROWS = {"patients": _patients, "doses": _doses, "injection_records": _injection_records,
         "checkins": _checkins, "checkin_items": _checkin_items, "alerts": _alerts,
         "audit": _audit}
