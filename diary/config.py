"""Settings from DIARY_* environment variables, with embedded defaults.

Nothing to install for the defaults: SQLite in the instance folder, a secret
key generated once and kept there, messages written to the log channel.
"""
import os
import secrets
from datetime import timedelta
from pathlib import Path


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(instance: Path) -> str:
    key_file = instance / "secret_key"
    try:
        # O_EXCL: two processes starting at once must not write two keys.
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        key = secrets.token_hex(32)
        fh.write(key)
    return key


def _proxy_hops(value: str | None) -> int:
    """DIARY_PROXY_FIX: how many proxies in front of the app set X-Forwarded-* (0: none)."""
    value = (value or "").strip().lower()
    if value in {"", "0", "false", "no", "off"}:
        return 0
    if value in {"true", "yes", "on"}:
        return 1
    hops = int(value) if value.isdigit() else -1
    if hops < 0:
        raise ValueError(f"DIARY_PROXY_FIX={value!r}: give the number of proxies (0, 1, 2...)")
    return hops


def load(instance_path: str, env: dict | None = None) -> dict:
    """The app's settings, read from `env` (os.environ by default)."""
    env = os.environ if env is None else env
    instance = Path(instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    secure = _flag(env.get("DIARY_SECURE_COOKIES"))
    smtp_port = env.get("DIARY_SMTP_PORT")
    return {
        "SQLALCHEMY_DATABASE_URI": env.get("DIARY_DATABASE_URL")
        or f"sqlite:///{instance / 'diary.db'}",
        "SECRET_KEY": env.get("DIARY_SECRET_KEY") or _secret_key(instance),
        "BASE_URL": (env.get("DIARY_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
        "SMTP_HOST": env.get("DIARY_SMTP_HOST") or None,
        "SMTP_PORT": int(smtp_port) if smtp_port else None,
        "SMTP_USER": env.get("DIARY_SMTP_USER") or None,
        "SMTP_PASSWORD": env.get("DIARY_SMTP_PASSWORD") or None,
        "SMTP_TLS": (env.get("DIARY_SMTP_TLS") or "none").lower(),
        "MAIL_FROM": env.get("DIARY_MAIL_FROM") or "diary@localhost",
        "RATELIMIT_STORAGE_URI": env.get("DIARY_RATELIMIT_STORAGE_URL") or "memory://",
        "LOGIN_RATE_LIMIT": env.get("DIARY_LOGIN_RATE_LIMIT") or "20 per minute",
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_SECURE": secure,
        "SESSION_COOKIE_HTTPONLY": True,
        # A login lasts 30 days from the last day of use (Flask's default is 31). The cookie
        # is signed and sent again when the session changes, and on the first request of
        # each day (core/setup.py), not with every response.
        "PERMANENT_SESSION_LIFETIME": timedelta(days=30),
        "SESSION_REFRESH_EACH_REQUEST": False,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PREFERRED_URL_SCHEME": "https" if secure else "http",
        # Trust X-Forwarded-For/-Proto/-Host from this many proxies (opt-in: without a
        # proxy that sets them, a client could forge its address and dodge rate limits).
        "PROXY_FIX": _proxy_hops(env.get("DIARY_PROXY_FIX")),
        # pooled connections idle this long are pinged before use (diary/__init__.py)
        "DB_PING_AFTER_IDLE_SECONDS": 10,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "LANGUAGES": ["en", "fr"],
        "MAX_CONTENT_LENGTH": 12 * 1024 * 1024,  # a 10 MB photo plus the form
        # Argon2id, OWASP's second recommended profile (19 MiB, t=2).
        "ARGON2_TIME_COST": 2,
        "ARGON2_MEMORY_COST": 19 * 1024,
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_LOCK_MINUTES": 15,
        "ENROLMENT_CODE_HOURS": 72,
        "INVITATION_HOURS": 72,
        "DIARY_RUN_SCHEDULER": False,
    }
