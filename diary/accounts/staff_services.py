"""What staff do to accounts: enrol and withdraw patients, invite staff.

Built on accounts.services; like them, functions take plain values, model
objects and `now`, flush and never commit.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from diary import audit
from diary.accounts import services
from diary.accounts.models import AccessCode, Patient, Site, User
from diary.errors import Conflict, Invalid
from diary.extensions import db
from diary.notifications.services import enqueue

REASON_MAX = 500


@dataclass(frozen=True)
class IssuedCode:
    """A one-time code as the person who issued it sees it, once."""

    code: str
    expires_at: datetime

    @property
    def display(self) -> str:
        return services.format_code(self.code)


def enrolment_link(code: str) -> str:
    return f"{current_app.config['BASE_URL']}/enrol/{code}"


def invitation_link(code: str) -> str:
    return f"{current_app.config['BASE_URL']}/invite/{code}"


def _issue(user: User, purpose: str, actor, now: datetime) -> IssuedCode:
    code = services.issue_code(user, purpose=purpose, actor=actor, now=now)
    hours = current_app.config["ENROLMENT_CODE_HOURS" if purpose == "enrolment"
                               else "INVITATION_HOURS"]
    return IssuedCode(code=code, expires_at=now + timedelta(hours=hours))


def pending_code(user: User, purpose: str, now: datetime) -> AccessCode | None:
    """The code `user` may still redeem, if any (there is at most one per purpose)."""
    return db.session.execute(
        sa.select(AccessCode)
        .where(AccessCode.user_id == user.id, AccessCode.purpose == purpose,
               AccessCode.used_at.is_(None), AccessCode.revoked_at.is_(None),
               AccessCode.expires_at > now)
        .order_by(AccessCode.created_at.desc())
    ).scalars().first()


# --- patients --------------------------------------------------------------

def enrol_patient(*, study_code: str, site: Site, cure1_start: date, actor, now: datetime,
                  timezone: str | None = None, contact_email: str | None = None
                  ) -> tuple[Patient, IssuedCode]:
    """Enrol a patient without a password and issue their one-time enrolment code."""
    patient = services.create_patient(study_code=study_code, site=site, cure1_start=cure1_start,
                                      timezone=timezone or None,
                                      contact_email=contact_email or None,
                                      actor=actor, now=now)
    return patient, _issue(patient.user, "enrolment", actor, now)


def new_enrolment_code(patient: Patient, *, actor, now: datetime) -> IssuedCode:
    """A fresh enrolment code (the earlier one dies). Also how a patient resets a password."""
    if patient.status != "active":
        raise Conflict(_("This patient is withdrawn from the diary: no new code can be issued."))
    return _issue(patient.user, "enrolment", actor, now)


def withdraw_patient(patient: Patient, *, reason: str, actor, now: datetime) -> Patient:
    """Withdraw a patient from the diary: no more entries, reminders or codes.

    The account is disabled so that nothing new is recorded; what was recorded
    stays (no deletion of clinical data).
    """
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_("Give the reason for the withdrawal."), {"reason": _("required")})
    if len(reason) > REASON_MAX:
        raise Invalid(_("The reason is too long (%(n)d characters at most).", n=REASON_MAX),
                      {"reason": _("too long")})
    if patient.status == "withdrawn":
        raise Conflict(_("This patient is already withdrawn."))
    before = {"status": patient.status, "account_enabled": patient.user.is_enabled}
    patient.status = "withdrawn"
    patient.withdrawn_at = now
    patient.user.is_enabled = False
    db.session.execute(
        sa.update(AccessCode)
        .where(AccessCode.user_id == patient.user_id, AccessCode.used_at.is_(None),
               AccessCode.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    db.session.flush()
    audit.record("withdraw", "patient", patient.id, actor=actor, now=now, patient=patient,
                 before=before, after={"status": "withdrawn", "withdrawn_at": now,
                                       "account_enabled": False},
                 reason=reason)
    return patient


# --- staff -----------------------------------------------------------------

def invitation_message(role: str, link: str, hours: int) -> tuple[str, str]:
    """Subject and body of the invitation e-mail: a link, no health data."""
    subject = _("Your invitation to the IL-2 diary (VASCU-IL2)")
    body = _(
        "Hello,\n\n"
        "You are invited to the IL-2 diary of the VASCU-IL2 trial as %(role)s.\n"
        "Open this link to choose your password (it works once, for %(hours)d hours):\n\n"
        "%(link)s\n\n"
        "Then log in with this e-mail address. If you did not expect this message, "
        "you can ignore it.\n",
        role=role_label(role), hours=hours, link=link)
    return subject, body


def role_label(role: str) -> str:
    return {"investigator": _("investigator"), "coordinator": _("coordinator"),
            "admin": _("administrator"), "patient": _("patient")}.get(role, role)


def invite_staff(*, email: str, role: str, sites: list[Site], actor, now: datetime
                 ) -> tuple[User, bool]:
    """Create a staff account without a password and e-mail an invitation link.

    Someone already invited who has not chosen a password yet gets a new link
    (the old one dies); their role and sites stay as they are. Returns the
    user and whether they were re-invited.
    """
    normalised = services.normalise_email(email)
    user = db.session.execute(sa.select(User).where(User.email == normalised)).scalar_one_or_none()
    reinvited = user is not None
    if user is None:
        user = services.create_staff(role=role, email=normalised, sites=sites, actor=actor,
                                     now=now, password=None)
    elif user.password_hash is not None:
        raise Conflict(_("%(email)s already has an account with a password.", email=normalised),
                       {"email": _("already used")})
    issued = _issue(user, "invitation", actor, now)
    subject, body = invitation_message(user.role, invitation_link(issued.code),
                                       current_app.config["INVITATION_HOURS"])
    enqueue(channel="email", kind="invitation", recipient=normalised, subject=subject,
            body=body, now=now, site_id=user.sites[0].id if user.sites else None,
            related=("user", user.id))
    return user, reinvited


def parse_email_list(raw: str) -> list[str]:
    """Addresses typed one per line or separated by commas, semicolons or spaces."""
    return [part for part in (raw or "").replace(",", " ").replace(";", " ").split() if part]
