"""Coordinators' exports: documented CSV columns, scope, audit of each export, FHIR R4."""
import csv
import io
import json

import pytest
import sqlalchemy as sa

from diary.audit.models import AuditEvent
from diary.exports.services import CSV_TABLES, TABLES
from diary.extensions import db
from diary.injections.models import InjectionRecord
from tests.helpers_dashboards import build_history


@pytest.fixture
def history(world, frozen_clock, make_patient):
    build_history(world["pat1"])
    return world


def _rows(resp) -> tuple[list[str], list[dict]]:
    assert resp.status_code == 200, resp.status_code
    text = resp.get_data(as_text=True).lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text))
    return reader.fieldnames, list(reader)


@pytest.mark.parametrize("table", CSV_TABLES)
def test_every_csv_has_exactly_its_documented_columns(history, client, auth, table):
    auth.login("coord1@example.org")
    header, rows = _rows(client.get(f"/staff/exports/{table}.csv"))
    assert header == [c.name for c in TABLES[table].columns]
    page = client.get("/staff/exports").get_data(as_text=True)
    for column in header:
        assert f"<code>{column}</code>" in page


def test_csv_contents(history, client, auth):
    auth.login("coord1@example.org")
    _, patients = _rows(client.get("/staff/exports/patients.csv"))
    assert [p["study_code"] for p in patients] == ["P-0001", "P-0002"]
    assert "contact_email" not in patients[0]
    _, doses = _rows(client.get("/staff/exports/doses.csv"))
    p1 = [d for d in doses if d["study_code"] == "P-0001"]
    assert len(p1) == 20
    assert [d["status"] for d in p1 if d["cure"] == "2"] == \
        ["taken", "taken", "taken", "missed", "not_taken"]
    _, records = _rows(client.get("/staff/exports/injection_records.csv"))
    assert len(records) == 9
    assert [r["not_taken_reason"] for r in records if r["taken"] == "false"] == ["side_effect"]
    _, checkins = _rows(client.get("/staff/exports/checkins.csv"))
    assert len(checkins) == 14
    assert [c["temperature_c"] for c in checkins if c["diary_date"] == "2026-11-17"] == \
        ["39.2", "37.9"]
    _, items = _rows(client.get("/staff/exports/checkin_items.csv"))
    assert {(i["code"], i["grade"]) for i in items} == {("asthenia", "1")}
    assert len(items) == 7
    _, alerts = _rows(client.get("/staff/exports/alerts.csv"))
    assert [(a["rule"], a["tier"], a["status"], a["diary_date"]) for a in alerts] == \
        [("U1", "urgent", "open", "2026-11-17")]


def test_exports_are_scoped_to_the_users_sites(history, client, auth):
    auth.login("coord2@example.org")
    for table in CSV_TABLES:
        text = client.get(f"/staff/exports/{table}.csv").get_data(as_text=True)
        assert "P-0001" not in text and "P-0002" not in text, table
    assert "P-0001" not in client.get("/staff/exports/fhir.json").get_data(as_text=True)
    assert "P-0001" not in client.get("/staff/exports/audit.csv").get_data(as_text=True)
    assert client.get(f"/staff/exports/audit.csv?patient={history['pat1'].id}").status_code == 404
    assert client.get(f"/staff/exports/patients.csv?site={history['site1'].id}").status_code == 404
    assert client.get("/staff/exports/secrets.csv").status_code == 404


def test_only_coordinators_and_admins_export(history, client, auth):
    auth.login("inv1@example.org")
    assert client.get("/staff/exports").status_code == 403
    assert client.get("/staff/exports/checkins.csv").status_code == 403
    auth.logout()
    auth.login("P-0001")
    assert client.get("/staff/exports/fhir.json").status_code == 403


def test_each_export_is_audited(history, client, auth):
    auth.login("coord1@example.org")
    client.get("/staff/exports/checkins.csv")
    client.get(f"/staff/exports/audit.csv?patient={history['pat1'].id}")
    events = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "export")
                                .order_by(AuditEvent.id)).scalars().all()
    assert [(e.entity_id, e.actor_id) for e in events] == \
        [("checkins.csv", history["coord1"].id), ("audit-P-0001.csv", history["coord1"].id)]
    assert json.loads(events[0].after)["rows"] == 14
    assert events[1].patient_id == history["pat1"].id


def test_audit_trail_of_a_patient(history, client, auth):
    auth.login("coord1@example.org")
    _, rows = _rows(client.get(f"/staff/exports/audit.csv?patient={history['pat1'].id}"))
    assert {r["study_code"] for r in rows} == {"P-0001"}
    creates = [r for r in rows if r["entity"] == "checkin" and r["action"] == "create"]
    assert len(creates) == 14 and {r["actor"] for r in creates} == {"P-0001"}
    assert [int(r["seq"]) for r in rows] == sorted(int(r["seq"]) for r in rows)
    _, site_rows = _rows(client.get("/staff/exports/audit.csv"))
    assert len(site_rows) > len(rows)


def test_fhir_bundle_validates_as_r4(history, client, auth):
    from fhir.resources import __fhir_version__
    from fhir.resources.bundle import Bundle

    assert __fhir_version__ == "4.0.1"
    auth.login("coord1@example.org")
    resp = client.get("/staff/exports/fhir.json")
    assert resp.status_code == 200 and resp.mimetype == "application/fhir+json"
    bundle = Bundle.parse_raw(resp.data)  # raises on anything R4 does not allow
    kinds = [e.resource.resource_type for e in bundle.entry]
    current = db.session.execute(sa.select(sa.func.count(InjectionRecord.id)).where(
        InjectionRecord.superseded_at.is_(None))).scalar_one()
    assert kinds.count("Patient") == 2
    assert kinds.count("MedicationAdministration") == current == 9
    assert kinds.count("QuestionnaireResponse") == 14
    assert kinds.count("Flag") == 1
    patient = next(e.resource for e in bundle.entry if e.resource.resource_type == "Patient")
    data = json.loads(patient.json())
    # pseudonymous: the study code is the only thing said about the person
    assert set(data) <= {"resourceType", "id", "active", "identifier"}
    assert [i["value"] for i in data["identifier"]] == ["P-0001"]
    refs = {e.fullUrl for e in bundle.entry}
    for e in bundle.entry:
        if e.resource.resource_type != "Patient":
            assert e.resource.subject.reference in refs
    not_done = [e.resource for e in bundle.entry
                if e.resource.resource_type == "MedicationAdministration"
                and e.resource.status == "not-done"]
    assert len(not_done) == 1 and not_done[0].statusReason[0].coding[0].code == "side_effect"
    fever = [e.resource for e in bundle.entry if e.resource.resource_type == "QuestionnaireResponse"
             and any(i.linkId == "temperature_c" and float(i.answer[0].valueDecimal) == 39.2
                     for i in e.resource.item)]
    assert len(fever) == 1


def test_the_collector_is_paused_while_an_export_is_built_and_back_after(
        history, client, auth, monkeypatch):
    """Exports build their file with Python's cyclic collector paused (diary.core.bulk),
    and it is on again after every answer, a refused one included."""
    import gc

    from diary.exports import fhir, services

    seen = []
    real_rows, real_bundle = services.rows, fhir.bundle

    def rows(*args, **kwargs):
        seen.append(gc.isenabled())
        return real_rows(*args, **kwargs)

    def bundle(*args, **kwargs):
        seen.append(gc.isenabled())
        return real_bundle(*args, **kwargs)

    monkeypatch.setattr(services, "rows", rows)
    monkeypatch.setattr(fhir, "bundle", bundle)
    auth.login("coord1@example.org")
    assert gc.isenabled()
    for url in ("/staff/exports/checkins.csv", "/staff/exports/audit.csv",
                "/staff/exports/fhir.json"):
        assert client.get(url).status_code == 200
        assert gc.isenabled(), url
    assert seen == [False, False, False]
    assert client.get("/staff/exports/audit.csv?patient=999999").status_code == 404
    assert gc.isenabled()
