"""Raising alerts: evaluate a new check-in, deduplicate per (patient, rule, diary day), store.

Functions flush, never commit; the view commits once. New alerts are handed to
the hooks in app.extensions["diary.on_alert_raised"] (the outbox e-mails) in
the same transaction, so nothing is sent for a check-in that rolled back.
"""
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import sqlalchemy as sa
from flask import current_app

from diary import audit
from diary.alerts import rules
from diary.alerts.models import Alert, AlertEvidence
from diary.checkins import protocol_data
from diary.extensions import db


@dataclass
class Raised:
    """One rule that fired for a check-in, and the alert that holds it."""

    alert: Alert
    rule: str
    tier: str
    new: bool

    def as_json(self) -> dict:
        return {"id": self.alert.id, "rule": self.rule, "tier": self.tier}


def thresholds_for(patient) -> dict:
    return protocol_data.alert_thresholds(patient.protocol)


def raise_alerts(patient, checkin, now: datetime, history=None) -> list[Raised]:
    """Evaluate `checkin` against the patient's history (read here unless given: the
    check-in's own statement may have read it); store alerts and their evidence."""
    from diary.checkins.services import history_for, values_of

    if history is None:
        history = history_for(patient, checkin.diary_date, exclude_id=checkin.id)
    fired = rules.evaluate(values_of(checkin), history, thresholds_for(patient))
    raised = []
    for f in fired:
        alert = db.session.execute(_statements()["alert_of_the_day"], {
            "pid": patient.id, "rule": f.rule, "day": checkin.diary_date}).scalar_one_or_none()
        is_new = alert is None
        if is_new:
            alert = Alert(patient_id=patient.id, site_id=patient.site_id, rule=f.rule,
                          tier=f.tier, diary_date=checkin.diary_date, raised_at=now,
                          checkin_id=checkin.id, status="open", escalation_count=0)
            db.session.add(alert)
            db.session.flush()
        # The evidence row, written with one INSERT (not the unit of work: on the
        # bench's data, half the check-ins add evidence to the day's alert)
        db.session.execute(_statements()["evidence"], {
            "alert_id": alert.id, "checkin_id": checkin.id, "values": f.evidence,
            "recorded_at": now})
        audit.record("raise" if is_new else "add_evidence", "alert", alert.id, actor=None,
                     now=now, patient=patient,
                     after={"rule": f.rule, "tier": f.tier, "checkin_id": checkin.id,
                            "diary_date": checkin.diary_date, "evidence": f.evidence})
        raised.append(Raised(alert, f.rule, f.tier, is_new))
        if is_new:
            for hook in current_app.extensions.get("diary.on_alert_raised", []):
                hook(alert, now=now)
    return raised


@cache
def _statements() -> dict:
    """The statements of every check-in that fires a rule, built once."""
    p = sa.bindparam
    return {
        "alert_of_the_day": sa.select(Alert).where(
            Alert.patient_id == p("pid"), Alert.rule == p("rule"), Alert.diary_date == p("day")),
        "evidence": AlertEvidence.__table__.insert(),
    }


def alerts_for_checkin(checkin) -> list[Raised]:
    """Every alert this check-in fired or added evidence to, in rule order."""
    rows = db.session.execute(
        sa.select(Alert).join(AlertEvidence, AlertEvidence.alert_id == Alert.id)
        .where(AlertEvidence.checkin_id == checkin.id)
    ).scalars().all()
    order = {rule: i for i, (rule, _tier, _fn) in enumerate(rules.RULES)}
    rows = sorted(rows, key=lambda a: order[a.rule])
    return [Raised(a, a.rule, a.tier, a.checkin_id == checkin.id) for a in rows]
