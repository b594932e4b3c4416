"""The alert rules of clinical-rules.md section 4, as pure functions.

`evaluate(values, history, thresholds)` looks at one new check-in and the
patient's history and returns every rule that fires, with its tier and the
values that made it fire. No database, no clock, no request: the thresholds
come from the protocol file's [alerts] table, as a dict.

Check-in values are plain dicts, as the validation service produces them:
    {"diary_date": date, "temperature_c": float | None,
     "symptoms": {code: grade}, "new_or_worse": [code], "warning_signs": [code],
     "injection_site": {"diameter_cm": float | None, "ulceration": bool | None}}
"""
from dataclasses import dataclass, field
from numbers import Real

from flask_babel import lazy_gettext as _l

from diary.checkins.items import SYMPTOMS, WARNING_SIGNS

TIER_ORDER = ("urgent", "within_24h", "routine")
ADVICE = {"urgent": "call_team_now", "within_24h": "contact_team_today", "routine": "none"}
NO_ADVICE = "none"


@dataclass(frozen=True)
class History:
    """What the rules may know of the past.

    previous: the patient's latest earlier check-in (None for the first one).
    previous_day: the check-ins of the diary day before this one's.
    """

    previous: dict | None = None
    previous_day: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Fired:
    rule: str
    tier: str
    evidence: dict


# --- helpers -------------------------------------------------------------

def _grades(values: dict | None) -> dict[str, int]:
    if not values:
        return {}
    return {k: v for k, v in (values.get("symptoms") or {}).items() if v is not None}


def _temp(values: dict | None) -> float | None:
    return None if not values else values.get("temperature_c")


def _site(values: dict) -> dict:
    return values.get("injection_site") or {}


def _fever(values: dict | None, t: dict) -> bool:
    temp = _temp(values)
    return temp is not None and temp >= t["fever_c"]


# --- the rules: each returns the evidence dict when it fires, else None ----

def u1(v, h, t):
    temp = _temp(v)
    if temp is not None and temp >= t["high_fever_c"]:
        return {"temperature_c": temp}


def u2(v, h, t):
    if not _fever(v, t):
        return None
    chills = _grades(v).get("chills")
    signs = [s for s in v.get("warning_signs") or [] if s in t["fever_companion_warning_signs"]]
    if (chills is not None and chills >= t["chills_with_fever_grade"]) or signs:
        ev = {"temperature_c": _temp(v)}
        if chills is not None:
            ev["chills"] = chills
        if signs:
            ev["warning_signs"] = signs
        return ev


def u3(v, h, t):
    signs = [s for s in v.get("warning_signs") or [] if s in t["urgent_warning_signs"]]
    if signs:
        return {"warning_signs": signs}


def u4(v, h, t):
    g = _grades(v)
    hit = {c: g[c] for c in t["severe_organ_items"] if g.get(c, -1) >= t["severe_grade"]}
    return hit or None


def u5(v, h, t):
    if _site(v).get("ulceration") is True:
        return {"ulceration": True}


def d1(v, h, t):
    if not _fever(v, t):
        return None
    earlier = [_temp(c) for c in h.previous_day if _fever(c, t)]
    if earlier:
        return {"temperature_c": _temp(v), "previous_day_temperature_c": max(earlier)}


def d2(v, h, t):
    grade = _grades(v).get("purpura")
    if grade is None or grade < 1:
        return None
    marked = "purpura" in (v.get("new_or_worse") or [])
    before = _grades(h.previous).get("purpura")
    higher = before is not None and grade > before
    if marked or higher:
        ev = {"purpura": grade, "new_or_worse": marked}
        if before is not None:
            ev["previous_purpura"] = before
        return ev


def d3(v, h, t):
    signs = [s for s in v.get("warning_signs") or [] if s in t["within_24h_warning_signs"]]
    if signs:
        return {"warning_signs": signs}


def d4(v, h, t):
    g, marked = _grades(v), v.get("new_or_worse") or []
    hit = {c: g[c] for c in t["new_or_worse_items"] if c in marked and g.get(c, 0) >= 1}
    return hit or None


def d5(v, h, t):
    hit = {c: g for c, g in _grades(v).items() if g >= t["severe_grade"]}
    return hit or None


def d6(v, h, t):
    before = _grades(h.previous)
    hit = {c: {"grade": g, "previous": before[c]} for c, g in _grades(v).items()
           if c in before and g - before[c] >= t["worsening_points"]}
    return hit or None


def d7(v, h, t):
    d = _site(v).get("diameter_cm")
    if d is not None and d >= t["site_reaction_alert_cm"]:
        return {"diameter_cm": d}


def r1(v, h, t):
    if _fever(v, t):
        return {"temperature_c": _temp(v)}


def r2(v, h, t):
    hit = {c: g for c, g in _grades(v).items() if g == t["moderate_grade"]}
    return hit or None


def r3(v, h, t):
    d = _site(v).get("diameter_cm")
    if d is not None and t["site_reaction_routine_cm"] <= d < t["site_reaction_alert_cm"]:
        return {"diameter_cm": d}


RULES = (
    ("U1", "urgent", u1), ("U2", "urgent", u2), ("U3", "urgent", u3), ("U4", "urgent", u4),
    ("U5", "urgent", u5),
    ("D1", "within_24h", d1), ("D2", "within_24h", d2), ("D3", "within_24h", d3),
    ("D4", "within_24h", d4), ("D5", "within_24h", d5), ("D6", "within_24h", d6),
    ("D7", "within_24h", d7),
    ("R1", "routine", r1), ("R2", "routine", r2), ("R3", "routine", r3),
)
TIER_OF = {rule: tier for rule, tier, _fn in RULES}


def evaluate(values: dict, history: History | None, thresholds: dict) -> list[Fired]:
    """Every rule that fires for `values`, in rule order (U, D, R)."""
    history = history or History()
    fired = []
    for rule, tier, fn in RULES:
        evidence = fn(values, history, thresholds)
        if evidence is not None:
            fired.append(Fired(rule, tier, evidence))
    names = {f.rule for f in fired}
    if names & {"D1", "U1", "U2"}:
        # a single day's fever is routine only when nothing graver already covers it
        fired = [f for f in fired if f.rule != "R1"]
    return fired


def highest_tier(fired) -> str | None:
    tiers = {f.tier for f in fired}
    return next((t for t in TIER_ORDER if t in tiers), None)


def advice_for(fired) -> str:
    tier = highest_tier(fired)
    return ADVICE[tier] if tier else NO_ADVICE


# --- thresholds ------------------------------------------------------------

_NUMBERS = {
    # key: (low, high) accepted
    "fever_c": (34.0, 43.0),
    "high_fever_c": (34.0, 43.0),
    "site_reaction_alert_cm": (0.0, 30.0),
    "site_reaction_routine_cm": (0.0, 30.0),
}
_GRADES = ("chills_with_fever_grade", "severe_grade", "moderate_grade", "worsening_points")
_SIGN_LISTS = ("urgent_warning_signs", "within_24h_warning_signs", "fever_companion_warning_signs")
_ITEM_LISTS = ("severe_organ_items", "new_or_worse_items")
_ESCALATION_TIERS = TIER_ORDER


def _is_number(x) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool)


def validate_thresholds(d: dict) -> list[str]:
    """Every problem with an [alerts] table, as sentences; [] when it can be applied."""
    if not isinstance(d, dict):
        return ["[alerts] must be a table"]
    problems = []
    for key, (low, high) in _NUMBERS.items():
        value = d.get(key)
        if not _is_number(value):
            problems.append(f"alerts.{key}: a number is required")
        elif not low <= value <= high:
            problems.append(f"alerts.{key}: {value} is outside {low}-{high}")
    for key in _GRADES:
        value = d.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 4:
            problems.append(f"alerts.{key}: a whole number from 1 to 4 is required")
    for key, known in [(k, WARNING_SIGNS) for k in _SIGN_LISTS] + [(k, SYMPTOMS) for k in _ITEM_LISTS]:
        value = d.get(key)
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            problems.append(f"alerts.{key}: a list of codes is required")
            continue
        unknown = [x for x in value if x not in known]
        if unknown:
            problems.append(f"alerts.{key}: unknown codes {', '.join(unknown)}")
    if not problems:
        if d["high_fever_c"] < d["fever_c"]:
            problems.append("alerts.high_fever_c must not be below alerts.fever_c")
        if d["site_reaction_routine_cm"] > d["site_reaction_alert_cm"]:
            problems.append("alerts.site_reaction_routine_cm must not be above "
                            "alerts.site_reaction_alert_cm")
    escalation = d.get("escalation_minutes")
    if escalation is not None:
        if not isinstance(escalation, dict):
            problems.append("alerts.escalation_minutes must be a table")
        else:
            for tier in _ESCALATION_TIERS:
                value = escalation.get(tier)
                if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                    problems.append(f"alerts.escalation_minutes.{tier}: a positive whole "
                                    "number of minutes is required")
            for extra in set(escalation) - set(_ESCALATION_TIERS):
                problems.append(f"alerts.escalation_minutes.{extra}: unknown tier")
    known_keys = set(_NUMBERS) | set(_GRADES) | set(_SIGN_LISTS) | set(_ITEM_LISTS) | {
        "escalation_minutes"}
    for extra in sorted(set(d) - known_keys):
        problems.append(f"alerts.{extra}: unknown setting")
    return problems


# --- the staff page --------------------------------------------------------

def _codes(codes, words) -> str:
    return ", ".join(f"{c} ({words[c]})" if c in words else c for c in codes)


def describe_rules(t: dict) -> list[dict]:
    """One row per rule, worded with the thresholds the code applies."""
    def row(rule, text):
        tier = TIER_OF[rule]
        return {"rule": rule, "tier": tier, "advice": ADVICE[tier], "text": text}

    return [
        row("U1", _l("Temperature %(t)s °C or higher", t=t["high_fever_c"])),
        row("U2", _l("Temperature %(t)s °C or higher with chills graded %(g)s or more, or "
                     "warning sign %(s)s", t=t["fever_c"], g=t["chills_with_fever_grade"],
                     s=_codes(t["fever_companion_warning_signs"], WARNING_SIGNS))),
        row("U3", _l("Any of the warning signs: %(s)s",
                     s=_codes(t["urgent_warning_signs"], WARNING_SIGNS))),
        row("U4", _l("%(items)s graded %(g)s or more",
                     items=_codes(t["severe_organ_items"], SYMPTOMS), g=t["severe_grade"])),
        row("U5", _l("Ulceration at the injection site")),
        row("D1", _l("Temperature %(t)s °C or higher on this check-in and on a check-in of "
                     "the previous diary day (fever lasting more than 24 h)", t=t["fever_c"])),
        row("D2", _l("Purpura graded 1 or more, and marked new or worse or graded higher "
                     "than on the previous check-in")),
        row("D3", _l("Any of the warning signs: %(s)s",
                     s=_codes(t["within_24h_warning_signs"], WARNING_SIGNS))),
        row("D4", _l("%(items)s graded 1 or more and marked new or worse",
                     items=_codes(t["new_or_worse_items"], SYMPTOMS))),
        row("D5", _l("Any graded item at %(g)s or more (severe or very severe)",
                     g=t["severe_grade"])),
        row("D6", _l("Any graded item worse by %(n)s points or more than on the previous "
                     "check-in", n=t["worsening_points"])),
        row("D7", _l("Injection-site redness or hardening of %(cm)s cm or more",
                     cm=t["site_reaction_alert_cm"])),
        row("R1", _l("Temperature %(t)s °C or higher on a single day (when neither D1, U1 "
                     "nor U2 fired)", t=t["fever_c"])),
        row("R2", _l("Any graded item at %(g)s (moderate)", g=t["moderate_grade"])),
        row("R3", _l("Injection-site redness or hardening from %(low)s cm to under %(high)s cm",
                     low=t["site_reaction_routine_cm"], high=t["site_reaction_alert_cm"])),
    ]
