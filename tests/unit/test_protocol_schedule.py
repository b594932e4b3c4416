"""The protocol files and the pure schedule computation."""
from datetime import date, timedelta

import pytest

from diary.protocol import ProtocolError, available_protocols, load_protocol, load_protocol_file
from diary.protocol import schedule as plan
from diary.protocol.loader import FILES_DIR

VASCU = FILES_DIR / "vascu_il2.toml"


def test_vascu_il2_plans_20_doses_of_52_5_miu():
    p = load_protocol("vascu-il2")
    doses = plan.planned_doses(p, date(2026, 11, 2))
    assert len(doses) == 20
    assert sum(d.dose_miu for d in doses) == pytest.approx(52.5)
    assert [d.date for d in doses if d.day == 1] == [
        date(2026, 11, 2), date(2026, 11, 16), date(2026, 12, 7), date(2026, 12, 28)]
    assert {d.setting for d in doses if d.cure == 1} == {"hospital"}
    assert {(d.dose_miu, d.setting) for d in doses if d.cure > 1} == {(3.0, "home")}
    assert plan.follow_up_end(p, date(2026, 11, 2)) == date(2027, 7, 18)  # day 258


def test_lupus_protocol_schedules_daily_then_weekly_with_the_same_code():
    p = load_protocol("lupus-il2")
    doses = plan.planned_doses(p, date(2027, 1, 4))
    assert len(doses) == 17 and sum(d.dose_miu for d in doses) == pytest.approx(25.5)
    induction = [d.date for d in doses if d.cure == 1]
    weekly = [d.date for d in doses if d.cure == 2]
    assert induction == [date(2027, 1, 4) + timedelta(days=i) for i in range(5)]
    assert weekly[0] == date(2027, 1, 15)
    assert all(b - a == timedelta(days=7) for a, b in zip(weekly, weekly[1:], strict=False))
    checkins = plan.plan_checkins(p, date(2027, 1, 4))
    daily = [c.date for c in checkins if c.kind == "daily"]
    assert daily == [date(2027, 1, 4) + timedelta(days=i) for i in range(7)]  # induction only
    weekly_checkins = [c for c in checkins if c.kind == "weekly"]
    assert weekly_checkins and all(c.date.weekday() == 0 for c in weekly_checkins[1:])
    assert set(available_protocols()) >= {"vascu-il2", "lupus-il2"}


def test_schedule_across_spring_dst_change_in_paris():
    # Clocks go forward on Sunday 2027-03-28: the plan counts calendar days, none lost.
    p = load_protocol("vascu-il2")
    doses = plan.planned_doses(p, date(2027, 3, 22))
    assert [d.date for d in doses if d.cure == 1] == [date(2027, 3, d) for d in range(22, 27)]
    checkins = plan.plan_checkins(p, date(2027, 3, 22))
    assert [c for c in checkins if c.date <= date(2027, 4, 4)] == [
        *[plan.ExpectedCheckin(date(2027, 3, d), "daily") for d in range(22, 29)],
        plan.ExpectedCheckin(date(2027, 3, 29), "weekly"),
    ]
    assert [c.date for c in checkins if c.kind == "daily"][7] == date(2027, 4, 5)  # cure 2


def test_schedule_across_autumn_dst_change_and_month_end():
    p = load_protocol("vascu-il2")
    doses = plan.planned_doses(p, date(2026, 10, 9))  # cure 2 spans Sunday 2026-10-25
    assert [d.date for d in doses if d.cure == 2] == [
        date(2026, 10, 23), date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26),
        date(2026, 10, 27)]
    doses = plan.planned_doses(p, date(2027, 1, 28))
    assert [d.date for d in doses if d.cure == 1] == [
        date(2027, 1, 28), date(2027, 1, 29), date(2027, 1, 30), date(2027, 1, 31),
        date(2027, 2, 1)]
    assert doses[5].date == date(2027, 2, 11)  # cure 2 day 1: day offset 14 across February


def test_weekly_checkin_of_a_partly_daily_week_starts_on_its_first_free_day():
    p = load_protocol("vascu-il2")
    start = date(2026, 11, 4)  # a Wednesday: the daily window runs to Tuesday 11-10
    checkins = plan.plan_checkins(p, start)
    assert plan.ExpectedCheckin(date(2026, 11, 10), "daily") in checkins
    assert plan.ExpectedCheckin(date(2026, 11, 11), "weekly") in checkins
    assert not [c for c in checkins if c.kind == "weekly" and c.date < date(2026, 11, 11)]
    # 4 cures x 7 daily; never two weekly check-ins in one Monday-Sunday week
    assert len([c for c in checkins if c.kind == "daily"]) == 28
    weeks = [plan.week_end(c.date) for c in checkins if c.kind == "weekly"]
    assert len(weeks) == len(set(weeks))
    assert checkins[-1].date <= plan.follow_up_end(p, start)


def test_dose_status():
    today = date(2026, 11, 25)

    class Rec:
        def __init__(self, taken):
            self.taken = taken

    assert plan.dose_status(date(2026, 11, 26), None, today) == "upcoming"
    assert plan.dose_status(today, None, today) == "due"
    assert plan.dose_status(date(2026, 11, 24), None, today) == "missed"
    assert plan.dose_status(date(2026, 11, 24), Rec(True), today) == "taken"
    assert plan.dose_status(today, Rec(False), today) == "not_taken"


def _broken(tmp_path, old, new, name="broken.toml"):
    text = VASCU.read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1))
    return path


def test_a_negative_dose_names_the_file_and_the_field(tmp_path):
    path = _broken(tmp_path, 'number = 3\nstart_offset_days = 35     # W6\ndays = 5\ndose_miu = 3.0',
                   'number = 3\nstart_offset_days = 35\ndays = 5\ndose_miu = -3.0')
    with pytest.raises(ProtocolError) as exc:
        load_protocol_file(path)
    assert "broken.toml: cures[2].dose_miu: must be a positive number" in str(exc.value)


@pytest.mark.parametrize("old,new,expected", [
    ('setting = "hospital"', 'setting = "clinic"',
     "cures[0].setting: must be one of hospital, home"),
    ("start_offset_days = 35", "start_offset_days = 15",
     "cures[2].start_offset_days: must come after the previous cure's last dose"),
    ("follow_up_end_offset_days = 258", "follow_up_end_offset_days = 30",
     "protocol.follow_up_end_offset_days: must not end before the last dose"),
    ("clock_skew_minutes = 5", "clock_skew_minutes = -5",
     "windows.clock_skew_minutes: must be a whole number >= 0"),
    ("clock_skew_minutes = 5", "clock_skew_minutes = 5\nclock_skew_hours = 1",
     "windows.clock_skew_hours: unknown key"),
    ("[checkins]", "[checkin]", "checkins: missing table"),
    ("fever_c = 38.0", 'fever_c = "hot"', "alerts.fever_c"),
    ("number = 2", "number = 7", "cures[1].number: must be 2"),
])
def test_broken_protocol_files_are_refused_with_a_message(tmp_path, old, new, expected):
    with pytest.raises(ProtocolError) as exc:
        load_protocol_file(_broken(tmp_path, old, new))
    assert f"broken.toml: {expected}" in str(exc.value)


def test_invalid_toml_and_unknown_code(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[protocol\ncode = 1")
    with pytest.raises(ProtocolError, match="bad.toml: not valid TOML"):
        load_protocol_file(path)
    with pytest.raises(ProtocolError, match="no protocol file for code 'nope'"):
        load_protocol("nope")
