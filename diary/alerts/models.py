"""Alerts raised by the rules of clinical-rules.md section 4, and their evidence.

One alert per (patient, rule, diary day): a rule that fires again on the same
diary day adds an `AlertEvidence` row to the existing alert instead of raising
another one. Every check-in that fired the rule, the first included, has its
evidence row, so an alert's full story is its evidence list.
"""
from datetime import date, datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from diary.clock import now_utc
from diary.db import UTCDateTime, in_check
from diary.extensions import db

RULES = ("U1", "U2", "U3", "U4", "U5", "D1", "D2", "D3", "D4", "D5", "D6", "D7",
         "R1", "R2", "R3")
TIERS = ("urgent", "within_24h", "routine")
STATUSES = ("open", "acknowledged")


class Alert(db.Model):
    __tablename__ = "alerts"
    __table_args__ = (
        sa.UniqueConstraint("patient_id", "rule", "diary_date", name="uq_alerts_patient_rule_day"),
        sa.CheckConstraint(in_check("rule", RULES), name="rule"),
        sa.CheckConstraint(in_check("tier", TIERS), name="tier"),
        sa.CheckConstraint(in_check("status", STATUSES), name="status"),
        sa.CheckConstraint("escalation_count >= 0", name="escalation_count"),
        sa.CheckConstraint(
            "status = 'open' OR (acknowledged_by_id IS NOT NULL AND acknowledged_at IS NOT NULL"
            " AND action IS NOT NULL)", name="acknowledged_complete"),
        # the staff inbox: a site's alerts by status, newest first
        sa.Index("ix_alerts_site_status_raised", "site_id", "status", "raised_at"),
        # the escalation sweep: open alerts by tier and age
        sa.Index("ix_alerts_status_tier_raised", "status", "tier", "raised_at"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    patient_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("patients.id"), index=True)
    #: the patient's site, copied here so that a site's inbox needs no join
    site_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("sites.id"))
    #: the rule's id in clinical-rules.md section 4: U1..U5, D1..D7, R1..R3
    rule: so.Mapped[str] = so.mapped_column(sa.String(4))
    #: urgent | within_24h | routine
    tier: so.Mapped[str] = so.mapped_column(sa.String(16))
    #: the patient's diary day of the check-in that raised it (patient's time zone)
    diary_date: so.Mapped[date] = so.mapped_column(sa.Date)
    raised_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=now_utc)
    #: the first check-in that fired the rule; later ones are in `evidence`
    checkin_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("checkins.id"), index=True)
    #: open | acknowledged
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="open")
    #: the member of the investigating team who acknowledged it
    acknowledged_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    acknowledged_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    #: the action taken, in the acknowledger's words
    action: so.Mapped[str | None] = so.mapped_column(sa.Text)
    #: how many escalation messages have been enqueued for it
    escalation_count: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    last_escalated_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    patient: so.Mapped["Patient"] = so.relationship()  # noqa: F821
    site: so.Mapped["Site"] = so.relationship()  # noqa: F821
    checkin: so.Mapped["CheckIn"] = so.relationship()  # noqa: F821
    acknowledged_by: so.Mapped["User | None"] = so.relationship()  # noqa: F821
    evidence: so.Mapped[list["AlertEvidence"]] = so.relationship(
        back_populates="alert", order_by="AlertEvidence.id")

    def __repr__(self) -> str:
        return f"<Alert {self.id} {self.rule} {self.status}>"


class AlertEvidence(db.Model):
    """One check-in that fired the alert's rule, with the values that made it fire."""

    __tablename__ = "alert_evidence"
    __table_args__ = (
        sa.UniqueConstraint("alert_id", "checkin_id", name="uq_alert_evidence_alert_checkin"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    alert_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("alerts.id"), index=True)
    checkin_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("checkins.id"), index=True)
    #: the values the rule looked at, e.g. {"temperature_c": 39.2}
    values: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    recorded_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=now_utc)

    alert: so.Mapped[Alert] = so.relationship(back_populates="evidence")
