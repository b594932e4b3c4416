"""Scheduled doses (the plan) and injection records (what happened to each dose)."""
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
import sqlalchemy.orm as so

from diary.clock import now_utc
from diary.db import UTCDateTime, in_check
from diary.extensions import db

SETTINGS = ("hospital", "home")
INJECTION_SITES = ("abdomen_left", "abdomen_right", "thigh_left", "thigh_right", "arm_left",
                   "arm_right")
ADMINISTERED_BY = ("self", "nurse", "carer")
NOT_TAKEN_REASONS = ("forgot", "side_effect", "hospitalised", "no_drug", "other")


class ScheduledDose(db.Model):
    """One dose of a patient's plan, materialised at enrolment from the protocol file."""

    __tablename__ = "scheduled_doses"
    __table_args__ = (
        sa.UniqueConstraint("patient_id", "cure", "day", name="uq_scheduled_doses_patient_cure_day"),
        sa.CheckConstraint(in_check("setting", SETTINGS), name="setting"),
        sa.CheckConstraint("dose_miu > 0", name="dose_positive"),
        sa.CheckConstraint("cure >= 1 AND day >= 1", name="cure_day_positive"),
        sa.Index("ix_scheduled_doses_patient_date", "patient_id", "planned_date"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    patient_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("patients.id"))
    #: cure number (1..4 for VASCU-IL2) and the dose's rank in it (day 1..5)
    cure: so.Mapped[int] = so.mapped_column()
    day: so.Mapped[int] = so.mapped_column()
    #: the day the dose is due, in the patient's time zone
    planned_date: so.Mapped[date] = so.mapped_column(sa.Date, index=True)
    #: the date the protocol gave before any shift
    original_date: so.Mapped[date] = so.mapped_column(sa.Date)
    #: planned dose in MIU
    dose_miu: so.Mapped[float] = so.mapped_column(sa.Numeric(6, 2, asdecimal=False))
    #: hospital (recorded by staff) or home (recorded by the patient)
    setting: so.Mapped[str] = so.mapped_column(sa.String(16))
    #: 1 when planned; +1 at each coordinator change (shift, dose change)
    version: so.Mapped[int] = so.mapped_column(default=1)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=now_utc)
    updated_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    patient: so.Mapped["Patient"] = so.relationship()  # noqa: F821

    @property
    def date(self) -> date:
        return self.planned_date

    def __repr__(self) -> str:
        return f"<ScheduledDose p{self.patient_id} C{self.cure}D{self.day} {self.planned_date}>"


class InjectionRecord(db.Model):
    """What happened to a scheduled dose: taken (when, how much, where) or not taken (why).

    Patients add records and never change them. A staff correction writes a
    new version and marks the old one superseded; the old row stays.
    """

    __tablename__ = "injection_records"
    __table_args__ = (
        sa.CheckConstraint(in_check("site", INJECTION_SITES), name="site"),
        sa.CheckConstraint(in_check("administered_by", ADMINISTERED_BY), name="administered_by"),
        sa.CheckConstraint(in_check("not_taken_reason", NOT_TAKEN_REASONS), name="not_taken_reason"),
        sa.CheckConstraint(
            "(taken AND taken_at IS NOT NULL AND dose_miu > 0 AND site IS NOT NULL"
            " AND not_taken_reason IS NULL)"
            " OR (NOT taken AND not_taken_reason IS NOT NULL AND dose_miu IS NULL)",
            name="taken_or_reason"),
        # One current record per scheduled dose: a second one is a 409, even in a race.
        sa.Index("uq_injection_records_current_dose", "scheduled_dose_id", unique=True,
                 sqlite_where=sa.text("superseded_at IS NULL"),
                 postgresql_where=sa.text("superseded_at IS NULL")),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    scheduled_dose_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("scheduled_doses.id"),
                                                         index=True)
    patient_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("patients.id"), index=True)
    #: UUID made by the client; the same one sent again returns this record (idempotence)
    client_id: so.Mapped[str] = so.mapped_column(sa.String(36), unique=True)
    taken: so.Mapped[bool] = so.mapped_column()
    #: when the dose was injected (UTC), as the device said
    taken_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    #: the device's UTC offset at taken_at, in minutes (e.g. 60 for +01:00)
    taken_at_offset_minutes: so.Mapped[int | None] = so.mapped_column()
    dose_miu: so.Mapped[float | None] = so.mapped_column(sa.Numeric(6, 2, asdecimal=False))
    #: injection site code (clinical-rules.md section 6)
    site: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    lot: so.Mapped[str | None] = so.mapped_column(sa.String(40))
    administered_by: so.Mapped[str | None] = so.mapped_column(sa.String(8))
    not_taken_reason: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    note: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    #: server time the record arrived
    received_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    #: recorded more than the protocol's late delay after the fact
    late: so.Mapped[bool] = so.mapped_column(default=False)
    recorded_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    #: 1 for the first record of the dose, +1 for each staff correction
    version: so.Mapped[int] = so.mapped_column(default=1)
    #: the record this one corrects, and why
    supersedes_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("injection_records.id"))
    correction_reason: so.Mapped[str | None] = so.mapped_column(sa.Text)
    #: set when a correction replaced this record; the current record has None
    superseded_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    scheduled_dose: so.Mapped[ScheduledDose] = so.relationship()
    recorded_by: so.Mapped["User | None"] = so.relationship()  # noqa: F821

    @property
    def taken_at_local(self) -> datetime | None:
        """taken_at in the device's own offset, as the patient saw it."""
        if self.taken_at is None:
            return None
        offset = timezone(timedelta(minutes=self.taken_at_offset_minutes or 0))
        return self.taken_at.astimezone(offset)

    def __repr__(self) -> str:
        return f"<InjectionRecord {self.id} dose {self.scheduled_dose_id} v{self.version}>"
