"""The investigating team's side of an alert: the inbox query and the acknowledgement."""
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from diary import audit
from diary.accounts import scope
from diary.alerts.models import Alert
from diary.errors import Conflict, Invalid
from diary.extensions import db

TIER_ORDER = {"urgent": 0, "within_24h": 1, "routine": 2}
ACTION_MAX = 2000


def alerts_query(user, status: str = "open") -> sa.Select:
    """Alerts of the patients `user` may see, urgent first, then oldest first when open."""
    stmt = scope.scoped(sa.select(Alert), Alert, user)
    if status in ("open", "acknowledged"):
        stmt = stmt.where(Alert.status == status)
    tier_rank = sa.case({t: r for t, r in TIER_ORDER.items()}, value=Alert.tier, else_=9)
    if status == "open":
        return stmt.order_by(tier_rank, Alert.raised_at, Alert.id)
    return stmt.order_by(Alert.status.desc(), tier_rank, Alert.raised_at.desc(), Alert.id.desc())


def acknowledge(alert: Alert, *, user, action, now: datetime) -> Alert:
    """Close an alert with the action taken (required). Flushes; audited."""
    if user.role != "investigator":
        # the views check the role; this keeps the rule true for any other caller
        raise Invalid(_("Only a member of the investigating team can acknowledge an alert."))
    action = (action or "").strip() if isinstance(action, str) else ""
    if not action:
        raise Invalid(_("Say what action was taken."), {"action": _("required")})
    if len(action) > ACTION_MAX:
        raise Invalid(_("The action is too long."),
                      {"action": _("at most %(n)s characters", n=ACTION_MAX)})
    table = Alert.__table__
    # One UPDATE decides, so two investigators acknowledging at once do not both win.
    changed = db.session.execute(
        sa.update(table).where(table.c.id == alert.id, table.c.status == "open")
        .values(status="acknowledged", acknowledged_by_id=user.id, acknowledged_at=now,
                action=action)
    ).rowcount
    if changed != 1:
        raise Conflict(_("This alert was already acknowledged."), code="already_acknowledged")
    db.session.refresh(alert)
    audit.record("alert.acknowledge", "alert", alert.id, actor=user, now=now,
                 before={"status": "open"},
                 after={"status": "acknowledged", "action": action}, patient=alert.patient)
    return alert


def alert_json(alert: Alert) -> dict:
    body = {"id": alert.id, "patient": alert.patient.study_code, "rule": alert.rule,
            "tier": alert.tier, "raised_at": alert.raised_at.isoformat(), "status": alert.status,
            "checkin_id": alert.checkin_id, "diary_date": alert.diary_date.isoformat(),
            "escalation_count": alert.escalation_count}
    if alert.status == "acknowledged":
        by = alert.acknowledged_by
        # like "patient", the person by the name they log in with; the id beside it
        body.update(acknowledged_by=by.email if by else None,
                    acknowledged_by_id=alert.acknowledged_by_id,
                    acknowledged_at=alert.acknowledged_at.isoformat(), action=alert.action)
    return body
