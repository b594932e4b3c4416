"""A patient's reminder preferences and the phones subscribed to Web Push.

A patient without a `ReminderPreference` row has the defaults (DEFAULTS); the
row is created the first time the patient opens the settings page, so the
sweep reads "no row" as "defaults" and never has to create 100,000 rows.
"""
from datetime import datetime, time

import sqlalchemy as sa
import sqlalchemy.orm as so

from diary.clock import now_utc
from diary.db import UTCDateTime
from diary.extensions import db

LANGUAGES = ("en", "fr")
#: what a patient has until they change it (issue 6): 09:00, 20:00, quiet 22:00-07:00,
#: the weekly check-in reminder on Sunday (the last day of the calendar week)
DEFAULTS = {
    "injection_time": time(9, 0),
    "checkin_time": time(20, 0),
    "quiet_start": time(22, 0),
    "quiet_end": time(7, 0),
    "weekly_weekday": 6,
    "email_enabled": True,
    "push_enabled": True,
}


class ReminderPreference(db.Model):
    __tablename__ = "reminder_preferences"
    __table_args__ = (
        sa.CheckConstraint("language IN ('en','fr')", name="language"),
        sa.CheckConstraint("weekly_weekday >= 0 AND weekly_weekday <= 6", name="weekly_weekday"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    patient_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("patients.id"), unique=True)
    #: local wall time of the injection reminder on each home dose day
    injection_time: so.Mapped[time] = so.mapped_column(sa.Time, default=DEFAULTS["injection_time"])
    #: local wall time of the check-in reminder
    checkin_time: so.Mapped[time] = so.mapped_column(sa.Time, default=DEFAULTS["checkin_time"])
    #: no reminder from quiet_start to quiet_end (may wrap midnight; equal times: none)
    quiet_start: so.Mapped[time] = so.mapped_column(sa.Time, default=DEFAULTS["quiet_start"])
    quiet_end: so.Mapped[time] = so.mapped_column(sa.Time, default=DEFAULTS["quiet_end"])
    #: the weekday of the weekly check-in reminder, 0 Monday .. 6 Sunday
    weekly_weekday: so.Mapped[int] = so.mapped_column(sa.SmallInteger, default=6)
    #: e-mail reminders (effective only when the patient gave a contact e-mail)
    email_enabled: so.Mapped[bool] = so.mapped_column(default=True)
    #: Web Push reminders (effective only once a phone subscribed)
    push_enabled: so.Mapped[bool] = so.mapped_column(default=True)
    #: language of the reminder texts: en | fr
    language: so.Mapped[str] = so.mapped_column(sa.String(2), default="en")
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=now_utc)
    updated_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    patient: so.Mapped["Patient"] = so.relationship()  # noqa: F821


class PushSubscription(db.Model):
    """A browser's Web Push subscription (PushSubscription.toJSON()), for one patient."""

    __tablename__ = "push_subscriptions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    patient_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("patients.id"), index=True)
    #: the push service's URL for this browser; unique: a phone re-subscribing replaces its row
    endpoint: so.Mapped[str] = so.mapped_column(sa.String(1024), unique=True)
    #: the browser's P-256 public key (base64url, 65 bytes uncompressed)
    p256dh: so.Mapped[str] = so.mapped_column(sa.String(128))
    #: the browser's 16-byte authentication secret (base64url)
    auth: so.Mapped[str] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=now_utc)
    #: last time the push service accepted a message for it
    last_success_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    def info(self) -> dict:
        """The subscription as pywebpush takes it."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}
