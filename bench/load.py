"""Patients at 50 concurrent users against gunicorn and PostgreSQL, on this machine.

    .venv/bin/python bench/load.py [--users 50] [--seconds 30] [--bare-seconds 10]
                                   [--workers 4] [--threads 4] [--checkins-per-today 4]

What it does, all on 127.0.0.1:
1. creates a PostgreSQL database (dropped at the end) on DIARY_BENCH_PG
   (default postgresql+psycopg://postgres@127.0.0.1:5432), brings it to the
   latest migration with `flask --app app diary init`, and enrols one site and
   one patient per virtual user (in a cure, so the Today page has a dose);
2. serves the app with gunicorn and deploy/gunicorn.conf.py (gthread workers;
   --workers/--threads, chosen for 2 cores); the login rate limit is raised
   (DIARY_LOGIN_RATE_LIMIT), since every virtual user logs in from 127.0.0.1;
3. plays the patients with an asyncio load generator (aiohttp), each virtual
   user with its own cookies: POST /api/v1/session (login, keeps the CSRF
   token), GET /today, then check-ins POST /api/v1/checkins with the token in
   X-CSRFToken, a new client_id each, one in twenty with a fever (an alert and
   its e-mail in the outbox); the Today page again every --checkins-per-today
   check-ins. Each user sends its next request as soon as the last is
   answered (no think time): the users are the concurrency;
4. in the same run, serves a bare Flask app answering a constant string with
   the same gunicorn settings and the same generator (GET / in a loop).

Prints count, throughput, p50/p95/max latency per request type, and last:
    load checkin_rps=<x> checkin_p95_ms=<y> today_p95_ms=<z> bare_rps=<b> ratio=<x/b>
The generator shares the machine's 2 cores with gunicorn and PostgreSQL: the
figures are for all three on one small machine, not for the server alone.
"""
import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import timedelta

import aiohttp

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT)
BIN = os.path.dirname(sys.executable)
PASSWORD = "load bench password 2026"
BARE_APP = '''from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "ok"
'''


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the database --------------------------------------------------------------------

def create_database(server_url: str) -> tuple[str, str]:
    import psycopg
    name = f"diary_load_{os.getpid()}"
    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"{server_url}/{name}"


def drop_database(server_url: str, name: str) -> None:
    import psycopg
    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(env: dict, users: int) -> list[str]:
    """Migrate with `diary init`, then enrol a site and one patient per user."""
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "diary", "init"], cwd=PROJECT,
                   env=env, check=True, capture_output=True)
    os.environ.update(env)
    from diary import clock, create_app
    from diary.accounts import services
    from diary.extensions import db

    app = create_app({"ARGON2_TIME_COST": 2})
    now = clock.now_utc()
    logins = []
    with app.app_context():
        site = services.create_site(name="Load Site", timezone="Europe/Paris",
                                    phone="+33 1 42 16 00 00",
                                    alert_emails=["alerts@load.example.org"],
                                    escalation_emails=[], actor=None, now=now)
        start = (now - timedelta(days=2)).date()  # cure 1, day 3: a home dose today
        for i in range(users):
            code = f"L-{i:04d}"
            services.create_patient(study_code=code, site=site, cure1_start=start,
                                    password=PASSWORD, timezone=None, contact_email=None,
                                    actor=None, now=now)
            logins.append(code)
        db.session.commit()
        db.engine.dispose()
    return logins


# --- gunicorn --------------------------------------------------------------------------

def gunicorn(app_spec: str, env: dict, port: int, workers: int, threads: int, chdir: str,
             log_path: str) -> subprocess.Popen:
    env = {**env, "DIARY_BIND": f"127.0.0.1:{port}", "DIARY_WEB_WORKERS": str(workers),
           "DIARY_WEB_THREADS": str(threads), "DIARY_ACCESS_LOG": ""}
    out = open(log_path, "ab")
    proc = subprocess.Popen([os.path.join(BIN, "gunicorn"), "-c",
                             os.path.join(PROJECT, "deploy", "gunicorn.conf.py"),
                             "--chdir", chdir, app_spec],
                            cwd=chdir, env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited; see {log_path}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise SystemExit(f"gunicorn did not start; see {log_path}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- the load generator ------------------------------------------------------------------

class Stats:
    def __init__(self):
        self.times = defaultdict(list)  # kind -> seconds, answered as expected
        self.errors = defaultdict(lambda: defaultdict(int))  # kind -> status -> count

    def add(self, kind: str, seconds: float, ok: bool, status) -> None:
        if ok:
            self.times[kind].append(seconds)
        else:
            self.errors[kind][status] += 1


async def timed(stats: Stats, kind: str, expect: tuple, call):
    start = time.perf_counter()
    try:
        async with call() as resp:
            body = await resp.read()
            status = resp.status
    except (TimeoutError, aiohttp.ClientError) as exc:
        stats.add(kind, 0, False, type(exc).__name__)
        return None, None
    stats.add(kind, time.perf_counter() - start, status in expect, status)
    return status, body


def checkin_body(rng: random.Random) -> dict:
    body = {"client_id": str(uuid.uuid4()), "temperature_c": round(rng.uniform(36.2, 37.4), 1),
            "symptoms": {"asthenia": rng.randint(0, 2), "arthralgia": rng.randint(0, 1)},
            "injection_site": {"diameter_cm": 1.0, "ulceration": False}, "note": ""}
    if rng.random() < 0.05:
        body["temperature_c"] = 38.6  # a fever: an alert, and its e-mail in the outbox
    return body


async def patient(base: str, login: str, stats: Stats, stop_at, per_today: int,
                  seed: int, logged_in: asyncio.Barrier):
    """One virtual patient; the check-ins start once every user has logged in, so that
    the logins (Argon2id, deliberately slow) are measured apart."""
    import json
    rng = random.Random(seed)
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with aiohttp.ClientSession(base, cookie_jar=jar,
                                     timeout=aiohttp.ClientTimeout(total=60)) as http:
        status, body = await timed(stats, "login", (200,), lambda: http.post(
            "/api/v1/session", json={"login": login, "password": PASSWORD}))
        await logged_in.wait()
        if status != 200:
            return
        csrf = json.loads(body)["csrf_token"]
        n = 0
        while time.monotonic() < stop_at():
            if n % per_today == 0:
                await timed(stats, "today", (200,), lambda: http.get("/today"))
            await timed(stats, "checkin", (201,), lambda: http.post(
                "/api/v1/checkins", json=checkin_body(rng), headers={"X-CSRFToken": csrf}))
            n += 1


async def bare(base: str, stats: Stats, stop_at, logged_in: asyncio.Barrier):
    await logged_in.wait()
    async with aiohttp.ClientSession(base) as http:
        while time.monotonic() < stop_at():
            await timed(stats, "bare", (200,), lambda: http.get("/"))


async def run_users(make, users: int, seconds: float, warmup: float):
    """Run `users` coroutines: they log in, then (all together) load for `warmup` +
    `seconds`. Returns the logins' statistics, and those of the measured window."""
    logins, measured, warm = Stats(), Stats(), Stats()
    state = {"stats": logins, "stop_at": float("inf")}
    logged_in = asyncio.Barrier(users + 1)

    class Switch:  # every request lands in the logins, warm-up or measured statistics
        def add(self, *args):
            state["stats"].add(*args)

    async def clock():
        await logged_in.wait()
        state["stats"] = warm
        state["stop_at"] = time.monotonic() + warmup + seconds
        await asyncio.sleep(warmup)
        state["stats"] = measured
        state["t"] = time.monotonic()

    stop_at = lambda: state["stop_at"]  # noqa: E731
    await asyncio.gather(clock(), *(make(i, Switch(), stop_at, logged_in)
                                    for i in range(users)))
    measured.times.update(logins.times)
    measured.errors.update(logins.errors)
    return measured, time.monotonic() - state["t"]


def report(stats: Stats, elapsed: float) -> dict:
    out = {}
    for kind in sorted(set(stats.times) | set(stats.errors)):
        times = sorted(stats.times.get(kind, []))
        errors = dict(stats.errors.get(kind, {}))
        if times:
            q = statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 \
                else [times[0]] * 99
            p50, p95, top = q[49] * 1000, q[94] * 1000, times[-1] * 1000
        else:
            p50 = p95 = top = float("nan")
        rps = len(times) / elapsed
        out[kind] = {"rps": rps, "p50": p50, "p95": p95}
        print(f"{kind:8} n={len(times):6d} rps={rps:8.1f} p50_ms={p50:7.1f} "
              f"p95_ms={p95:7.1f} max_ms={top:7.1f} errors={errors or 0}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--bare-seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--checkins-per-today", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the database and logs")
    args = parser.parse_args()

    server = os.environ.get("DIARY_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
    tmp = tempfile.mkdtemp(prefix="diary-load-")
    name, url = create_database(server)
    env = {**os.environ, "DIARY_DATABASE_URL": url,
           "DIARY_INSTANCE_PATH": os.path.join(tmp, "instance"),
           "DIARY_SECRET_KEY": "load-bench", "DIARY_LOGIN_RATE_LIMIT": "100000 per minute"}
    env.pop("DIARY_SMTP_HOST", None)  # no mail server: nothing leaves; the outbox fills
    procs = []
    try:
        log(f"database {name}: migrating and enrolling {args.users} patients")
        logins = prepare(env, args.users)
        port = free_port()
        procs.append(gunicorn("app:app", env, port, args.workers, args.threads, PROJECT,
                              os.path.join(tmp, "gunicorn.log")))
        log(f"gunicorn: {args.workers} gthread workers x {args.threads} threads; "
            f"{args.users} users for {args.seconds:.0f} s after {args.warmup:.0f} s warm-up")
        base = f"http://127.0.0.1:{port}"
        stats, elapsed = asyncio.run(run_users(
            lambda i, s, stop_at, barrier: patient(base, logins[i], s, stop_at,
                                                   args.checkins_per_today, i, barrier),
            args.users, args.seconds, args.warmup))
        stop(procs.pop())
        print(f"app: {args.users} users, {elapsed:.1f} s measured, gunicorn {args.workers}x"
              f"{args.threads} gthread, PostgreSQL; generator on the same 2 cores")
        figures = report(stats, elapsed)

        bare_dir = os.path.join(tmp, "bare")
        os.makedirs(bare_dir)
        with open(os.path.join(bare_dir, "bare_app.py"), "w") as fh:
            fh.write(BARE_APP)
        port = free_port()
        procs.append(gunicorn("bare_app:app", env, port, args.workers, args.threads, bare_dir,
                              os.path.join(tmp, "bare.log")))
        base = f"http://127.0.0.1:{port}"
        bare_stats, bare_elapsed = asyncio.run(run_users(
            lambda i, s, stop_at, barrier: bare(base, s, stop_at, barrier), args.users,
            args.bare_seconds, 1))
        stop(procs.pop())
        print(f"bare Flask app, same gunicorn settings, {args.users} users, "
              f"{bare_elapsed:.1f} s measured")
        bare_rps = report(bare_stats, bare_elapsed)["bare"]["rps"]
    finally:
        for proc in procs:
            stop(proc)
        if args.keep:
            log(f"kept database {name} and {tmp}")
        else:
            drop_database(server, name)
            shutil.rmtree(tmp, ignore_errors=True)
    checkin = figures.get("checkin", {"rps": 0.0, "p95": float("nan")})
    today = figures.get("today", {"p95": float("nan")})
    print(f"load checkin_rps={checkin['rps']:.1f} checkin_p95_ms={checkin['p95']:.1f} "
          f"today_p95_ms={today['p95']:.1f} bare_rps={bare_rps:.1f} "
          f"ratio={checkin['rps'] / bare_rps:.3f}")


if __name__ == "__main__":
    main()
