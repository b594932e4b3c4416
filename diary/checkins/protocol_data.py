"""The protocol file's tables this feature reads: [windows] and [alerts].

Read through the protocol package's loader (which validates the file, the
[alerts] table with diary.alerts.rules.validate_thresholds); while that
loader is not installed, the TOML file is read here with tomllib.
"""
import tomllib
from functools import lru_cache
from pathlib import Path

FILES = Path(__file__).resolve().parent.parent / "protocol" / "files"


def _loader():
    try:
        from diary.protocol.loader import load_protocol
    except ImportError:
        return None
    return load_protocol


@lru_cache(maxsize=16)
def _raw(code: str) -> dict:
    with (FILES / f"{code.replace('-', '_')}.toml").open("rb") as fh:
        return tomllib.load(fh)


def windows(code: str) -> dict:
    load = _loader()
    if load is not None:
        w = load(code).windows
        return {"checkin_days_back": w.checkin_days_back}
    return dict(_raw(code)["windows"])


def alert_thresholds(code: str) -> dict:
    load = _loader()
    if load is not None:
        return dict(load(code).alerts)
    return dict(_raw(code)["alerts"])


def protocols() -> dict[str, str]:
    """Code -> title of every protocol file."""
    try:
        from diary.protocol.loader import available_protocols
    except ImportError:
        found = {}
        for path in sorted(FILES.glob("*.toml")):
            head = _raw(path.stem.replace("_", "-"))["protocol"]
            found[head["code"]] = head["title"]
        return found
    return available_protocols()
