"""The one place that reads the clock, and the patient's diary day.

Services take `now` as an argument; views and jobs call `now_utc()` here, so
that a test can pin time by patching this one function.
"""
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


def now_utc() -> datetime:
    return datetime.now(UTC)


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def is_valid_timezone(name: str) -> bool:
    if not name or name not in available_timezones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def local_date(moment: datetime, tz_name: str) -> date:
    """The calendar day `moment` falls on in the time zone `tz_name`."""
    return moment.astimezone(ZoneInfo(tz_name)).date()


def local_datetime(moment: datetime, tz_name: str) -> datetime:
    return moment.astimezone(ZoneInfo(tz_name))


def at_local(day: date, hour: int, minute: int, tz_name: str) -> datetime:
    """The UTC instant of `hour:minute` on `day` in `tz_name`.

    A wall time that does not exist (the spring-forward gap) moves forward
    with the clocks; an ambiguous one (autumn) takes its first occurrence.
    """
    tz = ZoneInfo(tz_name)
    naive = datetime(day.year, day.month, day.day, hour, minute)
    aware = naive.replace(tzinfo=tz, fold=0)
    # Round-trip through UTC: a non-existent wall time normalises forward.
    return aware.astimezone(UTC)
