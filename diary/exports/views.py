"""Coordinators' exports: the documentation page, CSV per table, the FHIR bundle, the audit
trail. Every export is scoped to the user's sites and itself audited (who exported what)."""
import json

import sqlalchemy as sa
from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user

from diary import audit, clock
from diary.accounts import scope
from diary.accounts.decorators import role_required
from diary.accounts.models import Patient, Site
from diary.alerts.models import RULES, TIERS
from diary.checkins.items import GRADES, SYMPTOMS, WARNING_SIGNS
from diary.core.bulk import collector_paused
from diary.exports import fhir, services
from diary.exports.csvfile import csv_response
from diary.extensions import db
from diary.injections.forms import BY_LABELS, REASON_LABELS, SITE_LABELS

bp = Blueprint("exports", __name__, url_prefix="/staff/exports")

EXPORTERS = ("coordinator", "admin")


def _site() -> int | None:
    site_id = request.args.get("site", type=int)
    if site_id is not None and site_id not in scope.visible_site_ids(current_user):
        abort(404)
    return site_id


def _audited(what: str, site_id: int | None, rows: int, patient=None, now=None) -> None:
    audit.record("export", "export", what, actor=current_user, now=now or clock.now_utc(),
                 site_id=site_id, patient=patient,
                 after={"export": what, "rows": rows, "site_id": site_id})
    db.session.commit()


@bp.route("")
@role_required(*EXPORTERS)
def index():
    sites = db.session.execute(
        sa.select(Site).where(Site.id.in_(scope.visible_site_ids(current_user)))
        .order_by(Site.name)).scalars().all()
    patients = db.session.execute(
        scope.patients_query(current_user).order_by(Patient.study_code)).scalars().all()
    return render_template("exports/index.html", tables=services.TABLES,
                           csv_tables=services.CSV_TABLES, sites=sites, patients=patients,
                           site=_site(), symptoms=SYMPTOMS, grades=GRADES,
                           warning_signs=WARNING_SIGNS, injection_sites=SITE_LABELS,
                           reasons=REASON_LABELS, administered_by=BY_LABELS, rules=RULES,
                           tiers=TIERS)


@bp.route("/<table>.csv")
@role_required(*EXPORTERS)
@collector_paused()
def table_csv(table: str):
    if table not in services.CSV_TABLES:
        abort(404)
    site_id = _site()
    now = clock.now_utc()
    rows = services.rows(table, current_user, now, site_id=site_id)
    _audited(f"{table}.csv", site_id, len(rows), now=now)
    columns = [c.name for c in services.TABLES[table].columns]
    return csv_response(columns, rows, f"{table}-{now.date().isoformat()}.csv")


@bp.route("/audit.csv")
@role_required(*EXPORTERS)
@collector_paused()
def audit_csv():
    site_id = _site()
    patient = None
    patient_id = request.args.get("patient", type=int)
    if request.args.get("patient") and patient_id is None:
        abort(404)
    if patient_id is not None:
        patient = scope.get_patient_or_404(current_user, patient_id)
    now = clock.now_utc()
    rows = services.rows("audit", current_user, now, site_id=site_id,
                         patient_id=patient.id if patient else None)
    what = f"audit-{patient.study_code}" if patient else "audit"
    _audited(f"{what}.csv", site_id, len(rows), patient=patient, now=now)
    columns = [c.name for c in services.TABLES["audit"].columns]
    return csv_response(columns, rows, f"{what}-{now.date().isoformat()}.csv")


@bp.route("/fhir.json")
@role_required(*EXPORTERS)
@collector_paused()
def fhir_bundle():
    site_id = _site()
    now = clock.now_utc()
    data = fhir.bundle(current_user, now, site_id=site_id)
    _audited("fhir.json", site_id, len(data["entry"]), now=now)
    return Response(json.dumps(data, ensure_ascii=False), mimetype="application/fhir+json",
                    headers={"Content-Disposition":
                             f'attachment; filename="diary-fhir-{now.date().isoformat()}.json"',
                             "Cache-Control": "no-store"})
