"""Load and validate a protocol file of diary/protocol/files/.

Every clinical number the app applies lives in these files. A mistake in a
file is reported with the file's name and the field's path, zero-based for
arrays, e.g. ``vascu_il2.toml: cures[2].dose_miu: must be a positive number``.

Cures are series of doses: ``days = 5`` is five consecutive daily doses, and
``count = 12`` with ``every_days = 7`` is twelve weekly doses. Top-level
tables this loader does not know are kept in ``Protocol.extra`` for the
features that read them.
"""
import copy
import importlib
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

FILES_DIR = Path(__file__).with_name("files")
SETTINGS = ("hospital", "home")
CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class ProtocolError(ValueError):
    """A protocol file that cannot be used; `errors` lists every problem found."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Cure:
    number: int
    #: days from cure 1 day 1 to this cure's first dose
    start_offset_days: int
    #: how many doses the cure gives
    count: int
    #: days between two doses (1: consecutive days)
    every_days: int
    dose_miu: float
    setting: str
    #: daily check-ins from the first dose to a few days after the last one
    daily_checkins: bool

    def dose_offsets(self) -> list[int]:
        return [self.start_offset_days + i * self.every_days for i in range(self.count)]

    @property
    def last_offset(self) -> int:
        return self.start_offset_days + (self.count - 1) * self.every_days


@dataclass(frozen=True)
class CheckinSettings:
    daily_days_after_last_dose: int
    weekly_outside_cures: bool


@dataclass(frozen=True)
class Windows:
    checkin_days_back: int
    injection_days_after_dose: int
    injection_late_hours: int
    clock_skew_minutes: int


@dataclass(frozen=True)
class Protocol:
    code: str
    title: str
    drug: str
    route: str
    dose_unit: str
    follow_up_end_offset_days: int
    max_dose_miu: float
    cures: tuple[Cure, ...]
    checkins: CheckinSettings
    windows: Windows
    #: the raw [alerts] table, read by diary.alerts.rules
    alerts: dict = field(hash=False, compare=False)
    #: top-level tables this loader does not interpret
    extra: dict = field(hash=False, compare=False, default_factory=dict)
    source: str = ""

    @property
    def planned_total_miu(self) -> float:
        return round(sum(c.dose_miu * c.count for c in self.cures), 3)

    @property
    def planned_dose_count(self) -> int:
        return sum(c.count for c in self.cures)


class _Checker:
    """Reads typed values out of the parsed TOML, collecting every problem."""

    def __init__(self, filename: str):
        self.filename = filename
        self.errors: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(f"{self.filename}: {path}: {message}")

    def table(self, data: dict, key: str, path: str, required: bool = True) -> dict:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(path, "missing table")
            return {}
        if not isinstance(value, dict):
            self.fail(path, "must be a table")
            return {}
        return value

    def unknown(self, data: dict, allowed: set[str], path: str) -> None:
        for key in sorted(set(data) - allowed):
            self.fail(f"{path}.{key}" if path else key, "unknown key")

    def integer(self, data: dict, key: str, path: str, minimum: int = 0, default=None):
        value = data.get(key, default)
        if value is None:
            self.fail(path, "missing")
            return minimum
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(path, f"must be a whole number >= {minimum}")
            return minimum
        return value

    def positive(self, data: dict, key: str, path: str, default=None) -> float:
        value = data.get(key, default)
        if value is None:
            self.fail(path, "missing")
            return 1.0
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            self.fail(path, "must be a positive number")
            return 1.0
        return float(value)

    def text(self, data: dict, key: str, path: str, default=None) -> str:
        value = data.get(key, default)
        if value is None:
            self.fail(path, "missing")
            return ""
        if not isinstance(value, str) or not value.strip():
            self.fail(path, "must be a non-empty string")
            return ""
        return value

    def boolean(self, data: dict, key: str, path: str, default=None) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.fail(path, "must be true or false")
            return False
        return value


def _cures(c: _Checker, raw) -> tuple[Cure, ...]:
    if not isinstance(raw, list) or not raw:
        c.fail("cures", "at least one [[cures]] table is required")
        return ()
    cures = []
    previous_last = -1
    for i, item in enumerate(raw):
        p = f"cures[{i}]"
        if not isinstance(item, dict):
            c.fail(p, "must be a table")
            continue
        c.unknown(item, {"number", "start_offset_days", "days", "count", "every_days",
                         "dose_miu", "setting", "daily_checkins"}, p)
        number = c.integer(item, "number", f"{p}.number", 1)
        if number != i + 1:
            c.fail(f"{p}.number", f"must be {i + 1}: cures are numbered 1, 2, 3... in order")
        start = c.integer(item, "start_offset_days", f"{p}.start_offset_days", 0)
        if "days" in item and ("count" in item or "every_days" in item):
            c.fail(p, "give either days (consecutive daily doses) or count and every_days")
        if "days" in item or "count" not in item:
            count = c.integer(item, "days", f"{p}.days", 1)
            every = 1
        else:
            count = c.integer(item, "count", f"{p}.count", 1)
            every = c.integer(item, "every_days", f"{p}.every_days", 1)
        dose = c.positive(item, "dose_miu", f"{p}.dose_miu")
        setting = item.get("setting")
        if setting not in SETTINGS:
            c.fail(f"{p}.setting", "must be one of " + ", ".join(SETTINGS))
            setting = "home"
        daily = c.boolean(item, "daily_checkins", f"{p}.daily_checkins", every == 1)
        if start <= previous_last:
            c.fail(f"{p}.start_offset_days", "must come after the previous cure's last dose")
        cure = Cure(number, start, count, every, dose, setting, daily)
        previous_last = cure.last_offset
        cures.append(cure)
    return tuple(cures)


def parse_protocol(data: dict, filename: str) -> Protocol:
    """Validate parsed TOML; raise ProtocolError naming the file and every field at fault."""
    c = _Checker(filename)
    head = c.table(data, "protocol", "protocol")
    c.unknown(head, {"code", "title", "drug", "route", "dose_unit", "follow_up_end_offset_days",
                     "max_dose_miu"}, "protocol")
    code = c.text(head, "code", "protocol.code")
    if code and not CODE_RE.match(code):
        c.fail("protocol.code", "use lower-case letters, digits and dashes")
    title = c.text(head, "title", "protocol.title")
    follow_up = c.integer(head, "follow_up_end_offset_days", "protocol.follow_up_end_offset_days", 1)
    cures = _cures(c, data.get("cures"))
    largest = max((cu.dose_miu for cu in cures), default=1.0)
    max_dose = c.positive(head, "max_dose_miu", "protocol.max_dose_miu", largest * 3)
    if cures and max_dose < largest:
        c.fail("protocol.max_dose_miu", "must not be below a planned dose")
    if cures and cures[-1].last_offset > follow_up:
        c.fail("protocol.follow_up_end_offset_days", "must not end before the last dose")

    ck = c.table(data, "checkins", "checkins")
    c.unknown(ck, {"daily_days_after_last_dose", "weekly_outside_cures"}, "checkins")
    checkins = CheckinSettings(
        c.integer(ck, "daily_days_after_last_dose", "checkins.daily_days_after_last_dose", 0),
        c.boolean(ck, "weekly_outside_cures", "checkins.weekly_outside_cures"),
    )
    w = c.table(data, "windows", "windows")
    c.unknown(w, {"checkin_days_back", "injection_days_after_dose", "injection_late_hours",
                  "clock_skew_minutes"}, "windows")
    windows = Windows(
        c.integer(w, "checkin_days_back", "windows.checkin_days_back", 0),
        c.integer(w, "injection_days_after_dose", "windows.injection_days_after_dose", 0),
        c.integer(w, "injection_late_hours", "windows.injection_late_hours", 1),
        c.integer(w, "clock_skew_minutes", "windows.clock_skew_minutes", 0),
    )
    alerts = c.table(data, "alerts", "alerts", required=False)
    for problem in _alert_problems(alerts):
        c.errors.append(f"{filename}: alerts: {problem}"
                        if not problem.startswith("alerts") else f"{filename}: {problem}")
    if c.errors:
        raise ProtocolError(c.errors)
    known = {"protocol", "cures", "checkins", "windows", "alerts"}
    return Protocol(
        code=code, title=title, drug=head.get("drug", ""), route=head.get("route", ""),
        dose_unit=head.get("dose_unit", "MIU"), follow_up_end_offset_days=follow_up,
        max_dose_miu=max_dose, cures=cures, checkins=checkins, windows=windows,
        alerts=copy.deepcopy(alerts),
        extra={k: copy.deepcopy(v) for k, v in data.items() if k not in known},
        source=filename,
    )


def _alert_problems(alerts: dict) -> list[str]:
    """The alert engine's own check of its thresholds, when that module exists."""
    try:
        rules = importlib.import_module("diary.alerts.rules")
    except ModuleNotFoundError as exc:
        if exc.name in ("diary.alerts", "diary.alerts.rules"):
            return []
        raise
    validate = getattr(rules, "validate_thresholds", None)
    return list(validate(alerts)) if validate is not None else []


def load_protocol_file(path: Path | str) -> Protocol:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError([f"{path.name}: not valid TOML: {exc}"]) from exc
    except OSError as exc:
        raise ProtocolError([f"{path.name}: cannot be read: {exc.strerror}"]) from exc
    return parse_protocol(data, path.name)


def _file_for(code: str) -> Path:
    return FILES_DIR / (code.replace("-", "_") + ".toml")


@lru_cache(maxsize=32)
def load_protocol(code: str) -> Protocol:
    """The protocol `code` (e.g. "vascu-il2"), from files/vascu_il2.toml; cached."""
    path = _file_for(code)
    if not CODE_RE.match(code or "") or not path.is_file():
        raise ProtocolError([f"{path.name}: no protocol file for code {code!r}"])
    protocol = load_protocol_file(path)
    if protocol.code != code:
        raise ProtocolError([f"{path.name}: protocol.code: is {protocol.code!r}, "
                             f"the file name says {code!r}"])
    return protocol


def available_protocols() -> dict[str, str]:
    """Code -> title of every protocol file (a broken file raises ProtocolError)."""
    found = {}
    for path in sorted(FILES_DIR.glob("*.toml")):
        protocol = load_protocol(path.stem.replace("_", "-"))
        found[protocol.code] = protocol.title
    return found
