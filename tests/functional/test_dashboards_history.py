"""A patient's history: the staff timeline and table, audit history of a value, corrections;
the patient's own 30 days."""
import pytest
import sqlalchemy as sa

from diary.audit.models import AuditEvent
from diary.checkins.models import CheckIn
from diary.dashboards.models import CheckInVersion
from diary.extensions import db
from diary.injections.models import InjectionRecord
from tests.helpers_dashboards import build_history


@pytest.fixture
def history(world, frozen_clock):
    build_history(world["pat1"])
    return world


def _checkin(patient, day: str) -> CheckIn:
    from datetime import date
    return db.session.execute(sa.select(CheckIn).where(
        CheckIn.patient_id == patient.id, CheckIn.diary_date == date.fromisoformat(day))
        .order_by(CheckIn.id)).scalars().first()


def test_staff_history_has_the_chart_its_text_and_the_full_table(history, client, auth):
    auth.login("inv1@example.org")
    html = client.get(f"/staff/patients/{history['pat1'].id}/history").get_data(as_text=True)
    assert 'class="chart chart-timeline" role="img"' in html
    assert "<title id=\"timeline-title\">Timeline of P-0001" in html
    # the text alternative states the figures the chart draws
    assert "14 check-ins" in html and "1 days with a temperature of 38 °C or more" in html
    assert "highest 39.2 °C" in html and "8 doses taken" in html
    assert html.count('id="checkin-') == 14
    assert "39.2 °C" in html and "Tiredness / weakness 1/4" in html


def test_correction_needs_a_reason_and_stores_nothing_without(history, client, auth):
    auth.login("inv1@example.org")
    c = _checkin(history["pat1"], "2026-11-17")
    url = f"/staff/patients/{history['pat1'].id}/checkins/{c.id}/correct"
    assert client.get(url).status_code == 200
    resp = client.post(url, data={"temperature_c": "37.2", "reason": "  "})
    assert resp.status_code == 422
    assert db.session.execute(sa.select(sa.func.count(CheckInVersion.id))).scalar_one() == 0
    resp = client.post(url, data={"temperature_c": "51", "reason": "typo"})
    assert resp.status_code == 422
    assert "between 34.0 and 43.0" in resp.get_data(as_text=True)
    assert db.session.execute(sa.select(sa.func.count(CheckInVersion.id))).scalar_one() == 0


def test_correction_is_a_new_version_with_its_audit_history(history, client, auth):
    auth.login("inv1@example.org")
    pid = history["pat1"].id
    c = _checkin(history["pat1"], "2026-11-17")
    resp = client.post(f"/staff/patients/{pid}/checkins/{c.id}/correct",
                       data={"temperature_c": "38.2", "symptom-chills": "2",
                             "reason": "patient read 39.2 by mistake, phoned 25 Nov"})
    assert resp.status_code == 302
    db.session.expire_all()
    # the received check-in is untouched; the correction is version 2
    assert _checkin(history["pat1"], "2026-11-17").temperature_c == 39.2
    version = db.session.execute(sa.select(CheckInVersion)).scalar_one()
    assert version.version == 2 and version.values["temperature_c"] == 38.2
    assert version.values["symptoms"] == {"chills": 2}
    ev = db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.entity == "checkin", AuditEvent.action == "correct")).scalar_one()
    assert ev.actor_id == history["inv1"].id
    html = client.get(f"/staff/patients/{pid}/history").get_data(as_text=True)
    assert "38.2 °C" in html and "corrected, v2" in html
    audit_html = client.get(f"/staff/patients/{pid}/audit/checkin/{c.id}").get_data(as_text=True)
    # who, when, before, after, reason: the creation by the patient, then the correction
    assert audit_html.index(">create ·") < audit_html.index(">correct ·")
    assert "By P-0001 (patient)" in audit_html and "By inv1@example.org (investigator)" in audit_html
    assert "patient read 39.2 by mistake, phoned 25 Nov" in audit_html
    row = audit_html[audit_html.index('<th scope="row">temperature_c</th>', audit_html.index(">correct ·")):]
    assert row.split("</tr>")[0].count("39.2") == 1 and "38.2" in row.split("</tr>")[0]


def test_audit_history_of_a_corrected_dose_follows_every_version(history, client, auth):
    from diary import clock
    from diary.injections.services import correct_injection
    rec = db.session.execute(sa.select(InjectionRecord).where(
        InjectionRecord.patient_id == history["pat1"].id, InjectionRecord.taken.is_(True))
        .order_by(InjectionRecord.id.desc())).scalars().first()
    new = correct_injection(rec, values={"taken": True, "taken_at": rec.taken_at_local.isoformat(),
                                         "dose_miu": 1.5, "site": "arm_left"},
                            reason="half dose, nurse's sheet", actor=history["coord1"],
                            now=clock.now_utc())
    db.session.commit()
    auth.login("coord1@example.org")
    html = client.get(f"/staff/patients/{history['pat1'].id}/audit/injection_record/{rec.id}"
                      ).get_data(as_text=True)
    assert ">create ·" in html and ">correct ·" in html and "half dose, nurse&#39;s sheet" in html
    from_new = client.get(f"/staff/patients/{history['pat1'].id}/audit/injection_record/"
                          f"{new.id}").get_data(as_text=True)
    events = lambda page: page[page.index("<section"):page.index("Back to the history")]  # noqa
    assert events(html) == events(from_new)


def test_corrections_and_audit_are_scoped(history, client, auth):
    c = _checkin(history["pat1"], "2026-11-17")
    pid = history["pat1"].id
    auth.login("inv2@example.org")
    assert client.get(f"/staff/patients/{pid}/audit/checkin/{c.id}").status_code == 404
    assert client.post(f"/staff/patients/{pid}/checkins/{c.id}/correct",
                       data={"reason": "x"}).status_code == 404
    auth.logout()
    auth.login("inv1@example.org")
    # a check-in of another patient of the same site, through this patient's URL
    other = history["pat1b"].id
    assert client.get(f"/staff/patients/{other}/audit/checkin/{c.id}").status_code == 404
    assert client.get(f"/staff/patients/{pid}/audit/unknown/{c.id}").status_code == 404
    auth.logout()
    auth.login("admin@example.org")
    assert client.get(f"/staff/patients/{pid}/checkins/{c.id}/correct").status_code == 403


def test_patient_sees_the_last_30_days_of_their_own_history(history, client, auth):
    auth.login("P-0001")
    resp = client.get("/history")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'class="chart chart-timeline" role="img"' in html
    assert "From Oct 27, 2026 to Nov 25, 2026" in html
    assert "39.2 °C" in html and "Tuesday, November 24, 2026" in html
    assert 'href="/history"' in html  # in the patient's navigation
    auth.logout()
    auth.login("P-0002")
    html = client.get("/history").get_data(as_text=True)
    assert "39.2" not in html and "Nothing recorded" not in html  # doses were due: listed
    assert client.get(f"/staff/patients/{history['pat1'].id}/history").status_code == 403
