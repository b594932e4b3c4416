"""Coordinators enrol patients with a one-time code; patients redeem it; withdrawal."""
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from diary.accounts.models import AccessCode, Patient
from diary.accounts.qr import qr_svg
from diary.audit.models import AuditEvent
from diary.extensions import db
from tests.conftest import PASSWORD
from tests.helpers_accounts import audit_actions, choose_password, code_on_page, enrol_form

NEW_PASSWORD = "a quiet river at dawn"


def _enrol(client, auth, world, **overrides):
    auth.login("coord1@example.org")
    resp = client.post("/staff/patients/new", data=enrol_form(world["site1"].id, **overrides))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp, code_on_page(resp.get_data(as_text=True))


def _patient(code="P-0042") -> Patient | None:
    return db.session.execute(
        sa.select(Patient).where(Patient.study_code == code)).scalar_one_or_none()


def _path_of(svg: str) -> str:
    return re.search(r'<path d="([^"]+)"', svg).group(1)


def test_enrol_show_code_and_qr_then_patient_redeems(app, client, auth, world, frozen_clock):
    auth.login("coord1@example.org")
    form_page = client.get("/staff/patients/new").get_data(as_text=True)
    assert "Site One" in form_page and "Site Two" not in form_page  # own sites only

    resp, shown = _enrol(client, auth, world, contact_email="Someone@Example.org")
    html = resp.get_data(as_text=True)
    raw = shown.replace("-", "")
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", shown)
    link = f"http://diary.test/enrol/{raw}"
    assert f'href="{link}"' in html
    # the QR code is inline SVG of exactly that link (same drawing as the link's own QR)
    assert "<svg" in html and "<img" not in html and "data:" not in html
    assert _path_of(html) == _path_of(str(qr_svg(link, "x")))
    assert "style=" not in html
    assert "28 Nov 2026, 10:30 (Europe/Paris)" in html  # 72 h later, in the site's zone
    assert resp.headers["Cache-Control"] == "no-store"

    patient = _patient()
    assert patient.site_id == world["site1"].id and patient.cure1_start == date(2026, 12, 1)
    assert patient.user.password_hash is None and patient.status == "active"
    assert patient.contact_email == "someone@example.org"
    actions = db.session.execute(
        sa.select(AuditEvent.action).where(AuditEvent.patient_id == patient.id)
        .order_by(AuditEvent.id)).scalars().all()
    assert actions[0] == "enrol" and actions[-1] == "issue_code"  # other features may add between

    # the list shows the patient without a password yet
    listing = client.get("/staff/patients").get_data(as_text=True)
    assert "P-0042" in listing and "not yet" in listing

    patient_client = app.test_client()
    landing = patient_client.get(f"/enrol/{raw}")
    assert landing.status_code == 200 and shown in landing.get_data(as_text=True)
    done = choose_password(patient_client, f"/enrol/{raw}", raw, NEW_PASSWORD)
    assert done.status_code == 302
    me = patient_client.get("/api/v1/session").get_json()
    assert me["user"]["study_code"] == "P-0042" and me["user"]["role"] == "patient"
    assert "set_password" in audit_actions()


def test_expired_code_is_refused_and_changes_nothing(app, client, auth, world, frozen_clock, now):
    _, shown = _enrol(client, auth, world)
    frozen_clock(now + timedelta(hours=72))
    other = app.test_client()
    page = other.get(f"/enrol/{shown}").get_data(as_text=True)
    assert "This code is not valid: it may have expired or already been used" in page
    resp = choose_password(other, "/enrol", shown, NEW_PASSWORD)
    assert resp.status_code == 422
    assert "it may have expired" in resp.get_data(as_text=True)
    assert _patient().user.password_hash is None
    assert "set_password" not in audit_actions()


def test_code_one_second_before_expiry_still_works(app, client, auth, world, frozen_clock, now):
    _, shown = _enrol(client, auth, world)
    frozen_clock(now + timedelta(hours=72) - timedelta(seconds=1))
    assert choose_password(app.test_client(), "/enrol", shown, NEW_PASSWORD).status_code == 302


def test_reused_code_is_refused(app, client, auth, world, frozen_clock):
    _, shown = _enrol(client, auth, world)
    assert choose_password(app.test_client(), "/enrol", shown, NEW_PASSWORD).status_code == 302
    first_hash = _patient().user.password_hash
    again = choose_password(app.test_client(), "/enrol", shown, "another long passphrase")
    assert again.status_code == 422
    assert "already been used" in again.get_data(as_text=True)
    db.session.expire_all()
    assert _patient().user.password_hash == first_hash


def test_new_code_kills_the_old_one(app, client, auth, world, frozen_clock):
    _, old = _enrol(client, auth, world)
    patient = _patient()
    resp = client.post(f"/staff/patients/{patient.id}/code")
    assert resp.status_code == 200
    new = code_on_page(resp.get_data(as_text=True))
    assert new != old
    assert choose_password(app.test_client(), "/enrol", old, NEW_PASSWORD).status_code == 422
    assert choose_password(app.test_client(), "/enrol", new, NEW_PASSWORD).status_code == 302
    assert audit_actions().count("issue_code") == 2


def test_patient_page_shows_details_and_pending_code(client, auth, world, frozen_clock):
    _enrol(client, auth, world, contact_email="reminders@example.org", timezone="America/Martinique")
    page = client.get(f"/staff/patients/{_patient().id}").get_data(as_text=True)
    assert "America/Martinique" in page
    assert "reminders@example.org" in page  # a coordinator of the site sees the contact
    assert "valid until 28 Nov 2026, 10:30 (Europe/Paris)" in page
    assert "Issue a new enrolment code" in page and "Withdraw from the diary" in page


@pytest.mark.parametrize("overrides, status, message", [
    ({"study_code": "P-0001"}, 409, "Study code P-0001 is already enrolled."),
    ({"study_code": "not a code"}, 422, "A study code looks like P-0007"),
    ({"contact_email": "not-an-email"}, 422, "This e-mail address is not valid."),
    ({"timezone": "Mars/Olympus"}, 422, "Unknown time zone: Mars/Olympus."),
    ({"site_id": "999999"}, 422, "Choose one of your sites."),
    ({"site_id": "site2"}, 422, "Choose one of your sites."),  # another site's id
    ({"site_id": "abc"}, 422, "Choose one of your sites."),
    ({"cure1_start": "2026-13-45"}, 422, "Not a valid date value"),
    ({"study_code": ""}, 422, "This field is required."),
])
def test_bad_enrolment_input_is_refused_and_nothing_stored(client, auth, world, frozen_clock,
                                                           overrides, status, message):
    if overrides.get("site_id") == "site2":
        overrides = {**overrides, "site_id": str(world["site2"].id)}
    auth.login("coord1@example.org")
    patients_before = db.session.scalar(sa.select(sa.func.count(Patient.id)))
    events_before = len(audit_actions())
    resp = client.post("/staff/patients/new", data=enrol_form(world["site1"].id, **overrides))
    assert resp.status_code == status
    assert message in resp.get_data(as_text=True)
    assert 'id="enrolment-code"' not in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Patient.id))) == patients_before
    assert db.session.scalar(sa.select(sa.func.count(AccessCode.id))) == 0
    assert len(audit_actions()) == events_before


def test_admin_enrols_at_any_site(client, auth, world, frozen_clock):
    auth.login("admin@example.org")
    resp = client.post("/staff/patients/new", data=enrol_form(world["site2"].id))
    assert resp.status_code == 201
    assert _patient().site_id == world["site2"].id


def test_coordinator_cannot_see_or_act_on_another_sites_patient(client, auth, world):
    auth.login("coord1@example.org")
    listing = client.get("/staff/patients").get_data(as_text=True)
    assert "P-0001" in listing and "P-0002" in listing and "P-0101" not in listing
    other = world["pat2"].id
    assert client.get(f"/staff/patients/{other}").status_code == 404
    assert client.post(f"/staff/patients/{other}/code").status_code == 404
    assert client.post(f"/staff/patients/{other}/withdraw",
                       data={"reason": "moved"}).status_code == 404
    assert db.session.scalar(sa.select(sa.func.count(AccessCode.id))) == 0
    db.session.refresh(world["pat2"])
    assert world["pat2"].status == "active"


def test_investigator_views_but_cannot_enrol_issue_or_withdraw(client, auth, world):
    auth.login("inv1@example.org")
    pid = world["pat1"].id
    assert client.get("/staff/patients").status_code == 200
    page = client.get(f"/staff/patients/{pid}")
    assert page.status_code == 200
    assert "Withdraw from the diary" not in page.get_data(as_text=True)
    assert client.get("/staff/patients/new").status_code == 403
    assert client.post("/staff/patients/new",
                       data=enrol_form(world["site1"].id)).status_code == 403
    assert client.post(f"/staff/patients/{pid}/code").status_code == 403
    assert client.post(f"/staff/patients/{pid}/withdraw",
                       data={"reason": "x"}).status_code == 403
    assert _patient() is None
    assert db.session.scalar(sa.select(sa.func.count(AccessCode.id))) == 0


def test_contact_email_is_for_coordinators_only(client, auth, world, make_patient):
    patient = make_patient(world["site1"], "P-0050", contact_email="secret@example.org")
    auth.login("inv1@example.org")
    assert "secret@example.org" not in client.get(f"/staff/patients/{patient.id}").get_data(
        as_text=True)
    auth.logout()
    auth.login("coord1@example.org")
    assert "secret@example.org" in client.get(f"/staff/patients/{patient.id}").get_data(
        as_text=True)


def test_patients_cannot_reach_staff_pages(client, auth, world):
    auth.login("P-0001")
    assert client.get("/staff/patients").status_code == 403
    assert client.get(f"/staff/patients/{world['pat1'].id}").status_code == 403


def test_withdraw_with_reason(client, auth, world, frozen_clock, now):
    auth.login("coord1@example.org")
    pid = world["pat1"].id
    resp = client.post(f"/staff/patients/{pid}/withdraw",
                       data={"reason": "patient asked to stop the diary"})
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "P-0001 is withdrawn from the diary." in page
    assert "since 25 Nov 2026" in page and "Issue a new enrolment code" not in page
    patient = db.session.get(Patient, pid)
    db.session.refresh(patient)
    assert patient.status == "withdrawn" and patient.withdrawn_at == now
    event = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == "withdraw")).scalar_one()
    assert event.reason == "patient asked to stop the diary"
    assert event.patient_id == pid and event.actor_id == world["coord1"].id
    # a withdrawn patient can no longer log in, and gets no new code
    auth.logout()
    assert auth.login("P-0001").status_code == 401
    auth.login("coord1@example.org")
    assert client.post(f"/staff/patients/{pid}/code").status_code == 409
    again = client.post(f"/staff/patients/{pid}/withdraw", data={"reason": "twice"})
    assert again.status_code == 409
    assert "already withdrawn" in again.get_data(as_text=True)
    assert audit_actions().count("withdraw") == 1


@pytest.mark.parametrize("reason, message", [
    ("", "This field is required."), ("   ", "This field is required."),
    ("x" * 501, "Field cannot be longer than 500 characters."),
])
def test_withdraw_needs_a_reason(client, auth, world, reason, message):
    auth.login("coord1@example.org")
    pid = world["pat1"].id
    resp = client.post(f"/staff/patients/{pid}/withdraw", data={"reason": reason})
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    db.session.refresh(world["pat1"])
    assert world["pat1"].status == "active" and world["pat1"].withdrawn_at is None
    assert "withdraw" not in audit_actions()


def test_home_page_and_nav_for_coordinator(client, auth, world):
    auth.login("coord1@example.org")
    resp = client.get("/")
    # the patient list, unless a later feature (dashboards) gives coordinators another home
    assert resp.status_code == 302 and not resp.headers["Location"].endswith("/welcome")
    assert client.get(resp.headers["Location"]).status_code == 200
    page = client.get("/staff/patients").get_data(as_text=True)
    assert 'href="/staff/patients"' in page
    assert 'href="/staff/patients/new"' in page
    assert 'href="/admin/sites"' not in page


def test_patient_login_password_unaffected_by_list(client, auth, world):
    """The seeded patients (with a password) show as having chosen one."""
    auth.login("coord1@example.org")
    page = client.get("/staff/patients").get_data(as_text=True)
    row = re.search(r"P-0001</a></th>(.*?)</tr>", page, re.S).group(1)
    assert "yes" in row and "2 Nov 2026" in row and "Site One" in row
    assert PASSWORD not in page


def _as_another_client():
    """Forget Flask-Login's cached user: the test's app context (and its `g`) outlives requests."""
    from flask import g
    g.pop("_login_user", None)


def test_withdrawal_ends_the_patients_open_session(app, client, auth, world):
    patient_client = app.test_client()
    assert patient_client.post("/login", data={"login": "P-0001",
                                               "password": PASSWORD}).status_code == 302
    assert patient_client.get("/api/v1/session").status_code == 200
    _as_another_client()
    auth.login("coord1@example.org")
    resp = client.post(f"/staff/patients/{world['pat1'].id}/withdraw", data={"reason": "stopped"})
    assert resp.status_code == 302
    _as_another_client()
    assert patient_client.get("/api/v1/session").status_code == 401
    assert patient_client.get("/staff/patients").status_code == 302  # sent to the login page
