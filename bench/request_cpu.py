"""CPU of one request inside the app, without HTTP, a server or other processes.

    .venv/bin/python bench/request_cpu.py [--requests 2000] [--phases] [--profile FILE]

bench/load.py measures the whole machine under load, and its figures move with
everything else running on the two cores (round to round, the same code has
measured 20 % apart). This one runs a patient's requests one after another
through Flask's test client, on PostgreSQL (DIARY_BENCH_PG, default
postgresql+psycopg://postgres@127.0.0.1:5432; a database made and dropped for
the run), and counts this process's CPU time only: a steadier figure to compare
two versions of the code with. The test client's own cost is included (it is
about that of gunicorn's HTTP parsing).

Prints the CPU (ms) and wall time per check-in (POST /api/v1/checkins) and per
Today page (GET /today); with --phases, the CPU of the main steps (loading the
user, the check-in service, the rules' history, the audit write, the Today
queries and template); with --profile, a cProfile file of the measured part.
"""
import argparse
import collections
import functools
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402 - the database helpers and the check-in body of the load bench

Phases = dict[str, list]


def timed_phases(app) -> Phases:
    """Wrap the main steps to add up their CPU time (they stay correct, only slower)."""
    import diary.alerts.services as alerts
    import diary.audit.services as audit
    import diary.checkins.services as checkins
    import diary.injections.services as injections
    import diary.injections.views as injection_views

    spent: Phases = collections.defaultdict(lambda: [0.0, 0])

    def wrap(module, name):
        inner = getattr(module, name)

        @functools.wraps(inner)
        def step(*args, **kwargs):
            start = time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                entry = spent[name]
                entry[0] += time.process_time() - start
                entry[1] += 1
        setattr(module, name, step)
        return step

    for module, name in ((checkins, "record_checkin"), (checkins, "history_for"),
                         (alerts, "raise_alerts"), (audit, "write_pending"),
                         (checkins, "count_for_day"), (injections, "today_summary"),
                         (injection_views, "render_template")):
        wrap(module, name)
    app.login_manager._user_callback = wrap(  # Flask-Login keeps its own reference
        sys.modules[app.login_manager._user_callback.__module__], "load_user")
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="check-ins (Today: half)")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--phases", action="store_true")
    parser.add_argument("--profile", metavar="FILE")
    args = parser.parse_args()

    server = os.environ.get("DIARY_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
    name, url = load.create_database(server)
    env = {**os.environ, "DIARY_DATABASE_URL": url, "DIARY_SECRET_KEY": "request-cpu-bench",
           "DIARY_LOGIN_RATE_LIMIT": "1000 per minute"}
    try:
        logins = load.prepare(env, 1)
        from diary import create_app
        from diary.extensions import db

        app = create_app({})
        client = app.test_client()
        resp = client.post("/api/v1/session", json={"login": logins[0],
                                                    "password": load.PASSWORD})
        csrf = resp.get_json()["csrf_token"]
        rng = random.Random(1)

        def checkin():
            resp = client.post("/api/v1/checkins", json=load.checkin_body(rng),
                               headers={"X-CSRFToken": csrf})
            assert resp.status_code == 201, resp.get_data(as_text=True)

        def today():
            assert client.get("/today").status_code == 200

        spent = timed_phases(app) if args.phases else {}
        for _ in range(args.warmup):
            checkin()
            today()
        spent.clear()
        profile = None
        if args.profile:
            import cProfile
            profile = cProfile.Profile()
            profile.enable()
        print(f"one patient, PostgreSQL, Flask test client; {args.requests} check-ins, "
              f"{args.requests // 2} Today pages after {args.warmup} of each")
        for kind, call, count in (("checkin", checkin, args.requests),
                                  ("today", today, args.requests // 2)):
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(count):
                call()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            print(f"{kind:8s} cpu_ms={1000 * cpu / count:6.3f} wall_ms={1000 * wall / count:6.3f}")
        if profile is not None:
            profile.disable()
            profile.dump_stats(args.profile)
        for step, (seconds, calls) in sorted(spent.items()):
            print(f"  {step:16s} cpu_us={1e6 * seconds / calls:7.1f} calls={calls}")
        with app.app_context():
            db.engine.dispose()
    finally:
        load.drop_database(server, name)


if __name__ == "__main__":
    main()
