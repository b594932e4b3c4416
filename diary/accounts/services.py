"""Accounts: sites, staff, patient enrolment, one-time codes, login with lockout.

Functions take plain values, model objects and `now`; they flush, never commit.
"""
import hashlib
import re
import secrets
from datetime import date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _

from diary import audit
from diary.accounts.models import ROLES, STAFF_ROLES, AccessCode, Patient, Site, User
from diary.accounts.passwords import check_password, hash_password
from diary.clock import is_valid_timezone
from diary.errors import Conflict, Invalid, NotFound
from diary.extensions import db

STUDY_CODE_RE = re.compile(r"^[A-Z][A-Z0-9]{0,7}-[0-9]{1,6}$")
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
_COMMON = None


def _common_passwords() -> set[str]:
    """Our curated list plus zxcvbn's 30,000 most common leaked passwords (lower case)."""
    global _COMMON
    if _COMMON is None:
        from zxcvbn.frequency_lists import FREQUENCY_LISTS

        path = Path(__file__).with_name("common_passwords.txt")
        curated = {line.strip().lower() for line in path.read_text().splitlines()
                   if line.strip()}
        _COMMON = curated | {p.lower() for p in FREQUENCY_LISTS["passwords"] if len(p) >= 10}
    return _COMMON


# --- checks shared by forms, the API and the command line -----------------

def normalise_email(value: str, field: str = "email") -> str:
    try:
        return validate_email((value or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise Invalid(_("This e-mail address is not valid."),
                      {field: _("not a valid e-mail address")}) from None


def normalise_study_code(value: str) -> str:
    code = (value or "").strip().upper()
    if not STUDY_CODE_RE.match(code):
        raise Invalid(_("A study code looks like P-0007: letters, a dash, digits."),
                      {"study_code": _("not a valid study code")})
    return code


def password_problem(password: str, login: str = "") -> str | None:
    """Why `password` is refused, or None when it is acceptable."""
    if len(password or "") < 10:
        return _("Choose a password of at least 10 characters.")
    if len(password) > 200:
        return _("This password is too long (200 characters at most).")
    lowered = password.lower()
    if lowered in _common_passwords() or len(set(lowered)) < 4:
        return _("This password is too common. Choose another one.")
    if login and login.lower() in lowered:
        return _("The password must not contain your login.")
    return None


def check_new_password(password: str, login: str = "") -> None:
    problem = password_problem(password, login)
    if problem:
        raise Invalid(problem, {"password": problem})


def check_timezone(name: str, field: str = "timezone") -> str:
    if not is_valid_timezone(name):
        raise Invalid(_("Unknown time zone: %(name)s.", name=name), {field: _("unknown time zone")})
    return name


def check_language(code: str, field: str = "language") -> str:
    """A language the app speaks (config LANGUAGES), e.g. "fr"."""
    languages = current_app.config["LANGUAGES"]
    code = (code or "").strip().lower()
    if code not in languages:
        raise Invalid(_("Unknown language: %(code)s. Choose one of: %(choices)s.",
                        code=code or "-", choices=", ".join(languages)),
                      {field: _("unknown language")})
    return code


# --- sites and staff -------------------------------------------------------

#: the staff e-mail language of a new site when none is given: the trial's sites are French
#: hospitals (as the default time zone is Europe/Paris)
DEFAULT_SITE_LANGUAGE = "fr"

def get_site_by_name(name: str) -> Site:
    site = db.session.execute(sa.select(Site).where(Site.name == name)).scalar_one_or_none()
    if site is None:
        raise NotFound(_("There is no site named %(name)s.", name=name), {"site": _("no such site")})
    return site


def create_site(*, name: str, timezone: str, phone: str, alert_emails: list[str],
                escalation_emails: list[str], actor, now: datetime,
                language: str = DEFAULT_SITE_LANGUAGE) -> Site:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise Invalid(_("A site needs a name (120 characters at most)."), {"name": _("required")})
    if db.session.execute(sa.select(Site.id).where(Site.name == name)).first():
        raise Conflict(_("A site named %(name)s already exists.", name=name),
                       {"name": _("already used")})
    phone = (phone or "").strip()
    if not re.fullmatch(r"\+?[0-9 ().-]{6,30}", phone):
        raise Invalid(_("The team's phone number is not valid."), {"phone": _("not a phone number")})
    site = Site(
        name=name, timezone=check_timezone(timezone), phone=phone,
        language=check_language(language),
        alert_emails=[normalise_email(e, "alert_email") for e in alert_emails],
        escalation_emails=[normalise_email(e, "escalation_email") for e in escalation_emails],
    )
    db.session.add(site)
    db.session.flush()
    audit.record("create", "site", site.id, actor=actor, now=now, site_id=site.id,
                 after=site_snapshot(site))
    return site


def site_snapshot(site: Site) -> dict:
    return {"name": site.name, "timezone": site.timezone, "phone": site.phone,
            "language": site.language, "alert_emails": list(site.alert_emails),
            "escalation_emails": list(site.escalation_emails)}


def set_site_language(site: Site, language: str, *, actor, now: datetime) -> bool:
    """Change the language of the site's staff e-mails; False (and no event) if unchanged."""
    language = check_language(language)
    if language == site.language:
        return False
    before = {"language": site.language}
    site.language = language
    db.session.flush()
    audit.record("update", "site", site.id, actor=actor, now=now, site_id=site.id,
                 before=before, after={"language": language})
    return True


def create_staff(*, role: str, email: str, sites: list[Site], actor, now: datetime,
                 password: str | None = None) -> User:
    if role not in STAFF_ROLES:
        raise Invalid(_("Unknown role %(role)s: choose one of %(roles)s.", role=role,
                        roles=", ".join(ROLES)), {"role": _("unknown role")})
    email = normalise_email(email)
    if db.session.execute(sa.select(User.id).where(User.email == email)).first():
        raise Conflict(_("An account with this e-mail already exists."), {"email": _("already used")})
    if role != "admin" and not sites:
        raise Invalid(_("Staff belong to at least one site."), {"site": _("required")})
    if password is not None:
        check_new_password(password, email)
    user = User(role=role, email=email, sites=list(sites),
                password_hash=hash_password(password) if password is not None else None)
    db.session.add(user)
    db.session.flush()
    audit.record("create", "user", user.id, actor=actor, now=now,
                 site_id=sites[0].id if sites else None,
                 after={"role": role, "email": email, "sites": [s.name for s in sites]})
    return user


# --- patients --------------------------------------------------------------

def create_patient(*, study_code: str, site: Site, cure1_start: date, actor, now: datetime,
                   timezone: str | None = None, contact_email: str | None = None,
                   password: str | None = None, protocol: str = "vascu-il2") -> Patient:
    """Enrol a patient. Without a password, the patient chooses one with an enrolment code."""
    code = normalise_study_code(study_code)
    if db.session.execute(sa.select(Patient.id).where(Patient.study_code == code)).first():
        raise Conflict(_("Study code %(code)s is already enrolled.", code=code),
                       {"study_code": _("already used")})
    if timezone:
        check_timezone(timezone)
    email = normalise_email(contact_email, "email") if contact_email else None
    if password is not None:
        check_new_password(password, code)
    user = User(role="patient", password_hash=hash_password(password) if password else None)
    patient = Patient(user=user, study_code=code, site=site, timezone=timezone or None,
                      contact_email=email, cure1_start=cure1_start, protocol=protocol)
    db.session.add_all([user, patient])
    db.session.flush()
    audit.record("enrol", "patient", patient.id, actor=actor, now=now, patient=patient,
                 after={"study_code": code, "site": site.name, "cure1_start": cure1_start,
                        "timezone": timezone, "protocol": protocol,
                        "contact_email": bool(email)})
    for hook in current_app.extensions.get("diary.on_enrol", []):
        hook(patient, actor=actor, now=now)
    return patient


# --- one-time codes --------------------------------------------------------

def _hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def normalise_code(raw: str) -> str:
    code = re.sub(r"[^0-9A-Z]", "", (raw or "").upper())
    return code.translate(str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"}))


def format_code(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def issue_code(user: User, *, purpose: str, actor, now: datetime) -> str:
    """A new one-time code for `user`; any earlier unused code of the same purpose dies."""
    db.session.execute(
        sa.update(AccessCode)
        .where(AccessCode.user_id == user.id, AccessCode.purpose == purpose,
               AccessCode.used_at.is_(None), AccessCode.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    length = 12 if purpose == "enrolment" else 24
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))
    hours = current_app.config["ENROLMENT_CODE_HOURS" if purpose == "enrolment" else "INVITATION_HOURS"]
    db.session.add(AccessCode(user_id=user.id, purpose=purpose, code_hash=_hash_code(code),
                              created_by_id=actor.id if actor else None,
                              created_at=now, expires_at=now + timedelta(hours=hours)))
    db.session.flush()
    audit.record("issue_code", "user", user.id, actor=actor, now=now, patient=user.patient,
                 site_id=None if user.patient else (user.sites[0].id if user.sites else None),
                 after={"purpose": purpose, "expires_at": now + timedelta(hours=hours)})
    return code


def find_code(raw: str, now: datetime) -> AccessCode:
    """The usable code `raw` names, or Invalid with one message for every failure."""
    code = normalise_code(raw)
    found = None
    if code:
        found = db.session.execute(
            sa.select(AccessCode).where(AccessCode.code_hash == _hash_code(code))
        ).scalar_one_or_none()
    if found is None or not found.usable(now):
        raise Invalid(_("This code is not valid: it may have expired or already been used. "
                        "Ask the study team for a new one."), {"code": _("not valid")})
    return found


def redeem_code(raw: str, password: str, now: datetime) -> User:
    access = find_code(raw, now)
    user = access.user
    check_new_password(password, user.login_name)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    access.used_at = now
    db.session.flush()
    audit.record("set_password", "user", user.id, actor=user, now=now, patient=user.patient,
                 after={"purpose": access.purpose})
    return user


# --- login -----------------------------------------------------------------

def find_user_by_login(login: str) -> User | None:
    login = (login or "").strip()
    if not login or len(login) > 254:
        return None
    if "@" in login:
        return db.session.execute(
            sa.select(User).where(User.email == login.lower(), User.role != "patient")
        ).scalar_one_or_none()
    return db.session.execute(
        sa.select(User).join(Patient).where(Patient.study_code == login.upper())
    ).scalar_one_or_none()


def authenticate(login: str, password: str, now: datetime) -> User | None:
    """The user if `login` and `password` match and the account is usable, else None.

    Five failures lock the account for 15 minutes (counted whatever the
    address); the caller shows one message for every failure.
    """
    cfg = current_app.config
    user = find_user_by_login(login)
    if user is not None and user.locked_until is not None and user.locked_until > now:
        check_password(None, password or "")  # same cost as a real attempt
        return None
    ok = check_password(user.password_hash if user else None, password or "")
    if user is None:
        return None
    if not ok or not user.is_enabled:
        user.failed_logins += 1
        if user.failed_logins >= cfg["LOGIN_MAX_FAILURES"]:
            user.locked_until = now + timedelta(minutes=cfg["LOGIN_LOCK_MINUTES"])
            user.failed_logins = 0
            audit.record("lock", "user", user.id, actor=None, now=now, patient=user.patient,
                         after={"locked_until": user.locked_until})
        db.session.flush()
        return None
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    db.session.flush()
    return user


def set_locale(user: User, locale: str) -> None:
    if locale not in current_app.config["LANGUAGES"]:
        raise Invalid(_("Unknown language."), {"locale": _("unknown language")})
    user.locale = locale
    db.session.flush()
