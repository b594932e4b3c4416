"""A FHIR R4 (4.0.1) Bundle of the patients a coordinator may see.

One `collection` Bundle: a pseudonymous Patient per patient (identifier = the
study code, nothing else about the person), a MedicationAdministration per
current dose record (status completed or not-done with its reason), a
QuestionnaireResponse per check-in (values in force, one item per answer), a
Flag per alert. Entries are linked by `urn:uuid:` full URLs derived from the
database ids, so that the same export twice gives the same bundle.
"""
import uuid
from datetime import datetime

import sqlalchemy as sa

from diary.accounts.models import Patient, Site
from diary.alerts.models import Alert
from diary.exports.services import _visible, current_checkins
from diary.extensions import db
from diary.injections.models import InjectionRecord, ScheduledDose
from diary.protocol import ProtocolError, load_protocol

NAMESPACE = uuid.UUID("6d1b8f8e-3c4a-4d0e-9a55-6f2d1c0b7e11")
SYSTEM = "urn:diary:vascu-il2"  # code systems of clinical-rules.md, under one URN
STUDY_CODE_SYSTEM = f"{SYSTEM}:study-code"


def _urn(kind: str, object_id) -> str:
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{kind}/{object_id}')}"


def _coding(system: str, code: str, display: str | None = None) -> dict:
    out = {"system": f"{SYSTEM}:{system}", "code": code}
    if display:
        out["display"] = display
    return out


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _patient(p: Patient) -> dict:
    return {"resourceType": "Patient", "id": f"p{p.id}", "active": p.status == "active",
            "identifier": [{"system": STUDY_CODE_SYSTEM, "value": p.study_code}]}


def _administration(rec: InjectionRecord, dose: ScheduledDose, patient_urn: str,
                    drug: str, route: str) -> dict:
    out = {
        "resourceType": "MedicationAdministration", "id": f"ir{rec.id}",
        "status": "completed" if rec.taken else "not-done",
        "medicationCodeableConcept": {"text": drug},
        "subject": {"reference": patient_urn},
        "note": [{"text": rec.note}] if rec.note else None,
        "extension": None,
    }
    if rec.taken:
        out["effectiveDateTime"] = rec.taken_at_local.isoformat()
        out["dosage"] = {"site": {"coding": [_coding("injection-site", rec.site)]},
                         "route": {"text": route},
                         "dose": {"value": float(rec.dose_miu), "unit": "MIU"}}
    else:
        out["effectiveDateTime"] = dose.planned_date.isoformat()
        out["statusReason"] = [{"coding": [_coding("not-taken-reason", rec.not_taken_reason)]}]
    out["identifier"] = [{"system": f"{SYSTEM}:scheduled-dose",
                          "value": f"cure-{dose.cure}-day-{dose.day}"}]
    return {k: v for k, v in out.items() if v is not None}


def _response(c, values: dict, version: int, patient_urn: str) -> dict:
    items = [{"linkId": "diary_date", "answer": [{"valueDate": c.diary_date.isoformat()}]}]
    if values.get("temperature_c") is not None:
        items.append({"linkId": "temperature_c",
                      "answer": [{"valueDecimal": float(values["temperature_c"])}]})
    for code, grade in sorted((values.get("symptoms") or {}).items()):
        items.append({"linkId": f"symptoms.{code}", "answer": [{"valueInteger": int(grade)}]})
    if values.get("new_or_worse"):
        items.append({"linkId": "new_or_worse",
                      "answer": [{"valueCoding": _coding("item", code)}
                                 for code in values["new_or_worse"]]})
    if values.get("warning_signs"):
        items.append({"linkId": "warning_signs",
                      "answer": [{"valueCoding": _coding("warning-sign", code)}
                                 for code in values["warning_signs"]]})
    site = values.get("injection_site") or {}
    if site.get("diameter_cm") is not None:
        items.append({"linkId": "injection_site.diameter_cm",
                      "answer": [{"valueDecimal": float(site["diameter_cm"])}]})
    if site.get("ulceration") is not None:
        items.append({"linkId": "injection_site.ulceration",
                      "answer": [{"valueBoolean": bool(site["ulceration"])}]})
    if values.get("note"):
        items.append({"linkId": "note", "answer": [{"valueString": values["note"]}]})
    return {"resourceType": "QuestionnaireResponse", "id": f"ci{c.id}",
            "questionnaire": f"{SYSTEM}:questionnaire:checkin",
            "status": "amended" if version > 1 else "completed",
            "subject": {"reference": patient_urn}, "authored": c.received_at.isoformat(),
            "identifier": {"system": f"{SYSTEM}:checkin", "value": str(c.id)},
            "item": items}


def _flag(a: Alert, patient_urn: str) -> dict:
    out = {"resourceType": "Flag", "id": f"al{a.id}",
           "status": "active" if a.status == "open" else "inactive",
           "category": [{"coding": [_coding("alert-tier", a.tier)]}],
           "code": {"coding": [_coding("alert-rule", a.rule)], "text": f"{a.rule} ({a.tier})"},
           "subject": {"reference": patient_urn},
           "period": {"start": a.raised_at.isoformat()}}
    if a.acknowledged_at is not None:
        out["period"]["end"] = a.acknowledged_at.isoformat()
    return out


def bundle(user, now: datetime, *, site_id: int | None = None) -> dict:
    patients = db.session.execute(
        sa.select(Patient).join(Site, Site.id == Patient.site_id)
        .where(_visible(user, Patient.id, site_id)).order_by(Patient.study_code)).scalars().all()
    entries = []
    urn = {}
    for p in patients:
        urn[p.id] = _urn("Patient", p.id)
        entries.append({"fullUrl": urn[p.id], "resource": _patient(p)})
    drugs = {}
    for p in patients:
        try:
            protocol = load_protocol(p.protocol)
            drugs[p.id] = (protocol.drug, protocol.route)
        except ProtocolError:
            drugs[p.id] = (p.protocol, "subcutaneous")
    records = db.session.execute(
        sa.select(InjectionRecord, ScheduledDose)
        .join(ScheduledDose, ScheduledDose.id == InjectionRecord.scheduled_dose_id)
        .where(_visible(user, InjectionRecord.patient_id, site_id),
               InjectionRecord.superseded_at.is_(None))
        .order_by(InjectionRecord.patient_id, ScheduledDose.planned_date)).all()
    for rec, dose in records:
        drug, route = drugs[rec.patient_id]
        entries.append({"fullUrl": _urn("MedicationAdministration", rec.id),
                        "resource": _administration(rec, dose, urn[rec.patient_id], drug, route)})
    for c, _code, values, version, _corr in current_checkins(user, site_id):
        entries.append({"fullUrl": _urn("QuestionnaireResponse", c.id),
                        "resource": _response(c, values, version, urn[c.patient_id])})
    alerts = db.session.execute(
        sa.select(Alert).where(_visible(user, Alert.patient_id, site_id))
        .order_by(Alert.patient_id, Alert.raised_at)).scalars()
    for a in alerts:
        entries.append({"fullUrl": _urn("Flag", a.id), "resource": _flag(a, urn[a.patient_id])})
    return {"resourceType": "Bundle", "id": f"export-{now.strftime('%Y%m%d%H%M%S')}",
            "type": "collection", "timestamp": now.isoformat(), "entry": entries}
