"""Staff page: the alert rules as the code applies them, with each protocol's thresholds."""
from flask import Blueprint, render_template

from diary.accounts.decorators import role_required
from diary.alerts import rules
from diary.checkins import protocol_data

bp = Blueprint("alerts", __name__)


@bp.get("/staff/alert-rules")
@role_required("investigator", "coordinator", "admin")
def rules_table():
    tables = []
    for code, title in protocol_data.protocols().items():
        thresholds = protocol_data.alert_thresholds(code)
        tables.append({"code": code, "title": title, "rules": rules.describe_rules(thresholds),
                       "escalation": thresholds.get("escalation_minutes") or {}})
    return render_template("alerts/rules.html", tables=tables, tiers=rules.TIER_ORDER)
