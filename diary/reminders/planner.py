"""What reminders are due at `now` for one patient. Pure: no database, no clock.

The rules (issue 6, clinical-rules.md section 2):
- injection: on each HOME dose day at the patient's injection time, while the
  dose has no record; one follow-up two hours later if still not recorded.
  When the follow-up is due the first reminder is no longer (never both);
- daily check-in: on each daily expected check-in day at the check-in time,
  while there is no check-in for that diary day;
- weekly check-in: on the patient's chosen weekday (Sunday, the last day of
  the calendar week, by default) if that day falls inside the week's window
  (from the expected date to the week's Sunday, or the plan's end), else on the
  window's last day; at the check-in time; while no check-in falls in the
  window. Skipped when a daily check-in is expected that same day (the daily
  reminder covers both: one check-in fulfils both);
- a time inside the quiet hours moves to their end (possibly the next morning),
  and nothing at all is due while the quiet hours last;
- nothing once done, nothing for a day after the plan's end (the last
  follow-up week), nothing for a patient who is not active (withdrawn).

A reminder is due from its time until the end of the local day it falls on
(and, for the first injection reminder, until its follow-up takes over), so a
sweep that ran late still sends it, and a stale one is never sent the next day.
Each reminder has a stable identity; the sweep uses it as the outbox dedupe
key. The dose's date is part of a dose identity, so that a shifted cure is
reminded again on its new date.
"""
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from diary.clock import at_local
from diary.protocol.schedule import week_end

FOLLOW_UP_DELAY = timedelta(hours=2)


@dataclass(frozen=True)
class Preferences:
    injection_time: time = time(9, 0)
    checkin_time: time = time(20, 0)
    quiet_start: time = time(22, 0)
    quiet_end: time = time(7, 0)
    #: 0 Monday .. 6 Sunday
    weekly_weekday: int = 6

    @classmethod
    def of(cls, row) -> "Preferences":
        """From a ReminderPreference row, or the defaults when there is none."""
        if row is None:
            return cls()
        return cls(row.injection_time, row.checkin_time, row.quiet_start, row.quiet_end,
                   row.weekly_weekday)


@dataclass(frozen=True)
class Due:
    #: stable identity, e.g. "dose:118:2026-11-25:first", "checkin:2026-11-25"
    identity: str
    #: injection | checkin
    kind: str
    #: when it became due (UTC)
    due_at: datetime


def in_quiet_hours(moment: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end  # wraps midnight


def _quiet_end_after(day: date, wall: time, prefs: Preferences, tz: str) -> datetime:
    """The end of the quiet hours that `wall` on `day` falls in (UTC)."""
    if prefs.quiet_start > prefs.quiet_end and wall >= prefs.quiet_start:
        day = day + timedelta(days=1)
    return at_local(day, prefs.quiet_end.hour, prefs.quiet_end.minute, tz)


def place(day: date, wall: time, prefs: Preferences, tz: str) -> datetime:
    """The UTC instant of `wall` on `day` in `tz`, moved to the end of quiet hours."""
    if in_quiet_hours(wall, prefs.quiet_start, prefs.quiet_end):
        return _quiet_end_after(day, wall, prefs, tz)
    return at_local(day, wall.hour, wall.minute, tz)


def later(moment: datetime, delay: timedelta, prefs: Preferences, tz: str) -> datetime:
    """`delay` after `moment` (absolute time), moved to the end of quiet hours."""
    instant = moment + delay
    local = instant.astimezone(ZoneInfo(tz))
    wall = local.time().replace(second=0, microsecond=0, tzinfo=None)
    if in_quiet_hours(wall, prefs.quiet_start, prefs.quiet_end):
        return _quiet_end_after(local.date(), wall, prefs, tz)
    return instant


def _day_end(moment: datetime, tz: str) -> datetime:
    """Midnight after `moment`'s local day (UTC)."""
    day = moment.astimezone(ZoneInfo(tz)).date() + timedelta(days=1)
    return at_local(day, 0, 0, tz)


def due_reminders(*, doses, recorded_dose_ids, expected, checkin_dates, prefs: Preferences,
                  tz: str, status: str, plan_end: date, now: datetime) -> list[Due]:
    """The reminders due at `now`.

    doses: objects with .id, .date, .setting (the plan as it stands);
    recorded_dose_ids: ids of doses with a current record (taken or not taken);
    expected: objects with .date and .kind (daily | weekly);
    checkin_dates: the diary dates the patient has a check-in for;
    plan_end: the last day of the plan (follow-up end, or a later shifted dose).
    """
    if status != "active":
        return []
    now = now.astimezone(UTC)
    local_now = now.astimezone(ZoneInfo(tz))
    if in_quiet_hours(local_now.time().replace(tzinfo=None), prefs.quiet_start, prefs.quiet_end):
        return []  # a sweep that ran late never sends into the quiet hours
    today = local_now.date()
    # A reminder is for today, or for yesterday when quiet hours moved it to this morning.
    days = (today - timedelta(days=1), today)
    due: list[Due] = []

    def consider(identity: str, kind: str, start: datetime, until: datetime) -> None:
        if start <= now < min(until, _day_end(start, tz)):
            due.append(Due(identity, kind, start))

    for dose in doses:
        if dose.setting != "home" or dose.date not in days or dose.date > plan_end:
            continue
        if dose.id in recorded_dose_ids:
            continue
        first = place(dose.date, prefs.injection_time, prefs, tz)
        follow = later(first, FOLLOW_UP_DELAY, prefs, tz)
        key = f"dose:{dose.id}:{dose.date.isoformat()}"
        consider(f"{key}:first", "injection", first, follow)
        consider(f"{key}:followup", "injection", follow, _day_end(follow, tz))

    daily_days = {e.date for e in expected if e.kind == "daily"}
    for exp in expected:
        if exp.date > plan_end or exp.date > today:
            continue
        if exp.kind == "daily":
            if exp.date not in days or exp.date in checkin_dates:
                continue
            day = exp.date
        else:
            last = min(week_end(exp.date), plan_end)
            if last < days[0]:
                continue
            if any(exp.date <= d <= last for d in checkin_dates):
                continue
            offset = (prefs.weekly_weekday - exp.date.weekday()) % 7
            day = exp.date + timedelta(days=offset)
            if day > last:
                day = last
            if day not in days or day in daily_days:
                continue
        start = place(day, prefs.checkin_time, prefs, tz)
        consider(f"checkin:{exp.date.isoformat()}", "checkin", start, _day_end(start, tz))
    return sorted(due, key=lambda d: (d.due_at, d.identity))
