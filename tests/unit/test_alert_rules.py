"""The alert rules of clinical-rules.md section 4, at their boundaries (pure, no database)."""
import tomllib
from datetime import date
from pathlib import Path

import pytest

from diary.alerts.rules import (
    History,
    advice_for,
    describe_rules,
    evaluate,
    highest_tier,
    validate_thresholds,
)

PROTOCOL = Path(__file__).resolve().parents[2] / "diary/protocol/files/vascu_il2.toml"
T = tomllib.loads(PROTOCOL.read_text())["alerts"]
DAY = date(2026, 11, 25)


def ci(temperature_c=None, symptoms=None, new_or_worse=(), warning_signs=(), diameter=None,
       ulceration=None, diary_date=DAY):
    return {"diary_date": diary_date, "temperature_c": temperature_c,
            "symptoms": dict(symptoms or {}), "new_or_worse": list(new_or_worse),
            "warning_signs": list(warning_signs),
            "injection_site": {"diameter_cm": diameter, "ulceration": ulceration}}


def rules_of(values, history=None, thresholds=T):
    return [f.rule for f in evaluate(values, history, thresholds)]


def test_the_protocol_thresholds_are_valid():
    assert validate_thresholds(T) == []


def test_nothing_fires_for_a_quiet_checkin():
    fired = evaluate(ci(36.8, {"purpura": 0, "asthenia": 1}), None, T)
    assert fired == []
    assert advice_for(fired) == "none"


@pytest.mark.parametrize("temp,expected", [
    (39.0, ["U1"]), (38.9, ["R1"]), (38.0, ["R1"]), (37.9, []), (43.0, ["U1"]),
])
def test_fever_thresholds(temp, expected):
    assert rules_of(ci(temp)) == expected


def test_u1_is_urgent_and_advises_calling_now():
    fired = evaluate(ci(39.0), None, T)
    assert [(f.rule, f.tier) for f in fired] == [("U1", "urgent")]
    assert fired[0].evidence == {"temperature_c": 39.0}
    assert advice_for(fired) == "call_team_now"


@pytest.mark.parametrize("temp,chills,expected", [
    (38.0, 3, ["U2", "D5"]),      # fever with severe chills; chills 3 is also severe (D5)
    (37.9, 3, ["D5"]),            # no fever: no U2
    (38.0, 2, ["R1", "R2"]),      # chills 2 is not enough
])
def test_u2_fever_with_chills(temp, chills, expected):
    assert rules_of(ci(temp, {"chills": chills})) == expected


def test_u2_fever_with_fainting_also_fires_u3():
    assert rules_of(ci(38.2, warning_signs=["fainting"])) == ["U2", "U3"]


@pytest.mark.parametrize("sign", ["blood_in_stool", "coughing_blood", "limb_weakness",
                                  "confusion", "digital_necrosis", "oliguria", "fainting"])
def test_u3_each_urgent_warning_sign(sign):
    fired = evaluate(ci(warning_signs=[sign]), None, T)
    assert [f.rule for f in fired] == ["U3"]
    assert fired[0].evidence == {"warning_signs": [sign]}


@pytest.mark.parametrize("item", ["abdominal_pain", "dyspnea"])
def test_u4_severe_organ_items_at_3_not_2(item):
    assert rules_of(ci(symptoms={item: 3})) == ["U4", "D5"]
    assert rules_of(ci(symptoms={item: 2})) == ["R2"]


def test_u5_ulceration_and_no_ulceration():
    assert rules_of(ci(ulceration=True)) == ["U5"]
    assert rules_of(ci(ulceration=False)) == []


def test_d1_fever_on_this_and_the_previous_diary_day_replaces_r1():
    yesterday = ci(38.0, diary_date=date(2026, 11, 24))
    history = History(previous=yesterday, previous_day=[yesterday])
    fired = evaluate(ci(38.0), history, T)
    assert [f.rule for f in fired] == ["D1"]
    assert fired[0].evidence == {"temperature_c": 38.0, "previous_day_temperature_c": 38.0}
    assert advice_for(fired) == "contact_team_today"


def test_d1_not_when_the_previous_day_was_37_9():
    yesterday = ci(37.9, diary_date=date(2026, 11, 24))
    assert rules_of(ci(38.5), History(yesterday, [yesterday])) == ["R1"]


def test_d1_and_u1_both_fire_on_a_second_day_of_high_fever():
    yesterday = ci(38.4, diary_date=date(2026, 11, 24))
    assert rules_of(ci(39.1), History(yesterday, [yesterday])) == ["U1", "D1"]


def test_d2_purpura_marked_new_or_worse():
    assert rules_of(ci(symptoms={"purpura": 1}, new_or_worse=["purpura"])) == ["D2"]


def test_d2_purpura_higher_than_previous_checkin():
    previous = ci(symptoms={"purpura": 1})
    assert rules_of(ci(symptoms={"purpura": 2}), History(previous)) == ["D2", "R2"]


def test_d2_not_for_persistent_purpura_or_grade_0():
    previous = ci(symptoms={"purpura": 1})
    assert rules_of(ci(symptoms={"purpura": 1}), History(previous)) == []
    assert rules_of(ci(symptoms={"purpura": 0}, new_or_worse=["purpura"])) == []
    # first check-in with purpura but not marked: no previous grade to compare
    assert rules_of(ci(symptoms={"purpura": 1})) == []


@pytest.mark.parametrize("sign", ["leg_ulcer", "urine_change"])
def test_d3_warning_signs(sign):
    fired = evaluate(ci(warning_signs=[sign]), None, T)
    assert [(f.rule, f.tier) for f in fired] == [("D3", "within_24h")]


@pytest.mark.parametrize("item", ["paresthesia", "leg_edema"])
def test_d4_marked_new_or_worse_only(item):
    assert rules_of(ci(symptoms={item: 1}, new_or_worse=[item])) == ["D4"]
    assert rules_of(ci(symptoms={item: 1})) == []
    assert rules_of(ci(symptoms={item: 0}, new_or_worse=[item])) == []


def test_d5_any_item_severe():
    fired = evaluate(ci(symptoms={"headache": 4, "nausea": 3, "asthenia": 2}), None, T)
    assert [f.rule for f in fired] == ["D5", "R2"]
    assert fired[0].evidence == {"headache": 4, "nausea": 3}


def test_d6_worsening_of_exactly_2_fires_and_of_1_does_not():
    previous = ci(symptoms={"arthralgia": 0, "myalgia": 1})
    fired = evaluate(ci(symptoms={"arthralgia": 2, "myalgia": 2}), History(previous), T)
    assert [f.rule for f in fired] == ["D6", "R2"]
    assert fired[0].evidence == {"arthralgia": {"grade": 2, "previous": 0}}


def test_d6_needs_the_item_on_the_previous_checkin():
    previous = ci(symptoms={"myalgia": 1})
    assert rules_of(ci(symptoms={"arthralgia": 2}), History(previous)) == ["R2"]


@pytest.mark.parametrize("diameter,expected", [
    (5.0, ["D7"]), (4.9, ["R3"]), (2.5, ["R3"]), (2.4, []), (30.0, ["D7"]), (0.0, []),
])
def test_injection_site_diameter_boundaries(diameter, expected):
    assert rules_of(ci(diameter=diameter)) == expected


def test_r2_moderate_item():
    fired = evaluate(ci(symptoms={"asthenia": 2}), None, T)
    assert [(f.rule, f.tier) for f in fired] == [("R2", "routine")]
    assert advice_for(fired) == "none"


def test_highest_tier_decides():
    fired = evaluate(ci(39.5, {"asthenia": 2}, diameter=6.0), None, T)
    assert [f.rule for f in fired] == ["U1", "D7", "R2"]
    assert highest_tier(fired) == "urgent"
    assert advice_for(fired) == "call_team_now"


def test_thresholds_come_from_the_table_not_the_code():
    stricter = dict(T, fever_c=37.5, site_reaction_alert_cm=4.0)
    assert rules_of(ci(37.6), thresholds=stricter) == ["R1"]
    assert rules_of(ci(diameter=4.5), thresholds=stricter) == ["D7"]


def test_validate_thresholds_names_each_problem():
    bad = dict(T, fever_c="38", severe_grade=7, urgent_warning_signs=["sneezing"],
               surprise=1, escalation_minutes={"urgent": 0, "within_24h": 60, "routine": 60})
    problems = validate_thresholds(bad)
    assert any(p.startswith("alerts.fever_c") for p in problems)
    assert any(p.startswith("alerts.severe_grade") for p in problems)
    assert any("sneezing" in p for p in problems)
    assert any(p.startswith("alerts.surprise") for p in problems)
    assert any(p.startswith("alerts.escalation_minutes.urgent") for p in problems)
    missing = {k: v for k, v in T.items() if k != "high_fever_c"}
    assert validate_thresholds(missing) == ["alerts.high_fever_c: a number is required"]
    assert validate_thresholds(dict(T, high_fever_c=37.0)) == [
        "alerts.high_fever_c must not be below alerts.fever_c"]


def test_describe_rules_covers_every_rule_with_the_thresholds():
    rows = describe_rules(T)
    assert [r["rule"] for r in rows] == ["U1", "U2", "U3", "U4", "U5", "D1", "D2", "D3", "D4",
                                         "D5", "D6", "D7", "R1", "R2", "R3"]
    text = {r["rule"]: str(r["text"]) for r in rows}
    assert "39.0" in text["U1"]
    assert "5.0" in text["D7"] and "2.5" in text["R3"]
    assert rows[5]["advice"] == "contact_team_today"
    assert "19.0" in str(describe_rules(dict(T, high_fever_c=19.0, fever_c=18.0))[0]["text"])
