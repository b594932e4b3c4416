"""Adherence figures for a site's patients, in a constant number of queries.

Five SQL statements whatever the number of patients (patients; doses with
their current record; distinct check-in days; open alerts by tier; each
patient's last reminder), then the figures are assembled in Python. What
depends on a patient's time zone or plan (today, expected check-ins) is
computed here, from the pure schedule code of diary.protocol.

Counting rules (clinical-rules.md section 2; the spec is silent on "so far"):
- a dose is due so far when its status is taken, not_taken or missed (the API's
  statuses: its day has passed, or it is recorded); taken counts taken ones;
  on time means taken on its planned day in the patient's time zone;
- an expected check-in counts once its entry window has closed (a daily one
  the day after the check-in window's last day, a weekly one after its week),
  or as soon as it is done; extra check-ins never count;
- days since the last check-in: today minus the latest diary day with one.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa

from diary.accounts import scope
from diary.accounts.models import Patient, Site
from diary.alerts.models import Alert
from diary.checkins.models import CheckIn
from diary.clock import local_date
from diary.extensions import db
from diary.injections.models import InjectionRecord, ScheduledDose
from diary.notifications.models import OutboxMessage
from diary.protocol import ProtocolError, load_protocol
from diary.protocol import schedule as plan

REMINDER_KIND = "reminder"
TIER_ORDER = ("urgent", "within_24h", "routine")
#: below this share of expected check-ins done, a patient is "behind"
BEHIND_CHECKIN_RATE = 0.8


class _Dose(NamedTuple):
    cure: int
    date: date


@dataclass
class CureFigures:
    cure: int
    taken: int = 0
    due: int = 0
    total: int = 0


@dataclass
class Adherence:
    patient_id: int
    study_code: str
    site_name: str
    status: str
    today: date
    doses_total: int = 0
    doses_due: int = 0
    doses_taken: int = 0
    doses_on_time: int = 0
    doses_missed: int = 0
    cures: list[CureFigures] = field(default_factory=list)
    checkins_expected: int = 0
    checkins_done: int = 0
    last_checkin: date | None = None
    open_alerts: int = 0
    open_alert_tier: str | None = None
    reminder_status: str | None = None
    reminder_channel: str | None = None
    reminder_at: datetime | None = None
    #: heat-map: diary day -> done | partial | missed | pending
    day_states: dict[date, str] = field(default_factory=dict)

    @property
    def days_since_checkin(self) -> int | None:
        return None if self.last_checkin is None else (self.today - self.last_checkin).days

    @property
    def dose_rate(self) -> float | None:
        return self.doses_taken / self.doses_due if self.doses_due else None

    @property
    def checkin_rate(self) -> float | None:
        return self.checkins_done / self.checkins_expected if self.checkins_expected else None

    @property
    def behind(self) -> bool:
        rate = self.checkin_rate
        return self.doses_taken < self.doses_due or (rate is not None and rate < BEHIND_CHECKIN_RATE)


def _expected(protocol, doses: list[_Dose], cure1_start: date, cache: dict
              ) -> list[plan.ExpectedCheckin]:
    """Expected check-ins; patients with the same plan shape share one computation."""
    if not doses:
        return plan.plan_checkins(protocol, cure1_start)
    spans = plan.cure_spans(protocol, doses)
    end = plan.follow_up_end(protocol, cure1_start)
    key = (protocol.code, cure1_start.weekday(), (end - cure1_start).days,
           tuple((s.cure, (s.first - cure1_start).days, (s.last - cure1_start).days,
                  s.daily_checkins) for s in spans))
    relative = cache.get(key)
    if relative is None:
        found = plan.expected_checkins(protocol, spans, cure1_start, end)
        relative = [((e.date - cure1_start).days, e.kind) for e in found]
        cache[key] = relative
    return [plan.ExpectedCheckin(cure1_start + timedelta(days=d), kind) for d, kind in relative]


def _combine(parts: list[str]) -> str:
    if "missed" in parts:
        return "partial" if "done" in parts else "missed"
    if "pending" in parts:
        return "pending"
    return "done"


def site_adherence(user, now: datetime, *, site_id: int | None = None,
                   heat_days: int = 28) -> list[Adherence]:
    """One `Adherence` per patient `user` may see (optionally one site), by study code."""
    visible = scope.patient_clause(user, Patient.id)
    if site_id is not None:
        visible = sa.and_(visible, Patient.site_id == site_id)
    ids = sa.select(Patient.id).where(visible)

    patients = db.session.execute(
        sa.select(Patient.id, Patient.study_code, Patient.status, Patient.timezone,
                  Patient.protocol, Patient.cure1_start, Site.name, Site.timezone.label("site_tz"))
        .join(Site, Site.id == Patient.site_id).where(visible).order_by(Patient.study_code)
    ).all()
    doses = db.session.execute(
        sa.select(ScheduledDose.patient_id, ScheduledDose.cure, ScheduledDose.planned_date,
                  InjectionRecord.taken, InjectionRecord.taken_at)
        .outerjoin(InjectionRecord, sa.and_(InjectionRecord.scheduled_dose_id == ScheduledDose.id,
                                            InjectionRecord.superseded_at.is_(None)))
        .where(ScheduledDose.patient_id.in_(ids))
    ).all()
    checkin_days = db.session.execute(
        sa.select(CheckIn.patient_id, CheckIn.diary_date).where(CheckIn.patient_id.in_(ids))
        .group_by(CheckIn.patient_id, CheckIn.diary_date)
    ).all()
    alerts = db.session.execute(
        sa.select(Alert.patient_id, Alert.tier, sa.func.count(Alert.id))
        .where(Alert.patient_id.in_(ids), Alert.status == "open")
        .group_by(Alert.patient_id, Alert.tier)
    ).all()
    last_ids = (sa.select(sa.func.max(OutboxMessage.id).label("last_id"))
                .where(OutboxMessage.kind == REMINDER_KIND, OutboxMessage.patient_id.in_(ids))
                .group_by(OutboxMessage.patient_id).scalar_subquery())
    reminders = db.session.execute(
        sa.select(OutboxMessage.patient_id, OutboxMessage.status, OutboxMessage.channel,
                  OutboxMessage.sent_at, OutboxMessage.created_at)
        .where(OutboxMessage.id.in_(last_ids))
    ).all()

    doses_of: dict[int, list] = {}
    for row in doses:
        doses_of.setdefault(row.patient_id, []).append(row)
    days_of: dict[int, set[date]] = {}
    for pid, day in checkin_days:
        days_of.setdefault(pid, set()).add(day)
    alerts_of: dict[int, dict[str, int]] = {}
    for pid, tier, count in alerts:
        alerts_of.setdefault(pid, {})[tier] = count
    reminder_of = {row.patient_id: row for row in reminders}

    cache: dict = {}
    result = []
    for p in patients:
        tz = p.timezone or p.site_tz
        today = local_date(now, tz)
        heat_start = today - timedelta(days=heat_days - 1)
        fig = Adherence(p.id, p.study_code, p.name, p.status, today)
        try:
            protocol = load_protocol(p.protocol)
        except ProtocolError:
            protocol = None
        heat: dict[date, list[str]] = {}
        cures: dict[int, CureFigures] = {}
        mine = sorted(doses_of.get(p.id, []), key=lambda r: (r.planned_date, r.cure))
        for d in mine:
            status = plan.dose_status(d.planned_date, None if d.taken is None else d, today)
            c = cures.setdefault(d.cure, CureFigures(d.cure))
            c.total += 1
            fig.doses_total += 1
            if status in ("taken", "not_taken", "missed"):
                c.due += 1
                fig.doses_due += 1
            if status == "taken":
                c.taken += 1
                fig.doses_taken += 1
                if d.taken_at is not None and local_date(d.taken_at, tz) == d.planned_date:
                    fig.doses_on_time += 1
            elif status in ("missed", "not_taken"):
                fig.doses_missed += 1
            if d.planned_date >= heat_start:
                heat.setdefault(d.planned_date, []).append(
                    "done" if status == "taken" else "missed" if status in ("missed", "not_taken")
                    else "pending")
        fig.cures = [cures[k] for k in sorted(cures)]
        days = days_of.get(p.id, set())
        fig.last_checkin = max(days) if days else None
        if protocol is not None:
            back = protocol.windows.checkin_days_back
            for e in _expected(protocol, [_Dose(d.cure, d.planned_date) for d in mine],
                               p.cure1_start, cache):
                if e.kind == "daily":
                    done_on = e.date if e.date in days else None
                    closes = e.date + timedelta(days=back)
                else:
                    sunday = plan.week_end(e.date)
                    done_on = next((e.date + timedelta(days=i)
                                    for i in range((sunday - e.date).days + 1)
                                    if e.date + timedelta(days=i) in days), None)
                    closes = sunday + timedelta(days=back)
                if done_on is not None:
                    fig.checkins_done += 1
                    fig.checkins_expected += 1
                elif closes < today:
                    fig.checkins_expected += 1
                shown = done_on or e.date
                if heat_start <= shown <= today:
                    heat.setdefault(shown, []).append(
                        "done" if done_on else "missed" if closes < today else "pending")
        fig.day_states = {day: _combine(parts) for day, parts in heat.items() if day <= today}
        tiers = alerts_of.get(p.id, {})
        fig.open_alerts = sum(tiers.values())
        fig.open_alert_tier = next((t for t in TIER_ORDER if tiers.get(t)), None)
        reminder = reminder_of.get(p.id)
        if reminder is not None:
            fig.reminder_status = reminder.status
            fig.reminder_channel = reminder.channel
            fig.reminder_at = reminder.sent_at or reminder.created_at
        result.append(fig)
    return result


# --- sorting and filtering (query-string driven, no JavaScript) ---------------

def _none_last(value, reverse: bool):
    """Sort key that keeps missing figures at the end whichever the direction."""
    if value is None:
        return (1, 0) if not reverse else (-1, 0)
    return (0, value)


SORT_KEYS = {
    "code": lambda a: a.study_code,
    "doses": lambda a: a.dose_rate,
    "on_time": lambda a: a.doses_on_time,
    "checkins": lambda a: a.checkin_rate,
    "last": lambda a: a.days_since_checkin,
    "alerts": lambda a: a.open_alerts,
    "reminder": lambda a: a.reminder_status,
}


def filter_and_sort(rows: list[Adherence], *, q: str = "", status: str = "active",
                    only: str = "", sort: str = "code", descending: bool = False
                    ) -> list[Adherence]:
    q = (q or "").strip().lower()
    if q:
        rows = [r for r in rows if q in r.study_code.lower()]
    if status in ("active", "withdrawn"):
        rows = [r for r in rows if r.status == status]
    if only == "behind":
        rows = [r for r in rows if r.behind]
    elif only == "alerts":
        rows = [r for r in rows if r.open_alerts]
    key = SORT_KEYS.get(sort, SORT_KEYS["code"])
    return sorted(rows, key=lambda r: (_none_last(key(r), descending), r.study_code),
                  reverse=descending)
