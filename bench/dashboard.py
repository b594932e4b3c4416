"""Benchmark of the coordinator's adherence dashboard (/staff/dashboard).

Generates, with bulk inserts, one site with N patients who each have 270 days
of history (all four cures recorded, about 85% of expected check-ins done plus
some extra ones, a few open alerts, reminders with their delivery status),
then times the page through the test client, logged in as the site's
coordinator: the median of several requests, and the number of SQL statements
one request runs. One line per size and database:

    dashboard db=<sqlite|postgresql> patients=<N> ms=<x> queries=<q>

With --exports, each export is then downloaded once as the coordinator (the CSV tables,
the audit trail, the FHIR bundle), a line each:

    export db=<sqlite|postgresql> patients=<N> what=<file> ms=<x> rows=<r> mb=<size>

(a sync gunicorn worker is restarted after 30 s on one request: exports must stay under).

Usage: .venv/bin/python bench/dashboard.py [--sizes 100 1000] [--repeat 7] [--exports]
On PostgreSQL too when DIARY_BENCH_DATABASE_URL is set (its tables are dropped
and recreated: give it a database of its own). Targets: < 300 ms at 1,000
patients, and the same number of queries at every size.
"""
import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
_TMP = tempfile.mkdtemp(prefix="diary-bench-")
os.environ.setdefault("DIARY_INSTANCE_PATH", os.path.join(_TMP, "instance"))

import sqlalchemy as sa  # noqa: E402

from diary import clock, create_app  # noqa: E402
from diary.extensions import db  # noqa: E402

PASSWORD = "bench password 123"
HISTORY_DAYS = 270


def make_app(url: str):
    return create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
        "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024,
    })


def generate(n: int, seed: int = 7) -> str:
    """Bulk-insert one site of `n` patients; returns the coordinator's e-mail."""
    from diary.accounts import services as accounts
    from diary.accounts.models import Patient, User
    from diary.alerts.models import Alert
    from diary.checkins.models import CheckIn, CheckInSymptom
    from diary.injections.models import InjectionRecord, ScheduledDose
    from diary.notifications.models import OutboxMessage
    from diary.protocol import load_protocol
    from diary.protocol import schedule as plan

    rnd = random.Random(seed)
    now = clock.now_utc()
    site = accounts.create_site(name=f"Bench site {n}", timezone="Europe/Paris",
                                phone="+33 1 00 00 00 00", alert_emails=["a@example.org"],
                                escalation_emails=[], actor=None, now=now)
    email = f"coord-{n}@bench.example.org"
    accounts.create_staff(role="coordinator", email=email, sites=[site], actor=None, now=now,
                          password=PASSWORD)
    db.session.commit()
    protocol = load_protocol("vascu-il2")
    today = clock.local_date(now, "Europe/Paris")
    session = db.session
    base_user = (session.execute(sa.select(sa.func.max(User.id))).scalar() or 0) + 1
    users, patients = [], []
    for i in range(n):
        uid = base_user + i
        users.append({"id": uid, "role": "patient", "is_enabled": True, "failed_logins": 0,
                      "created_at": now})
        start = today - timedelta(days=HISTORY_DAYS - rnd.randint(0, 13))
        patients.append({"id": uid, "user_id": uid, "study_code": f"B{n}-{i:05d}",
                         "site_id": site.id, "protocol": "vascu-il2", "cure1_start": start,
                         "status": "active" if rnd.random() > 0.03 else "withdrawn",
                         "created_at": now})
    session.execute(sa.insert(User), users)
    session.execute(sa.insert(Patient), patients)

    doses, records, checkins, symptoms, alerts, outbox = [], [], [], [], [], []
    dose_id = (session.execute(sa.select(sa.func.max(ScheduledDose.id))).scalar() or 0)
    checkin_id = (session.execute(sa.select(sa.func.max(CheckIn.id))).scalar() or 0)
    for p in patients:
        start = p["cure1_start"]
        for d in plan.planned_doses(protocol, start):
            dose_id += 1
            doses.append({"id": dose_id, "patient_id": p["id"], "cure": d.cure, "day": d.day,
                          "planned_date": d.date, "original_date": d.date,
                          "dose_miu": d.dose_miu, "setting": d.setting, "version": 1,
                          "created_at": now})
            if d.date >= today or rnd.random() < 0.04:
                continue  # upcoming, or missed
            taken = rnd.random() > 0.05
            moment = clock.at_local(d.date + timedelta(days=rnd.random() < 0.1), 9, 0,
                                    "Europe/Paris")
            records.append({
                "scheduled_dose_id": dose_id, "patient_id": p["id"],
                "client_id": str(uuid.UUID(int=rnd.getrandbits(128))), "taken": taken,
                "taken_at": moment if taken else None, "taken_at_offset_minutes": 60,
                "dose_miu": d.dose_miu if taken else None,
                "site": "thigh_left" if taken else None,
                "administered_by": "self" if taken else None,
                "not_taken_reason": None if taken else "forgot", "note": "",
                "received_at": moment + timedelta(minutes=3), "late": False, "version": 1})
        expected = {e.date for e in plan.plan_checkins(protocol, start)}
        day = start
        while day < today:
            if (day in expected and rnd.random() < 0.85) or rnd.random() < 0.1:
                checkin_id += 1
                received = clock.at_local(day, 20, 0, "Europe/Paris")
                fever = rnd.random() < 0.02
                checkins.append({
                    "id": checkin_id, "patient_id": p["id"],
                    "client_id": str(uuid.UUID(int=rnd.getrandbits(128))), "diary_date": day,
                    "received_at": received, "late": False,
                    "temperature_c": 39.1 if fever else 36.9, "warning_signs": [], "note": "",
                    "source": "api"})
                symptoms.append({"checkin_id": checkin_id, "code": "asthenia",
                                 "grade": rnd.randint(0, 2), "new_or_worse": False})
                if fever:
                    alerts.append({"patient_id": p["id"], "site_id": site.id, "rule": "U1",
                                   "tier": "urgent", "diary_date": day, "raised_at": received,
                                   "checkin_id": checkin_id,
                                   "status": "open" if rnd.random() < 0.3 else "acknowledged",
                                   "escalation_count": 0})
            day += timedelta(days=1)
        for k in range(3):
            created = now - timedelta(days=3 - k)
            status = rnd.choice(("sent", "sent", "sent", "failed", "pending"))
            outbox.append({"channel": "email", "recipient": "p@example.org", "kind": "reminder",
                           "subject": "Reminder", "body": "Open the diary",
                           "patient_id": p["id"], "site_id": site.id, "status": status,
                           "attempts": 1, "next_attempt_at": created, "created_at": created,
                           "sent_at": created if status == "sent" else None,
                           "dedupe_key": f"bench:{p['id']}:{k}"})
    for a in alerts:  # acknowledged alerts need who, when and what
        if a["status"] == "acknowledged":
            a.update(acknowledged_by_id=base_user - 1, acknowledged_at=a["raised_at"],
                     action="phoned the patient")
    for table, rows in ((ScheduledDose, doses), (InjectionRecord, records), (CheckIn, checkins),
                        (CheckInSymptom, symptoms), (Alert, alerts), (OutboxMessage, outbox)):
        for i in range(0, len(rows), 5000):
            session.execute(sa.insert(table), rows[i:i + 5000])
    session.commit()
    if db.engine.dialect.name == "postgresql":
        for table in ("patients", "scheduled_doses", "checkins", "users", "alerts",
                      "outbox_messages", "injection_records", "checkin_symptoms"):
            # table names from the constant tuple above (bandit B608)
            session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # nosec B608
                                    f"(SELECT max(id) FROM {table}))"))
        session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
    return email


def measure(app, email: str, repeat: int) -> tuple[float, int]:
    client = app.test_client()
    resp = client.post("/login", data={"login": email, "password": PASSWORD})
    assert resp.status_code == 302, resp.status_code
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    assert client.get("/staff/dashboard").status_code == 200  # warm up
    times = []
    for i in range(repeat):
        statements.clear()
        if i == 0:
            sa.event.listen(db.engine, "before_cursor_execute", count)
        t0 = time.perf_counter()
        resp = client.get("/staff/dashboard")
        times.append((time.perf_counter() - t0) * 1000)
        if i == 0:
            sa.event.remove(db.engine, "before_cursor_execute", count)
            queries = len(statements)
        assert resp.status_code == 200
    return statistics.median(times), queries


def measure_exports(app, email: str, label: str, n: int) -> None:
    """Each export once, as the coordinator downloads it: its time, rows and size (a
    gunicorn worker that answers for longer than its timeout, 30 s, is restarted)."""
    from diary.exports.services import CSV_TABLES

    client = app.test_client()
    resp = client.post("/login", data={"login": email, "password": PASSWORD})
    assert resp.status_code == 302, resp.status_code
    urls = [f"/staff/exports/{table}.csv" for table in CSV_TABLES + ("audit",)]
    for url in urls + ["/staff/exports/fhir.json"]:
        t0 = time.perf_counter()
        resp = client.get(url)
        body = resp.get_data()
        ms = (time.perf_counter() - t0) * 1000
        assert resp.status_code == 200, (url, resp.status_code)
        rows = (body.count(b"\n") - 1 if url.endswith(".csv")
                else len(json.loads(body)["entry"]))
        print(f"export db={label} patients={n} what={url.rsplit('/', 1)[1]} ms={ms:.0f} "
              f"rows={rows} mb={len(body) / 1e6:.1f}", flush=True)


def run(url: str, label: str, sizes: list[int], repeat: int, exports: bool = False) -> None:
    app = make_app(url)
    with app.app_context():
        for n in sizes:
            db.drop_all()
            db.create_all()
            email = generate(n)
            # the requests in an app context of their own, each size: Flask-Login keeps
            # the logged-in user in its g, which must not outlive the size's database
            with app.app_context():
                ms, queries = measure(app, email, repeat)
                print(f"dashboard db={label} patients={n} ms={ms:.0f} queries={queries}",
                      flush=True)
            if exports:
                with app.app_context():
                    measure_exports(app, email, label, n)
            db.session.remove()
        db.drop_all()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--exports", action="store_true",
                        help="also time each export once (CSV tables, audit, FHIR)")
    args = parser.parse_args()
    run(f"sqlite:///{_TMP}/bench.db", "sqlite", args.sizes, args.repeat, args.exports)
    pg = os.environ.get("DIARY_BENCH_DATABASE_URL")
    if pg:
        run(pg, "postgresql", args.sizes, args.repeat, args.exports)


if __name__ == "__main__":
    main()
