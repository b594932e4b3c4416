import sqlalchemy as sa

from diary.accounts.models import Patient, Site, User
from diary.audit.models import AuditEvent
from diary.extensions import db


def test_create_site_and_users(runner):
    r = runner.invoke(args=["diary", "create-site", "--name", "Pitie", "--timezone", "Europe/Paris",
                            "--phone", "+33 1 42 16 00 00", "--alert-email", "a@x.org",
                            "--escalation-email", "b@x.org"])
    assert r.exit_code == 0, r.output
    site = db.session.execute(sa.select(Site)).scalar_one()
    assert site.alert_emails == ["a@x.org"] and site.escalation_emails == ["b@x.org"]
    r = runner.invoke(args=["diary", "create-user", "--role", "patient", "--login", "p-0007",
                            "--password", "a long enough pw", "--site", "Pitie",
                            "--cure1-start", "2026-11-02", "--email", "me@x.org"])
    assert r.exit_code == 0, r.output
    patient = db.session.execute(sa.select(Patient)).scalar_one()
    assert patient.study_code == "P-0007" and patient.contact_email == "me@x.org"
    r = runner.invoke(args=["diary", "create-user", "--role", "investigator", "--email",
                            "Doc@X.org", "--password", "a long enough pw", "--site", "Pitie"])
    assert r.exit_code == 0, r.output
    doc = db.session.execute(sa.select(User).where(User.role == "investigator")).scalar_one()
    assert doc.email == "doc@x.org" and [s.name for s in doc.sites] == ["Pitie"]
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) >= 3


def test_bad_input_gets_a_one_line_reason(runner, make_site):
    make_site("Pitie")
    cases = [
        (["--role", "surgeon", "--email", "a@x.org", "--password", "a long enough pw",
          "--site", "Pitie"], "unknown role"),
        (["--role", "investigator", "--email", "not-an-email", "--password", "a long enough pw",
          "--site", "Pitie"], "e-mail"),
        (["--role", "investigator", "--email", "a@x.org", "--password", "a long enough pw",
          "--site", "Nowhere"], "no site named"),
        (["--role", "patient", "--login", "P-0001", "--password", "a long enough pw",
          "--site", "Pitie", "--cure1-start", "2026-13-45"], "not a date"),
        (["--role", "patient", "--login", "P-0001", "--password", "short",
          "--site", "Pitie", "--cure1-start", "2026-11-02"], "10 characters"),
    ]
    for args, expected in cases:
        r = runner.invoke(args=["diary", "create-user", *args])
        assert r.exit_code != 0, args
        assert expected in r.output.lower(), r.output
        assert "Traceback" not in r.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_duplicate_site_refused(runner, make_site):
    make_site("Pitie")
    r = runner.invoke(args=["diary", "create-site", "--name", "Pitie", "--phone", "0142160000"])
    assert r.exit_code == 1 and "already exists" in r.output


def test_unknown_timezone_refused(runner):
    r = runner.invoke(args=["diary", "create-site", "--name", "X", "--timezone", "Mars/Olympus",
                            "--phone", "0142160000"])
    assert r.exit_code == 1 and "time zone" in r.output.lower()


def test_audit_verify_command(runner, make_site):
    make_site("Pitie")
    make_site("Other")
    r = runner.invoke(args=["diary", "audit", "verify"])
    assert r.exit_code == 0 and "intact" in r.output
    first = db.session.execute(sa.select(AuditEvent).where(AuditEvent.chain == 0,
                                                           AuditEvent.seq == 1)).scalar_one()
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == first.id).values(reason="x"))
    db.session.commit()
    r = runner.invoke(args=["diary", "audit", "verify"])
    assert r.exit_code == 1
    assert f"event id {first.id}" in r.output
