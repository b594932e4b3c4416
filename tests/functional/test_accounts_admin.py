"""Admins create sites and invite staff by an e-mail link written to the outbox."""
import re

import pytest
import sqlalchemy as sa

from diary.accounts.models import AccessCode, Patient, Site, User
from diary.audit.models import AuditEvent
from diary.extensions import db
from diary.notifications.models import OutboxMessage
from tests.helpers_accounts import audit_actions, choose_password

INVITE_LINK_RE = re.compile(r"http://diary\.test/invite/([0-9A-Z]+)")
STAFF_PASSWORD = "plenty of lavender fields"


def _site_form(**overrides) -> dict:
    data = {"name": "Hopital Nord", "timezone": "Europe/Paris", "phone": "+33 4 91 00 00 00",
            "alert_emails": "alerts@nord.example.org\nteam@nord.example.org",
            "escalation_emails": "chief@nord.example.org"}
    data.update(overrides)
    return data


def _outbox() -> list[OutboxMessage]:
    return list(db.session.execute(sa.select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def _invite(client, email="new.coord@example.org", role="coordinator", sites=()):
    return client.post("/admin/staff", data={"email": email, "role": role,
                                             "site_ids": [str(s.id) for s in sites]})


def test_admin_home_and_nav(client, auth, world):
    auth.login("admin@example.org")
    resp = client.get("/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/sites")
    page = client.get("/admin/sites").get_data(as_text=True)
    for href in ("/admin/sites", "/admin/staff", "/staff/patients"):
        assert f'href="{href}"' in page


def test_admin_creates_a_site(client, auth, world, frozen_clock):
    auth.login("admin@example.org")
    resp = client.post("/admin/sites", data=_site_form())
    assert resp.status_code == 302
    page = client.get("/admin/sites").get_data(as_text=True)
    assert "Site Hopital Nord created." in page
    assert "alerts@nord.example.org, team@nord.example.org" in page
    site = db.session.execute(sa.select(Site).where(Site.name == "Hopital Nord")).scalar_one()
    assert site.alert_emails == ["alerts@nord.example.org", "team@nord.example.org"]
    assert site.escalation_emails == ["chief@nord.example.org"]
    event = db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.entity == "site", AuditEvent.entity_id == str(site.id))).scalar_one()
    assert event.action == "create" and event.actor_id == world["admin"].id


@pytest.mark.parametrize("overrides, status, message", [
    ({"name": "Site One"}, 409, "A site named Site One already exists."),
    ({"name": ""}, 422, "This field is required."),
    ({"timezone": "Europe/Atlantis"}, 422, "Unknown time zone: Europe/Atlantis."),
    ({"phone": "call us"}, 422, "The team&#39;s phone number is not valid."),
    ({"alert_emails": "alerts@nord.example.org\nnot-an-address"}, 422,
     "This e-mail address is not valid."),
    ({"escalation_emails": "chief@"}, 422, "This e-mail address is not valid."),
])
def test_bad_site_input_is_refused_and_nothing_stored(client, auth, world, overrides, status,
                                                      message):
    auth.login("admin@example.org")
    before = db.session.scalar(sa.select(sa.func.count(Site.id)))
    events = len(audit_actions())
    resp = client.post("/admin/sites", data=_site_form(**overrides))
    assert resp.status_code == status
    assert message in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Site.id))) == before
    assert len(audit_actions()) == events


@pytest.mark.parametrize("who", ["coord1", "inv1", "pat1"])
def test_only_admins_reach_admin_pages(client, auth, world, who):
    auth.login("P-0001" if who == "pat1" else f"{who}@example.org")
    assert client.get("/admin/sites").status_code == 403
    assert client.get("/admin/staff").status_code == 403
    assert client.post("/admin/sites", data=_site_form()).status_code == 403
    assert _invite(client, sites=[world["site1"]]).status_code == 403
    assert db.session.execute(sa.select(Site).where(Site.name == "Hopital Nord")).first() is None
    assert _outbox() == []


def test_invitation_enqueues_one_email_and_the_invitee_joins(app, client, auth, world,
                                                             frozen_clock):
    auth.login("admin@example.org")
    resp = _invite(client, email="New.Coord@Example.org", sites=[world["site1"]])
    assert resp.status_code == 302
    page = client.get("/admin/staff").get_data(as_text=True)
    assert "Invitation sent to new.coord@example.org." in page and "invited" in page

    user = db.session.execute(
        sa.select(User).where(User.email == "new.coord@example.org")).scalar_one()
    assert user.role == "coordinator" and user.password_hash is None
    assert [s.name for s in user.sites] == ["Site One"]
    [msg] = _outbox()
    assert (msg.channel, msg.kind, msg.recipient) == ("email", "invitation", user.email)
    assert msg.status == "pending" and msg.site_id == world["site1"].id
    code = INVITE_LINK_RE.search(msg.body).group(1)
    study_codes = db.session.execute(sa.select(Patient.study_code)).scalars().all()
    assert study_codes and not any(sc in msg.body or sc in msg.subject for sc in study_codes)
    assert code not in page  # the admin never sees the secret

    invitee = app.test_client()
    assert invitee.get(f"/invite/{code}").status_code == 200
    done = choose_password(invitee, f"/invite/{code}", code, STAFF_PASSWORD)
    assert done.status_code == 302
    assert invitee.get("/api/v1/session").get_json()["user"]["role"] == "coordinator"
    invitee.post("/logout")
    login = invitee.post("/login", data={"login": "new.coord@example.org",
                                         "password": STAFF_PASSWORD})
    assert login.status_code == 302
    assert invitee.get("/staff/patients").status_code == 200
    events = db.session.execute(
        sa.select(AuditEvent.action, AuditEvent.actor_id)
        .where(AuditEvent.entity == "user", AuditEvent.entity_id == str(user.id))
        .order_by(AuditEvent.id)).all()
    admin_id = world["admin"].id
    assert events == [("create", admin_id), ("issue_code", admin_id), ("set_password", user.id)]


def test_reinvite_sends_a_new_link_and_kills_the_old(app, client, auth, world, frozen_clock):
    auth.login("admin@example.org")
    assert _invite(client, sites=[world["site1"]]).status_code == 302
    resp = _invite(client, email="new.coord@example.org", sites=[world["site1"]])
    assert resp.status_code == 302
    assert "the earlier link no longer works" in client.get("/admin/staff").get_data(as_text=True)
    first, second = _outbox()
    old = INVITE_LINK_RE.search(first.body).group(1)
    new = INVITE_LINK_RE.search(second.body).group(1)
    assert old != new
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(
        User.email == "new.coord@example.org")) == 1
    assert choose_password(app.test_client(), "/enrol", old, STAFF_PASSWORD).status_code == 422
    assert choose_password(app.test_client(), "/enrol", new, STAFF_PASSWORD).status_code == 302


def test_inviting_someone_with_a_password_is_refused(client, auth, world):
    auth.login("admin@example.org")
    resp = _invite(client, email="coord1@example.org", sites=[world["site1"]])
    assert resp.status_code == 409
    assert "coord1@example.org already has an account with a password." in resp.get_data(
        as_text=True)
    assert _outbox() == []
    assert db.session.scalar(sa.select(sa.func.count(AccessCode.id))) == 0


@pytest.mark.parametrize("email, role, sites, status, message", [
    ("not-an-email", "coordinator", "site1", 422, "This e-mail address is not valid."),
    ("x@example.org", "coordinator", "", 422, "Staff belong to at least one site."),
    ("x@example.org", "patient", "site1", 422, "Not a valid choice"),
    ("x@example.org", "investigator", "999999", 422, "Choose sites from the list."),
    ("x@example.org", "investigator", "abc", 422, "Choose sites from the list."),
    ("", "investigator", "site1", 422, "This field is required."),
])
def test_bad_invitation_is_refused_and_nothing_stored(client, auth, world, email, role, sites,
                                                      status, message):
    auth.login("admin@example.org")
    users = db.session.scalar(sa.select(sa.func.count(User.id)))
    site_ids = {"site1": [str(world["site1"].id)], "": []}.get(sites, [sites])
    resp = client.post("/admin/staff", data={"email": email, "role": role, "site_ids": site_ids})
    assert resp.status_code == status
    assert message in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == users
    assert _outbox() == []


def test_admin_invited_without_site(app, client, auth, world, frozen_clock):
    auth.login("admin@example.org")
    assert _invite(client, email="second.admin@example.org", role="admin").status_code == 302
    [msg] = _outbox()
    assert "administrator" in msg.body and msg.site_id is None
    page = client.get("/admin/staff").get_data(as_text=True)
    assert "second.admin@example.org" in page and "all (administrator)" in page


def test_send_again_button_reinvites_from_the_list(client, auth, world, frozen_clock):
    auth.login("admin@example.org")
    _invite(client, email="late.inv@example.org", role="investigator",
            sites=[world["site1"], world["site2"]])
    page = client.get("/admin/staff").get_data(as_text=True)
    row = re.search(r"late\.inv@example\.org</th>(.*?)</tr>", page, re.S).group(1)
    assert "Send a new invitation" in row
    fields = dict(re.findall(r'name="(email|role)" value="([^"]+)"', row))
    site_ids = re.findall(r'name="site_ids" value="(\d+)"', row)
    resp = client.post("/admin/staff", data={**fields, "site_ids": site_ids})
    assert resp.status_code == 302
    assert [m.recipient for m in _outbox()] == ["late.inv@example.org"] * 2
    # people with a password get no such button
    active = re.search(r"inv1@example\.org</th>(.*?)</tr>", page, re.S).group(1)
    assert "Send a new invitation" not in active
