"""Staff corrections of check-ins: each one a new version, the received check-in untouched.

A check-in row is what the patient sent (ALCOA+: original); a correction adds a
`CheckInVersion` with the full corrected values and the reason, and the audit
trail records before, after and reason. The current values of a check-in are
those of its highest version, or of the row itself when it has none.
"""
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from diary.db import UTCDateTime
from diary.extensions import db


class CheckInVersion(db.Model):
    __tablename__ = "checkin_versions"
    __table_args__ = (
        sa.UniqueConstraint("checkin_id", "version", name="uq_checkin_versions_checkin_version"),
        sa.CheckConstraint("version >= 2", name="version"),
        sa.CheckConstraint("length(reason) > 0", name="reason_given"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    checkin_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("checkins.id"), index=True)
    #: the patient's, copied so that scoping needs no join (accounts.scope.scoped)
    patient_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("patients.id"), index=True)
    #: 2 for the first correction (the received check-in is version 1), then 3, 4...
    version: so.Mapped[int] = so.mapped_column()
    #: the corrected values, in the API's shape: temperature_c, symptoms, new_or_worse,
    #: warning_signs, injection_site {diameter_cm, ulceration}, note
    values: so.Mapped[dict] = so.mapped_column(sa.JSON)
    #: why the team corrected it (required)
    reason: so.Mapped[str] = so.mapped_column(sa.Text)
    corrected_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    corrected_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)

    corrected_by: so.Mapped["User | None"] = so.relationship()  # noqa: F821
