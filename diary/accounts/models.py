"""Sites, users and their roles, patients, one-time access codes."""
from datetime import date, datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_login import UserMixin

from diary.clock import now_utc
from diary.db import UTCDateTime
from diary.extensions import db

ROLES = ("patient", "investigator", "coordinator", "admin")
STAFF_ROLES = ("investigator", "coordinator", "admin")

staff_sites = sa.Table(
    "staff_sites",
    db.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("site_id", sa.ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
)


class Site(db.Model):
    __tablename__ = "sites"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    #: the name staff and the command line use, e.g. "Pitie-Salpetriere"
    name: so.Mapped[str] = so.mapped_column(sa.String(120), unique=True)
    #: IANA zone; a patient's diary day is computed in it unless the patient has their own
    timezone: so.Mapped[str] = so.mapped_column(sa.String(64), default="Europe/Paris")
    #: the trial team's phone number, shown to patients with urgent advice
    phone: so.Mapped[str] = so.mapped_column(sa.String(40))
    #: addresses that receive new-alert messages
    alert_emails: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    #: addresses that receive escalations of unacknowledged alerts
    escalation_emails: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    #: language of the e-mails to the site's staff (new alerts, escalations, adherence
    #: summaries), whoever or whatever triggers them; one of config LANGUAGES
    language: so.Mapped[str] = so.mapped_column(sa.String(8), default="fr", server_default="fr")
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=now_utc)

    def __repr__(self) -> str:
        return f"<Site {self.name}>"


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint("role IN ('patient','investigator','coordinator','admin')", name="role"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    role: so.Mapped[str] = so.mapped_column(sa.String(16), index=True)
    #: staff log in with it (stored lower-case); patients have none here
    email: so.Mapped[str | None] = so.mapped_column(sa.String(254), unique=True)
    #: Argon2id hash; None until the person chose a password (enrolment, invitation)
    password_hash: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    #: language chosen by the user, overriding the browser's
    locale: so.Mapped[str | None] = so.mapped_column(sa.String(8))
    is_enabled: so.Mapped[bool] = so.mapped_column(default=True)
    failed_logins: so.Mapped[int] = so.mapped_column(default=0)
    locked_until: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    last_login_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=now_utc)

    sites: so.Mapped[list[Site]] = so.relationship(secondary=staff_sites, order_by=Site.name)
    patient: so.Mapped["Patient | None"] = so.relationship(back_populates="user")

    @property
    def is_active(self) -> bool:  # Flask-Login refuses disabled accounts
        return self.is_enabled

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def login_name(self) -> str:
        return self.patient.study_code if self.patient else (self.email or "")

    @property
    def site_ids(self) -> list[int]:
        if self.patient:
            return [self.patient.site_id]
        return [s.id for s in self.sites]

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class Patient(db.Model):
    """A trial participant, known by study code only (CNIL MR-001)."""

    __tablename__ = "patients"
    __table_args__ = (
        sa.CheckConstraint("status IN ('active','withdrawn')", name="status"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"), unique=True)
    #: e.g. "P-0007": the only identifier the app holds
    study_code: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True)
    site_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("sites.id"), index=True)
    #: IANA zone of the patient's diary day; None means the site's
    timezone: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    #: optional address for reminders, visible to the site's coordinators only
    contact_email: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    #: protocol file the plan follows
    protocol: so.Mapped[str] = so.mapped_column(sa.String(64), default="vascu-il2")
    #: cure 1 day 1, from which the plan is computed
    cure1_start: so.Mapped[date] = so.mapped_column(sa.Date)
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="active")
    withdrawn_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=now_utc)

    user: so.Mapped[User] = so.relationship(back_populates="patient")
    site: so.Mapped[Site] = so.relationship()

    @property
    def tz(self) -> str:
        return self.timezone or self.site.timezone

    def __repr__(self) -> str:
        return f"<Patient {self.study_code}>"


class AccessCode(db.Model):
    """A one-time code that lets a person choose a password.

    Patients get an enrolment code (typed or scanned from a QR code); staff get
    an invitation link by e-mail. Only a hash of the code is stored.
    """

    __tablename__ = "access_codes"
    __table_args__ = (
        sa.CheckConstraint("purpose IN ('enrolment','invitation')", name="purpose"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"), index=True)
    purpose: so.Mapped[str] = so.mapped_column(sa.String(16))
    #: SHA-256 of the normalised code
    code_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=now_utc)
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    used_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    revoked_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    user: so.Mapped[User] = so.relationship(foreign_keys=[user_id])

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and self.revoked_at is None and now < self.expires_at
