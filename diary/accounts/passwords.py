"""Password hashing with Argon2id (memory-hard)."""
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

# Verified against when the login is unknown, so that a wrong login costs the
# same time as a wrong password and does not reveal which accounts exist.
_DUMMY: dict[tuple[int, int], str] = {}


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(time_cost=cfg["ARGON2_TIME_COST"], memory_cost=cfg["ARGON2_MEMORY_COST"])


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def check_password(stored_hash: str | None, password: str) -> bool:
    hasher = _hasher()
    if not stored_hash:
        key = (hasher.time_cost, hasher.memory_cost)
        if key not in _DUMMY:
            _DUMMY[key] = hasher.hash("not a real password")
        stored_hash = _DUMMY[key]
        password = password + "\x00"  # never matches
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False
