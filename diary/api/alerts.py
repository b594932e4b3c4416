"""GET /api/v1/alerts and POST /api/v1/alerts/<id>/acknowledge (api.md, staff: alerts)."""
from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from diary import clock
from diary.accounts import scope
from diary.alerts.acknowledgement import acknowledge, alert_json, alerts_query
from diary.alerts.models import Alert
from diary.api import bp
from diary.api.common import api_role_required, json_body
from diary.errors import Invalid
from diary.extensions import db

STATUSES = ("open", "acknowledged", "all")
LIMIT = 500


@bp.get("/alerts")
@api_role_required("investigator", "coordinator")
def alerts_list():
    status = request.args.get("status", "open")
    if status not in STATUSES:
        raise Invalid(_("status must be open, acknowledged or all."),
                      {"status": _("one of: open, acknowledged, all")})
    alerts = db.session.execute(alerts_query(current_user, status).limit(LIMIT)).scalars().all()
    return jsonify({"alerts": [alert_json(a) for a in alerts]})


@bp.post("/alerts/<int:alert_id>/acknowledge")
@api_role_required("investigator", "coordinator")
def alert_acknowledge(alert_id: int):
    # Another site's alert is 404 for everyone; a coordinator may read but not acknowledge.
    alert = scope.get_scoped_or_404(Alert, alert_id, current_user)
    if current_user.role != "investigator":
        from flask import abort
        abort(403)
    data = json_body()
    action = data.get("action")
    if action is not None and not isinstance(action, str):
        raise Invalid(_("Say what action was taken."), {"action": _("must be text")})
    acknowledge(alert, user=current_user, action=action, now=clock.now_utc())
    db.session.commit()
    return jsonify(alert_json(alert))
