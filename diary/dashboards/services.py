"""Adherence figures for a site's patients, in a constant number of queries.

Five SQL statements whatever the number of patients (patients; doses with
their current record, grouped by patient, cure and, near today, by day; each
patient's check-in days as one aggregated string; open alerts by tier; each
patient's last reminder), then the figures are assembled in Python. What
depends on a patient's time zone or plan (today, expected check-ins) is
computed here, from the pure schedule code of diary.protocol.

Counting rules (clinical-rules.md section 2; the spec is silent on "so far"):
- a dose is due so far when its status is taken, not_taken or missed (the API's
  statuses: its day has passed, or it is recorded); taken counts taken ones;
  on time means taken on its planned day by the patient's own clock (the UTC
  offset the device sent with `taken_at`), computed in SQL;
- an expected check-in counts once its entry window has closed (a daily one
  the day after the check-in window's last day, a weekly one after its week),
  or as soon as it is done; extra check-ins never count;
- days since the last check-in: today minus the latest diary day with one.
"""
from bisect import bisect_left
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
    #: the patient's site's time zone, in which staff read the times of this row
    site_tz: str = "UTC"
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


def _expected(protocol, doses: list[_Dose], cure1_start: date, cache: dict) -> list[tuple]:
    """Expected check-ins as day numbers after cure 1 day 1: (day, last day that fulfils it,
    last day of its entry window). Patients whose plans have the same shape (and whose
    cure 1 starts on the same weekday) share one computation."""
    if doses:
        spans = plan.cure_spans(protocol, doses)
    else:
        spans = plan.cure_spans(protocol, [_Dose(d.cure, d.date) for d in
                                           plan.planned_doses(protocol, cure1_start)])
    end = plan.follow_up_end(protocol, cure1_start)
    key = (protocol.code, cure1_start.weekday(), (end - cure1_start).days,
           tuple((s.cure, (s.first - cure1_start).days, (s.last - cure1_start).days,
                  s.daily_checkins) for s in spans))
    relative = cache.get(key)
    if relative is None:
        back = protocol.windows.checkin_days_back
        relative = []
        for e in plan.expected_checkins(protocol, spans, cure1_start, end):
            first = (e.date - cure1_start).days
            last = first if e.kind == "daily" else (plan.week_end(e.date) - cure1_start).days
            relative.append((first, last, last + back))
        cache[key] = relative
    return relative


def _combine(parts: list[str]) -> str:
    if "missed" in parts:
        return "partial" if "done" in parts else "missed"
    if "pending" in parts:
        return "pending"
    return "done"


def _device_day(dialect: str):
    """The day a dose was taken on the patient's own device clock (its stored UTC offset)."""
    offset = sa.func.coalesce(InjectionRecord.taken_at_offset_minutes, 0)
    if dialect == "postgresql":
        return sa.cast(sa.func.timezone("UTC", InjectionRecord.taken_at)
                       + sa.func.make_interval(0, 0, 0, 0, 0, offset), sa.Date)
    return sa.func.date(InjectionRecord.taken_at, sa.func.printf("%+d minutes", offset))


def site_adherence(user, now: datetime, *, site_id: int | None = None,
                   heat_days: int = 28) -> list[Adherence]:
    """One `Adherence` per patient `user` may see (optionally one site), by study code."""
    visible = scope.patient_clause(user, Patient.id)
    if site_id is not None:
        visible = sa.and_(visible, Patient.site_id == site_id)
    ids = sa.select(Patient.id).where(visible)
    # every patient's "today" is within a day of the UTC date: doses before `lo` are past
    # for everyone, after `hi` to come for everyone; between, they are counted day by day
    hi = now.date() + timedelta(days=1)
    lo = now.date() - timedelta(days=heat_days + 1)

    conn = db.session.connection()  # Core rows: no ORM loading for plain aggregates
    patients = conn.execute(
        sa.select(Patient.id, Patient.study_code, Patient.status, Patient.timezone,
                  Patient.protocol, Patient.cure1_start, Site.name, Site.timezone.label("site_tz"))
        .join(Site, Site.id == Patient.site_id).where(visible).order_by(Patient.study_code)
    ).all()
    kind = sa.case((ScheduledDose.planned_date < lo, 0), (ScheduledDose.planned_date > hi, 2),
                   else_=1)
    day = sa.case((kind == 1, ScheduledDose.planned_date), else_=None)
    taken = sa.case((InjectionRecord.taken.is_(True), 1), else_=0)
    on_time = sa.case((sa.and_(InjectionRecord.taken.is_(True),
                               _device_day(db.engine.dialect.name) == ScheduledDose.planned_date),
                       1), else_=0)
    doses = conn.execute(
        sa.select(ScheduledDose.patient_id, ScheduledDose.cure, kind.label("kind"),
                  day.label("day"), sa.func.count(ScheduledDose.id).label("n"),
                  sa.func.count(InjectionRecord.id).label("recorded"),
                  sa.func.sum(taken).label("taken"), sa.func.sum(on_time).label("on_time"),
                  sa.func.min(ScheduledDose.planned_date).label("first"),
                  sa.func.max(ScheduledDose.planned_date).label("last"))
        .outerjoin(InjectionRecord, sa.and_(InjectionRecord.scheduled_dose_id == ScheduledDose.id,
                                            InjectionRecord.superseded_at.is_(None)))
        .where(ScheduledDose.patient_id.in_(ids))
        .group_by(ScheduledDose.patient_id, ScheduledDose.cure, kind, day)
    ).all()
    checkin_days = conn.execute(
        sa.select(CheckIn.patient_id,
                  sa.func.aggregate_strings(sa.cast(CheckIn.diary_date, sa.String), ","))
        .where(CheckIn.patient_id.in_(ids)).group_by(CheckIn.patient_id)
    ).all()
    alerts = conn.execute(
        sa.select(Alert.patient_id, Alert.tier, sa.func.count(Alert.id))
        .where(Alert.patient_id.in_(ids), Alert.status == "open")
        .group_by(Alert.patient_id, Alert.tier)
    ).all()
    last_ids = (sa.select(sa.func.max(OutboxMessage.id).label("last_id"))
                .where(OutboxMessage.kind == REMINDER_KIND, OutboxMessage.patient_id.in_(ids))
                .group_by(OutboxMessage.patient_id).scalar_subquery())
    reminders = conn.execute(
        sa.select(OutboxMessage.patient_id, OutboxMessage.status, OutboxMessage.channel,
                  OutboxMessage.sent_at, OutboxMessage.created_at)
        .where(OutboxMessage.id.in_(last_ids))
    ).all()

    doses_of: dict[int, list] = {}
    for row in doses:
        doses_of.setdefault(row.patient_id, []).append(row)
    ordinal: dict[str, int] = {}  # the same few hundred dates recur across patients

    def to_ordinal(text: str) -> int:
        value = ordinal.get(text)
        if value is None:
            value = ordinal[text] = date.fromisoformat(text).toordinal()
        return value

    days_of = {pid: sorted({to_ordinal(t) for t in text.split(",")})
               for pid, text in checkin_days}
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
        fig = Adherence(p.id, p.study_code, p.name, p.status, today, site_tz=p.site_tz)
        heat: dict[date, list[str]] = {}
        cures: dict[int, CureFigures] = {}
        ends: list[_Dose] = []  # each group's first and last dates give the cure spans
        for d in doses_of.get(p.id, []):
            c = cures.setdefault(d.cure, CureFigures(d.cure))
            n, recorded, taken_n = d.n, d.recorded, int(d.taken or 0)
            c.total += n
            past = d.kind == 0 or (d.kind == 1 and d.day < today)
            due = n if past else recorded
            c.due += due
            c.taken += taken_n
            fig.doses_on_time += int(d.on_time or 0)
            ends += [_Dose(d.cure, d.first), _Dose(d.cure, d.last)]
            if d.day is not None:
                if d.day >= heat_start and d.day <= today:
                    heat.setdefault(d.day, []).append(
                        "done" if taken_n else "missed" if due else "pending")
        fig.cures = [cures[k] for k in sorted(cures)]
        fig.doses_total = sum(c.total for c in fig.cures)
        fig.doses_due = sum(c.due for c in fig.cures)
        fig.doses_taken = sum(c.taken for c in fig.cures)
        fig.doses_missed = fig.doses_due - fig.doses_taken
        days = days_of.get(p.id, [])
        fig.last_checkin = date.fromordinal(days[-1]) if days else None
        try:
            protocol = load_protocol(p.protocol)
        except ProtocolError:
            protocol = None
        if protocol is not None:
            expected = _expected(protocol, ends, p.cure1_start, cache)
            _count_checkins(fig, expected, p.cure1_start.toordinal(), days, today.toordinal(),
                            heat, heat_start.toordinal())
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


def _count_checkins(fig: Adherence, expected: list[tuple], base: int, days: list[int],
                    today: int, heat: dict, heat_start: int) -> None:
    """Done and expected-so-far check-ins, on day ordinals; a weekly one is done by any
    day of its week (from its date to Sunday)."""
    done_days = set(days)
    for first, last, closes in expected:
        first += base
        last += base
        closes += base
        if first == last:
            done_on = first if first in done_days else None
        else:
            i = bisect_left(days, first)
            done_on = days[i] if i < len(days) and days[i] <= last else None
        if done_on is not None:
            fig.checkins_done += 1
            fig.checkins_expected += 1
        elif closes < today:
            fig.checkins_expected += 1
        shown = done_on or first
        if heat_start <= shown <= today:
            heat.setdefault(date.fromordinal(shown), []).append(
                "done" if done_on else "missed" if closes < today else "pending")


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
