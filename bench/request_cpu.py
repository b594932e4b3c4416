"""CPU of one request inside the app, without HTTP, a server or other processes.

    .venv/bin/python bench/request_cpu.py [--requests 2000] [--phases] [--profile FILE]
    .venv/bin/python bench/request_cpu.py --instructions --requests 100 --warmup 50

bench/load.py measures the whole machine under load, and its figures move with
everything else running on the two cores (round to round, the same code has
measured 20 % apart, and from one hour to the next this shared host has run the
same code up to twice as slow). This one runs a patient's requests one after another
through Flask's test client, on PostgreSQL (DIARY_BENCH_PG, default
postgresql+psycopg://postgres@127.0.0.1:5432; a database made and dropped for
the run), and counts this process's CPU time only: a steadier figure to compare
two versions of the code with. The test client's own cost is included (it is
about that of gunicorn's HTTP parsing).

Prints the CPU (ms) and wall time per check-in (POST /api/v1/checkins) and per
Today page (GET /today); with --phases, the CPU of the main steps (loading the
user, the check-in service, the rules' history, the audit write, the Today
queries and template); with --profile, a cProfile file of the measured part
(CPU time of this thread).

With --instructions it runs itself again in valgrind's callgrind and prints the
instructions per request of this process (PostgreSQL and the kernel are not
counted): the same figure, to a fraction of a percent, however busy the host is;
a run takes a few minutes (valgrind is about 25 times slower).
"""
import argparse
import collections
import functools
import os
import random
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402 - the database helpers and the check-in body of the load bench

Phases = dict[str, list]
CALLGRIND_ENV = "DIARY_BENCH_IN_CALLGRIND"


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


def callgrind_control(command: str) -> None:
    """Under --instructions (this process runs in valgrind's callgrind): zero the
    counts or write them to a file, and wait until callgrind has done it. The command
    is picked up while this process runs Python code, so it polls rather than blocks."""
    if not os.environ.get(CALLGRIND_ENV):
        return
    import subprocess
    proc = subprocess.Popen(["callgrind_control", command, str(os.getpid())],
                            stdout=subprocess.DEVNULL)
    while proc.poll() is None:
        time.sleep(0.001)


def instructions(argv: list[str], requests: int) -> None:
    """Run this bench again in callgrind and print the instructions per request: the
    same figure whatever else the machine does (CPU time moves with the host)."""
    import glob
    import shutil
    import subprocess
    import tempfile

    if not shutil.which("valgrind"):
        raise SystemExit("--instructions needs valgrind (Debian: apt-get install valgrind)")
    out = tempfile.mkdtemp(prefix="diary-callgrind-")
    try:
        subprocess.run(["valgrind", "--tool=callgrind", "--collect-atstart=yes",
                        f"--callgrind-out-file={out}/cg.%p", sys.executable, __file__, *argv],
                       env={**os.environ, CALLGRIND_ENV: "1"}, check=True,
                       stderr=subprocess.DEVNULL)
        counts = {}
        for path in glob.glob(f"{out}/cg.*"):
            with open(path) as fh:
                text = fh.read()
            trigger = re.search(r"^desc: Trigger: dump (checkin|today)$", text, re.M)
            total = re.search(r"^summary: (\d+)$", text, re.M)
            if trigger and total:
                counts[trigger.group(1)] = int(total.group(1))
        for kind, count in (("checkin", requests), ("today", requests // 2)):
            if kind in counts:
                print(f"{kind:8s} instructions_per_request={counts[kind] / count / 1e6:7.3f}M")
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="check-ins (Today: half)")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--phases", action="store_true")
    parser.add_argument("--profile", metavar="FILE")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions in valgrind (slow: use --requests 100)")
    args = parser.parse_args()
    if args.instructions and not os.environ.get(CALLGRIND_ENV):
        return instructions([a for a in sys.argv[1:] if a != "--instructions"], args.requests)

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
            profile = cProfile.Profile(time.thread_time)
            profile.enable()
        print(f"one patient, PostgreSQL, Flask test client; {args.requests} check-ins, "
              f"{args.requests // 2} Today pages after {args.warmup} of each")
        for kind, call, count in (("checkin", checkin, args.requests),
                                  ("today", today, args.requests // 2)):
            callgrind_control("--zero")
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(count):
                call()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            callgrind_control(f"--dump={kind}")
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
