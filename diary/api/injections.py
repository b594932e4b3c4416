"""POST /api/v1/injections (idempotent by client_id) and GET /api/v1/injections (own records).

Fields the contract does not name are ignored, so that a newer client still syncs.
"""
from flask import jsonify
from flask_babel import gettext as _
from flask_login import current_user

from diary import clock
from diary.api import bp
from diary.api.common import api_role_required, json_body
from diary.errors import Invalid
from diary.extensions import db
from diary.injections import services


def injection_json(rec) -> dict:
    local = rec.taken_at_local
    return {"id": rec.id, "client_id": rec.client_id, "scheduled_dose_id": rec.scheduled_dose_id,
            "taken": rec.taken, "taken_at": local.isoformat() if local else None,
            "dose_miu": rec.dose_miu, "site": rec.site, "lot": rec.lot,
            "administered_by": rec.administered_by, "not_taken_reason": rec.not_taken_reason,
            "note": rec.note, "late": rec.late, "received_at": rec.received_at.isoformat(),
            "version": rec.version}


@bp.post("/injections")
@api_role_required("patient")
def create_injection():
    data = json_body()
    patient = current_user.patient
    client_id = services.clean_client_id(data.get("client_id"))
    existing = services.find_by_client_id(client_id)
    if existing is None:
        dose_id = data.get("scheduled_dose_id")
        if not isinstance(dose_id, int) or isinstance(dose_id, bool):
            raise Invalid(_("scheduled_dose_id must be the id of a scheduled dose."),
                          {"scheduled_dose_id": _("must be a whole number")})
        dose = services.get_dose(patient, dose_id)
    else:
        dose = existing.scheduled_dose
    rec, created = services.record_injection(
        patient=patient, dose=dose, values=data, client_id=client_id, actor=current_user,
        now=clock.now_utc())
    if created:
        db.session.commit()
    return jsonify(injection_json(rec)), 201 if created else 200


@bp.get("/injections")
@api_role_required("patient")
def list_injections():
    patient = current_user.patient
    records = sorted(services.current_records(patient).values(), key=lambda r: r.scheduled_dose_id)
    return jsonify({"injections": [injection_json(r) for r in records]})
