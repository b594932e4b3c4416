"""Time and peak memory of one reminder sweep for 10,000 and 100,000 enrolled patients.

    .venv/bin/python bench/reminder_sweep.py [--sizes 10000,100000]

Generated data, bulk-inserted: patients spread over every point of the
VASCU-IL2 plan (cure1_start from 258 days ago to today), their 20 scheduled
doses, records for most past home doses, check-ins for most of the last ten
days, an e-mail for half of them, a phone subscribed for a fifth, own
preferences for a third. The sweep runs on a Sunday at 20:05 in Paris, the
busiest minute of the week (the weekly check-in reminders of everyone between
cures fall due with the day's daily ones and dose follow-ups).

PostgreSQL when DIARY_BENCH_DATABASE_URL is set (its diary tables are DROPPED
and recreated: give it a bench database), SQLite in a temporary folder
otherwise. One line per size on stdout:
    reminder_sweep patients=<N> seconds=<x> peak_mb=<y>
`seconds` is one sweep and its commit, timed alone; `peak_mb` is the peak of
Python allocations during a second, identical sweep traced with tracemalloc
(tracing slows Python down, so it is not timed). Details go to stderr.
"""
import argparse
import os
import random
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

NOW = datetime(2026, 11, 29, 19, 5, tzinfo=UTC)  # Sunday 20:05 in Paris
TODAY = date(2026, 11, 29)
BATCH = 20_000


def make_app():
    """An app on the bench database: PostgreSQL if given, else a new SQLite file.

    A new SQLite file for each size: dropping SQLite tables with foreign keys
    on checks every reference row by row, which takes longer than the bench.
    """
    url = os.environ.get("DIARY_BENCH_DATABASE_URL")
    tmp = tempfile.mkdtemp(prefix="diary-bench-")
    os.environ.setdefault("DIARY_INSTANCE_PATH", os.path.join(tmp, "instance"))
    from diary import create_app
    return create_app({"SQLALCHEMY_DATABASE_URI": url or f"sqlite:///{tmp}/bench.db",
                       "SECRET_KEY": "bench", "BASE_URL": "https://diary.example.org"})


def insert(table, rows):
    from diary.extensions import db
    for i in range(0, len(rows), BATCH):
        db.session.execute(table.insert(), rows[i:i + BATCH])


def generate(n: int) -> None:
    from diary.accounts.models import Patient, Site, User
    from diary.checkins.models import CheckIn
    from diary.extensions import db
    from diary.injections.models import InjectionRecord, ScheduledDose
    from diary.protocol import load_protocol
    from diary.protocol.schedule import planned_doses
    from diary.reminders.models import PushSubscription, ReminderPreference

    rnd = random.Random(6)
    protocol = load_protocol("vascu-il2")
    span = protocol.follow_up_end_offset_days
    db.session.execute(Site.__table__.insert(), [dict(
        id=1, name="Bench site", timezone="Europe/Paris", phone="+33 1 00 00 00 00",
        alert_emails=[], escalation_emails=[], created_at=NOW)])
    tables = (User.__table__, Patient.__table__, ScheduledDose.__table__,
              InjectionRecord.__table__, CheckIn.__table__, ReminderPreference.__table__,
              PushSubscription.__table__)
    buffers: list[list[dict]] = [[] for _ in tables]
    users, patients, doses, records, checkins, prefs, subs = buffers
    dose_id = record_id = 0
    for pid in range(1, n + 1):
        start = TODAY - timedelta(days=(pid * 7919) % (span + 1))
        users.append(dict(id=pid, role="patient", is_enabled=True, failed_logins=0,
                          created_at=NOW, locale=rnd.choice(("en", "fr", None))))
        patients.append(dict(id=pid, user_id=pid, study_code=f"B-{pid:06d}", site_id=1,
                             timezone=None, protocol="vascu-il2", cure1_start=start,
                             status="active" if pid % 50 else "withdrawn", created_at=NOW,
                             contact_email=f"b{pid}@example.org" if pid % 2 else None))
        for planned in planned_doses(protocol, start):
            dose_id += 1
            doses.append(dict(id=dose_id, patient_id=pid, cure=planned.cure, day=planned.day,
                              planned_date=planned.date, original_date=planned.date,
                              dose_miu=planned.dose_miu, setting=planned.setting, version=1,
                              created_at=NOW))
            if planned.date <= TODAY and rnd.random() < 0.9:
                record_id += 1
                taken_at = datetime.combine(planned.date, dtime(8, 10), UTC)
                records.append(dict(id=record_id, scheduled_dose_id=dose_id, patient_id=pid,
                                    client_id=f"r{record_id}", taken=True, taken_at=taken_at,
                                    dose_miu=planned.dose_miu, site="thigh_left",
                                    administered_by="self", note="", received_at=taken_at,
                                    late=False, version=1))
        for back in range(10):
            day = TODAY - timedelta(days=back)
            if day >= start and rnd.random() < 0.6:
                checkins.append(dict(patient_id=pid, client_id=f"c{pid}-{back}", diary_date=day,
                                     received_at=NOW, late=False, warning_signs=[], note="",
                                     source="web"))
        if pid % 3 == 0:
            prefs.append(dict(patient_id=pid, injection_time=dtime(8, 30),
                              checkin_time=dtime(19, 45), quiet_start=dtime(22, 0),
                              quiet_end=dtime(7, 0), weekly_weekday=6, email_enabled=True,
                              push_enabled=True, language="fr", created_at=NOW))
        if pid % 5 == 0:
            subs.append(dict(patient_id=pid, endpoint=f"https://push.example.org/{pid}",
                             p256dh="B" + "A" * 86, auth="A" * 22, created_at=NOW))
        if pid % 5000 == 0 or pid == n:  # in slices: 100,000 plans do not fit in memory
            for table, rows in zip(tables, buffers, strict=True):
                insert(table, rows)
                rows.clear()
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()


def reset() -> None:
    from diary.extensions import db
    db.session.remove()
    if db.engine.dialect.name != "sqlite":  # a new SQLite file is empty already
        db.drop_all()
    db.create_all()


def clear_reminders() -> None:
    from diary.extensions import db
    from diary.notifications.models import OutboxMessage
    db.session.execute(OutboxMessage.__table__.delete())
    db.session.commit()


def run(n: int) -> None:
    from diary.extensions import db
    from diary.reminders.services import sweep

    reset()
    t0 = time.perf_counter()
    generate(n)
    print(f"generated {n} patients in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    db.session.remove()

    t0 = time.perf_counter()
    report = sweep(NOW)
    db.session.commit()
    seconds = time.perf_counter() - t0
    db.session.remove()

    t0 = time.perf_counter()
    again = sweep(NOW + timedelta(minutes=1))
    db.session.commit()
    idle = time.perf_counter() - t0
    db.session.remove()

    clear_reminders()
    tracemalloc.start()
    sweep(NOW)
    db.session.rollback()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    db.session.remove()
    print(f"  candidates={report.patients} due={report.due} enqueued={report.enqueued}; "
          f"next minute's sweep: {again.enqueued} new in {idle:.2f}s", file=sys.stderr)
    print(f"reminder_sweep patients={n} seconds={seconds:.2f} peak_mb={peak / 2**20:.1f}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        app = make_app()
        with app.app_context():
            print(f"database: {app.config['SQLALCHEMY_DATABASE_URI'].split('@')[-1]}",
                  file=sys.stderr)
            run(size)
            from diary.extensions import db
            db.session.remove()
            if db.engine.dialect.name == "sqlite":
                os.remove(db.engine.url.database)
            else:
                db.drop_all()
            db.engine.dispose()


if __name__ == "__main__":
    main()
