"""The plan, computed from a protocol and cure 1's start date. Pure: no database, no clock.

Expected check-ins (clinical-rules.md section 2):
- daily, from each cure's first dose to `daily_days_after_last_dose` days after
  its last dose (only for cures with `daily_checkins`);
- weekly, one per Monday-Sunday calendar week that has at least one day of the
  plan (cure 1 day 1 to the follow-up end) outside every daily window. Its
  `date` is the first such day of the week; a check-in on any day from that
  date to the week's Sunday fulfils it.
"""
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

from diary.protocol.loader import Protocol


@dataclass(frozen=True)
class PlannedDose:
    cure: int
    day: int
    date: date
    dose_miu: float
    setting: str


class ExpectedCheckin(NamedTuple):
    date: date
    kind: str  # "daily" | "weekly"


@dataclass(frozen=True)
class CureSpan:
    """Where a cure falls once planned (or shifted): its first and last dose dates."""
    cure: int
    first: date
    last: date
    daily_checkins: bool


def planned_doses(protocol: Protocol, cure1_start: date) -> list[PlannedDose]:
    doses = []
    for cure in protocol.cures:
        for i, offset in enumerate(cure.dose_offsets()):
            doses.append(PlannedDose(cure.number, i + 1, cure1_start + timedelta(days=offset),
                                     cure.dose_miu, cure.setting))
    return doses


def cure_spans(protocol: Protocol, doses) -> list[CureSpan]:
    """Spans from dose-like objects (with .cure and .date), e.g. stored, shifted doses."""
    by_cure: dict[int, list[date]] = {}
    for dose in doses:
        by_cure.setdefault(dose.cure, []).append(dose.date)
    daily = {c.number: c.daily_checkins for c in protocol.cures}
    return [CureSpan(n, min(ds), max(ds), daily.get(n, True)) for n, ds in sorted(by_cure.items())]


def follow_up_end(protocol: Protocol, cure1_start: date) -> date:
    return cure1_start + timedelta(days=protocol.follow_up_end_offset_days)


def week_end(day: date) -> date:
    """The Sunday closing `day`'s Monday-Sunday week."""
    return day + timedelta(days=6 - day.weekday())


def expected_checkins(protocol: Protocol, spans: list[CureSpan], start: date,
                      end: date) -> list[ExpectedCheckin]:
    after = protocol.checkins.daily_days_after_last_dose
    daily_days: set[date] = set()
    for span in spans:
        if span.daily_checkins:
            day = span.first
            while day <= span.last + timedelta(days=after):
                daily_days.add(day)
                day += timedelta(days=1)
    if spans:  # a shifted late cure may run past the protocol's follow-up end
        end = max(end, max(s.last for s in spans))
    expected = [ExpectedCheckin(d, "daily") for d in sorted(daily_days) if start <= d]
    if protocol.checkins.weekly_outside_cures:
        day = start
        while day <= end:
            sunday = min(week_end(day), end)
            free = [d for d in _days(day, sunday) if d not in daily_days]
            if free:
                expected.append(ExpectedCheckin(free[0], "weekly"))
            day = week_end(day) + timedelta(days=1)
    return sorted(expected)


def _days(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def plan_checkins(protocol: Protocol, cure1_start: date) -> list[ExpectedCheckin]:
    """The expected check-ins of an unshifted plan."""
    doses = planned_doses(protocol, cure1_start)
    return expected_checkins(protocol, cure_spans(protocol, doses), cure1_start,
                             follow_up_end(protocol, cure1_start))


def dose_status(dose_date: date, record, today: date) -> str:
    """upcoming | due | taken | not_taken | missed, as the API reports it.

    `record` is the dose's current record (anything with `.taken`) or None.
    """
    if record is not None:
        return "taken" if record.taken else "not_taken"
    if dose_date > today:
        return "upcoming"
    if dose_date == today:
        return "due"
    return "missed"
