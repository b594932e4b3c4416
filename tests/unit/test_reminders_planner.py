"""The pure reminder planner at fixed times (Europe/Paris unless said otherwise)."""
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from diary.protocol import load_protocol
from diary.protocol.schedule import ExpectedCheckin, plan_checkins
from diary.reminders.planner import Preferences, due_reminders

PARIS = "Europe/Paris"
END = date(2027, 7, 18)


@dataclass(frozen=True)
class Dose:
    id: int
    date: date
    setting: str = "home"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def due(now, *, doses=(), recorded=(), expected=(), done=(), prefs=Preferences(), tz=PARIS,
        status="active", plan_end=END):
    return [(d.identity, d.due_at) for d in due_reminders(
        doses=list(doses), recorded_dose_ids=set(recorded), expected=list(expected),
        checkin_dates=set(done), prefs=prefs, tz=tz, status=status, plan_end=plan_end, now=now)]


DOSE = Dose(118, date(2026, 11, 25))  # a Wednesday, CET (UTC+1)


def test_dose_day_first_reminder_at_the_chosen_time_then_one_follow_up():
    assert due(utc(2026, 11, 25, 7, 59), doses=[DOSE]) == []
    first = ("dose:118:2026-11-25:first", utc(2026, 11, 25, 8, 0))
    assert due(utc(2026, 11, 25, 8, 0), doses=[DOSE]) == [first]
    assert due(utc(2026, 11, 25, 9, 59), doses=[DOSE]) == [first]
    follow = ("dose:118:2026-11-25:followup", utc(2026, 11, 25, 10, 0))
    assert due(utc(2026, 11, 25, 10, 0), doses=[DOSE]) == [follow]  # never both
    assert due(utc(2026, 11, 25, 20, 59), doses=[DOSE]) == [follow]
    assert due(utc(2026, 11, 25, 21, 0), doses=[DOSE]) == []  # 22:00 local: quiet hours
    no_quiet = Preferences(quiet_start=time(0, 0), quiet_end=time(0, 0))
    assert due(utc(2026, 11, 25, 22, 59), doses=[DOSE], prefs=no_quiet) == [follow]
    assert due(utc(2026, 11, 25, 23, 0), doses=[DOSE], prefs=no_quiet) == []  # day over


def test_chosen_injection_time_is_used():
    prefs = Preferences(injection_time=time(12, 15))
    assert due(utc(2026, 11, 25, 11, 14), doses=[DOSE], prefs=prefs) == []
    assert due(utc(2026, 11, 25, 11, 15), doses=[DOSE], prefs=prefs) == [
        ("dose:118:2026-11-25:first", utc(2026, 11, 25, 11, 15))]


def test_dose_already_recorded_or_given_in_hospital_has_no_reminder():
    assert due(utc(2026, 11, 25, 8, 30), doses=[DOSE], recorded=[118]) == []
    assert due(utc(2026, 11, 25, 10, 30), doses=[DOSE], recorded=[118]) == []
    hospital = Dose(7, date(2026, 11, 25), "hospital")
    assert due(utc(2026, 11, 25, 8, 30), doses=[hospital]) == []


def test_no_reminder_for_another_day_dose():
    assert due(utc(2026, 11, 25, 8, 30), doses=[Dose(5, date(2026, 11, 26))]) == []
    assert due(utc(2026, 11, 25, 8, 30), doses=[Dose(5, date(2026, 11, 24))]) == []


def test_a_time_inside_quiet_hours_moves_to_their_end():
    prefs = Preferences(injection_time=time(6, 30))  # quiet 22:00-07:00
    assert due(utc(2026, 11, 25, 5, 45), doses=[DOSE], prefs=prefs) == []
    assert due(utc(2026, 11, 25, 6, 0), doses=[DOSE], prefs=prefs) == [
        ("dose:118:2026-11-25:first", utc(2026, 11, 25, 6, 0))]  # 07:00 local


def test_follow_up_falling_in_quiet_hours_waits_for_the_next_morning():
    prefs = Preferences(injection_time=time(21, 0))
    assert due(utc(2026, 11, 25, 20, 0), doses=[DOSE], prefs=prefs) == [
        ("dose:118:2026-11-25:first", utc(2026, 11, 25, 20, 0))]
    assert due(utc(2026, 11, 25, 22, 0), doses=[DOSE], prefs=prefs) == []  # 23:00 local: quiet
    assert due(utc(2026, 11, 26, 6, 0), doses=[DOSE], prefs=prefs) == [
        ("dose:118:2026-11-25:followup", utc(2026, 11, 26, 6, 0))]


def test_checkin_reminder_moved_out_of_quiet_hours_to_the_next_morning():
    prefs = Preferences(checkin_time=time(21, 30), quiet_start=time(21, 0))
    daily = ExpectedCheckin(date(2026, 11, 25), "daily")
    assert due(utc(2026, 11, 25, 20, 30), expected=[daily], prefs=prefs) == []
    assert due(utc(2026, 11, 26, 6, 0), expected=[daily], prefs=prefs) == [
        ("checkin:2026-11-25", utc(2026, 11, 26, 6, 0))]
    # done meanwhile (yesterday's check-in is allowed): nothing
    assert due(utc(2026, 11, 26, 6, 0), expected=[daily], prefs=prefs,
               done=[date(2026, 11, 25)]) == []


def test_daily_checkin_reminder_until_done():
    daily = ExpectedCheckin(date(2026, 11, 25), "daily")
    assert due(utc(2026, 11, 25, 18, 59), expected=[daily]) == []
    assert due(utc(2026, 11, 25, 19, 0), expected=[daily]) == [
        ("checkin:2026-11-25", utc(2026, 11, 25, 19, 0))]
    assert due(utc(2026, 11, 25, 19, 0), expected=[daily], done=[date(2026, 11, 25)]) == []


def test_night_of_the_autumn_daylight_saving_change():
    # 2026-10-25: Paris goes from UTC+2 to UTC+1 at 03:00.
    dose = Dose(9, date(2026, 10, 25))
    assert due(utc(2026, 10, 25, 7, 0), doses=[dose]) == []  # 08:00 local, not 09:00
    assert due(utc(2026, 10, 25, 8, 0), doses=[dose]) == [
        ("dose:9:2026-10-25:first", utc(2026, 10, 25, 8, 0))]
    assert due(utc(2026, 10, 25, 10, 0), doses=[dose]) == [
        ("dose:9:2026-10-25:followup", utc(2026, 10, 25, 10, 0))]
    # a check-in reminder of Saturday moved by quiet hours through the change
    prefs = Preferences(checkin_time=time(23, 30))
    saturday = ExpectedCheckin(date(2026, 10, 24), "daily")
    assert due(utc(2026, 10, 25, 5, 30), expected=[saturday], prefs=prefs) == []
    assert due(utc(2026, 10, 25, 6, 0), expected=[saturday], prefs=prefs) == [
        ("checkin:2026-10-24", utc(2026, 10, 25, 6, 0))]  # 07:00 CET


def test_night_of_the_spring_daylight_saving_change():
    # 2027-03-28: Paris goes from UTC+1 to UTC+2 at 02:00; 02:30 does not exist.
    no_quiet = Preferences(injection_time=time(2, 30), quiet_start=time(0, 0), quiet_end=time(0, 0))
    dose = Dose(3, date(2027, 3, 28))
    assert due(utc(2027, 3, 28, 1, 29), doses=[dose], prefs=no_quiet) == []
    assert due(utc(2027, 3, 28, 1, 30), doses=[dose], prefs=no_quiet) == [
        ("dose:3:2027-03-28:first", utc(2027, 3, 28, 1, 30))]  # 03:30 CEST
    # the usual 09:00 is 07:00 UTC that day
    assert due(utc(2027, 3, 28, 7, 0), doses=[dose]) == [
        ("dose:3:2027-03-28:first", utc(2027, 3, 28, 7, 0))]


def test_patient_time_zone_decides():
    assert due(utc(2026, 11, 25, 14, 0), doses=[DOSE], tz="America/New_York") == [
        ("dose:118:2026-11-25:first", utc(2026, 11, 25, 14, 0))]
    assert due(utc(2026, 11, 25, 8, 0), doses=[DOSE], tz="America/New_York") == []


def test_withdrawn_patient_gets_nothing():
    daily = ExpectedCheckin(date(2026, 11, 25), "daily")
    assert due(utc(2026, 11, 25, 19, 30), doses=[DOSE], expected=[daily], status="withdrawn") == []
    assert due(utc(2026, 11, 25, 19, 30), doses=[DOSE], expected=[daily]) != []


WEEK = ExpectedCheckin(date(2026, 11, 23), "weekly")  # Monday; window to Sunday 29


def test_weekly_checkin_reminder_on_the_chosen_day_if_not_done():
    assert due(utc(2026, 11, 25, 19, 0), expected=[WEEK]) == []  # Wednesday: not yet
    assert due(utc(2026, 11, 29, 19, 0), expected=[WEEK]) == [
        ("checkin:2026-11-23", utc(2026, 11, 29, 19, 0))]  # Sunday 20:00
    assert due(utc(2026, 11, 29, 19, 0), expected=[WEEK], done=[date(2026, 11, 26)]) == []
    wednesday = Preferences(weekly_weekday=2)
    assert due(utc(2026, 11, 25, 19, 0), expected=[WEEK], prefs=wednesday) == [
        ("checkin:2026-11-23", utc(2026, 11, 25, 19, 0))]


def test_weekly_chosen_day_before_the_window_falls_back_to_its_last_day():
    after_cure = ExpectedCheckin(date(2026, 11, 26), "weekly")  # Thursday after a cure
    monday = Preferences(weekly_weekday=0)
    assert due(utc(2026, 11, 26, 19, 0), expected=[after_cure], prefs=monday) == []
    assert due(utc(2026, 11, 29, 19, 0), expected=[after_cure], prefs=monday) == [
        ("checkin:2026-11-26", utc(2026, 11, 29, 19, 0))]


def test_nothing_after_the_last_follow_up_week():
    end = date(2026, 11, 25)  # the plan ends on a Wednesday
    assert due(utc(2026, 11, 25, 19, 0), expected=[WEEK], plan_end=end) == [
        ("checkin:2026-11-23", utc(2026, 11, 25, 19, 0))]  # the window's last day
    after = ExpectedCheckin(date(2026, 11, 30), "weekly")
    assert due(utc(2026, 12, 6, 19, 0), expected=[after], plan_end=end) == []
    late_dose = Dose(4, date(2026, 11, 26))
    assert due(utc(2026, 11, 26, 8, 0), doses=[late_dose], plan_end=end) == []


def test_real_plan_gives_one_reminder_a_day_in_a_cure_and_one_a_week_between():
    protocol = load_protocol("vascu-il2")
    start = date(2026, 11, 2)
    expected = plan_checkins(protocol, start)
    sent = set()
    day = start
    while day <= date(2026, 12, 31):
        for hour in range(24):
            for d in due(utc(day.year, day.month, day.day, hour, 0), expected=expected):
                sent.add(d[0])
        day = day.fromordinal(day.toordinal() + 1)
    daily = {f"checkin:{e.date}" for e in expected if e.kind == "daily" and e.date <= date(2026, 12, 31)}
    assert daily <= sent
    # the week of 23-29 November is between cures 2 and 3: one reminder, on Sunday 29
    assert "checkin:2026-11-23" in sent
    assert not any(k.startswith("checkin:2026-11-2") and k not in daily | {"checkin:2026-11-23"}
                   for k in sent)
