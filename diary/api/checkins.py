"""POST and GET /api/v1/checkins (api.md): the same services as the check-in page."""
from datetime import date

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from diary import clock
from diary.api import bp
from diary.api.common import api_role_required, json_body
from diary.checkins import services
from diary.core.transactions import commit_retrying
from diary.errors import Invalid


def result_json(saved: services.Saved) -> dict:
    checkin = saved.checkin
    return {"id": checkin.id, "diary_date": checkin.diary_date.isoformat(),
            "late": checkin.late, "alerts": [r.as_json() for r in saved.alerts],
            "advice": saved.advice}


@bp.post("/checkins")
@api_role_required("patient")
def checkins_create():
    data = json_body()

    def work():
        saved = services.record_checkin(current_user.patient, data, actor=current_user,
                                        now=clock.now_utc(), source="api")
        # the answer is read before the commit, which expires what was loaded
        return result_json(saved), saved.created

    body, created = commit_retrying(work)
    return jsonify(body), 201 if created else 200


def _date_arg(name: str) -> date | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Invalid(_("Dates are written YYYY-MM-DD."),
                      {name: _("a date YYYY-MM-DD is required")}) from None


@bp.get("/checkins")
@api_role_required("patient")
def checkins_list():
    start, end = _date_arg("from"), _date_arg("to")
    if start and end and start > end:
        raise Invalid(_("The start date is after the end date."), {"from": _("after 'to'")})
    rows = services.list_checkins(current_user.patient, start, end)
    return jsonify({"checkins": [services.to_json(c) for c in rows]})
