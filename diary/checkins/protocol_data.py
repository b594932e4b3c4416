"""The protocol file's tables this feature reads: [windows] and [alerts].

Until the protocol package offers a loader, the TOML file is read here with
tomllib (cached per protocol code). This is the one place to switch.
"""
import tomllib
from functools import lru_cache
from pathlib import Path

FILES = Path(__file__).resolve().parent.parent / "protocol" / "files"


@lru_cache(maxsize=16)
def _load(code: str) -> dict:
    path = FILES / f"{code.replace('-', '_')}.toml"
    with path.open("rb") as fh:
        return tomllib.load(fh)


def windows(code: str) -> dict:
    return dict(_load(code)["windows"])


def alert_thresholds(code: str) -> dict:
    return dict(_load(code)["alerts"])
