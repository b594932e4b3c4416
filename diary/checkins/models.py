"""A check-in: what the patient reports, as received, never edited by the patient.

Graded items are child rows (`CheckInSymptom`), one per item answered or
marked "new or worse": the item codes are protocol data and can grow without
a schema change, an item left out is simply absent ("not answered", which is
not 0), and adherence and dashboards can aggregate one item across patients
with plain SQL. Warning signs are a short list of present codes (JSON).
"""
from datetime import date, datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from diary.clock import now_utc
from diary.db import UTCDateTime
from diary.extensions import db


class CheckIn(db.Model):
    __tablename__ = "checkins"
    __table_args__ = (
        sa.CheckConstraint("temperature_c IS NULL OR (temperature_c >= 34.0 AND temperature_c <= 43.0)",
                           name="temperature_c"),
        sa.CheckConstraint("site_diameter_cm IS NULL OR (site_diameter_cm >= 0 AND site_diameter_cm <= 30)",
                           name="site_diameter_cm"),
        sa.CheckConstraint("source IN ('web','api')", name="source"),
        # history for the rules and the patient's list: a patient's check-ins in order
        sa.Index("ix_checkins_patient_day", "patient_id", "diary_date", "received_at"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    patient_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("patients.id"))
    #: a UUID made by the client: the same one sent again returns this record (idempotence)
    client_id: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    #: the patient's diary day this check-in is for (patient's time zone)
    diary_date: so.Mapped[date] = so.mapped_column(sa.Date)
    #: when the device says it was filled in, as UTC; its offset is kept beside it
    device_recorded_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    #: the device's UTC offset in minutes at that time (e.g. 60 for +01:00)
    device_utc_offset_min: so.Mapped[int | None] = so.mapped_column()
    #: server time it was received (ALCOA+: contemporaneous)
    received_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=now_utc)
    #: entered for yesterday's diary day
    late: so.Mapped[bool] = so.mapped_column(default=False)
    #: measured temperature in degrees C, 34.0-43.0; None if not measured
    temperature_c: so.Mapped[float | None] = so.mapped_column(sa.Numeric(4, 1, asdecimal=False))
    #: largest redness/hardening at the injection site, 0-30 cm; None if not answered
    site_diameter_cm: so.Mapped[float | None] = so.mapped_column(sa.Numeric(4, 1, asdecimal=False))
    #: ulceration at the injection site; None if not answered
    site_ulceration: so.Mapped[bool | None] = so.mapped_column()
    #: warning-sign codes present (clinical-rules.md section 3); absent ones are not listed
    warning_signs: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    note: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    #: stored file name of the photo under the instance folder; None without a photo
    photo_file: so.Mapped[str | None] = so.mapped_column(sa.String(80))
    #: image/jpeg or image/png
    photo_content_type: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    #: web (the check-in page) or api (the offline queue, outside tools)
    source: so.Mapped[str] = so.mapped_column(sa.String(8), default="web")
    #: the user who entered it (the patient)
    recorded_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))

    patient: so.Mapped["Patient"] = so.relationship()  # noqa: F821
    symptoms: so.Mapped[list["CheckInSymptom"]] = so.relationship(
        back_populates="checkin", order_by="CheckInSymptom.id", cascade="all, delete-orphan")

    @property
    def grades(self) -> dict[str, int]:
        return {s.code: s.grade for s in self.symptoms if s.grade is not None}

    @property
    def new_or_worse(self) -> list[str]:
        return [s.code for s in self.symptoms if s.new_or_worse]

    def __repr__(self) -> str:
        return f"<CheckIn {self.id} {self.diary_date}>"


class CheckInSymptom(db.Model):
    """One graded item of a check-in: its 0-4 grade and the patient's "new or worse" mark."""

    __tablename__ = "checkin_symptoms"
    __table_args__ = (
        sa.UniqueConstraint("checkin_id", "code", name="uq_checkin_symptoms_checkin_code"),
        sa.CheckConstraint("grade IS NULL OR (grade >= 0 AND grade <= 4)", name="grade"),
        # one item's course across check-ins (dashboards)
        sa.Index("ix_checkin_symptoms_code_grade", "code", "grade"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    checkin_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("checkins.id", ondelete="CASCADE"),
                                                  index=True)
    #: the item's code in clinical-rules.md section 3, e.g. "purpura"
    code: so.Mapped[str] = so.mapped_column(sa.String(32))
    #: 0 none, 1 mild, 2 moderate, 3 severe, 4 very severe; None: marked new/worse, not graded
    grade: so.Mapped[int | None] = so.mapped_column(sa.SmallInteger)
    #: the patient marked this item new or worse since the last check-in
    new_or_worse: so.Mapped[bool] = so.mapped_column(default=False)

    checkin: so.Mapped[CheckIn] = so.relationship(back_populates="symptoms")
