"""GET /api/v1/me/schedule: the patient's plan with each dose's status, and expected check-ins."""
from flask import jsonify
from flask_login import current_user

from diary import clock
from diary.api import bp
from diary.api.common import api_role_required
from diary.injections import services


def dose_json(row) -> dict:
    d = row.dose
    return {"id": d.id, "cure": d.cure, "day": d.day, "date": d.planned_date.isoformat(),
            "dose_miu": d.dose_miu, "setting": d.setting, "status": row.status,
            "injection_id": row.record.id if row.record else None}


@bp.get("/me/schedule")
@api_role_required("patient")
def my_schedule():
    patient = current_user.patient
    rows = services.plan_rows(patient, clock.now_utc())
    return jsonify({
        "protocol": patient.protocol,
        "timezone": patient.tz,
        "cure1_start": patient.cure1_start.isoformat(),
        "doses": [dose_json(r) for r in rows],
        "checkins_expected": [{"date": c.date.isoformat(), "kind": c.kind}
                              for c in services.expected_checkins(patient)],
    })
