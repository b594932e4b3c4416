"""Patients at 50 concurrent users against gunicorn and PostgreSQL, on this machine.

    .venv/bin/python bench/load.py [--users 50] [--rate 220] [--seconds 30]
                                   [--capacity-seconds 10] [--bare-seconds 10]
                                   [--workers 2] [--worker-class sync] [--threads 1]
                                   [--checkins-per-today 4]

Needs wrk (Debian: apt-get install wrk). What it does, all on 127.0.0.1:
1. creates a PostgreSQL database (dropped at the end) on DIARY_BENCH_PG
   (default postgresql+psycopg://postgres@127.0.0.1:5432), brings it to the
   latest migration with `flask --app app diary init`, and enrols one site and
   one patient per virtual user (in a cure, so the Today page has a dose);
2. serves the app with gunicorn and deploy/gunicorn.conf.py (its sync workers, as
   behind nginx; --workers, --worker-class gthread --threads N to compare), once every
   worker has booted; wrk talks to gunicorn directly, and a sync worker answers one
   request a connection, so wrk connects again for each, as nginx does; the login rate limit is
   raised (DIARY_LOGIN_RATE_LIMIT), since every virtual user logs in from 127.0.0.1;
3. logs the 50 patients in at once (POST /api/v1/session: the login figures), then
   plays them with wrk and bench/patients.lua: one wrk process posts check-ins
   (POST /api/v1/checkins, the patient's session cookie and CSRF token, a new
   client_id each, one in twenty with a fever: an alert and its e-mail in the
   outbox) and another asks for Today pages (GET /today), on 40 and 10 of the 50
   connections, the patients taken in turn. Twice:
   - capacity: each connection sends its next request as soon as the last is
     answered (no think time): the throughput the server reaches; with every
     connection always waiting, the latency is just connections / throughput;
   - paced (the figures of the last line): --rate check-ins per second and a Today
     page for every --checkins-per-today of them, each request due at its slot of a
     steady schedule. The latency is wrk's, from sending to the end of the answer; a
     request sent more than 5 ms after its slot (every connection still waiting)
     is counted as late, with the worst delay. The issue's targets (p95 under 100 ms
     at 200 check-ins/s or more, with 50 users) can only hold together with think
     time: without it, 50 waiting users and a 100 ms p95 would take 500+ requests/s;
4. in the same run, serves a bare Flask app answering a constant string with
   the same gunicorn settings and the same generator (GET / on 50 connections,
   no think time).

Prints, for each run, where the CPU went (ms per request of gunicorn, PostgreSQL
and wrk, read from /proc), then count, throughput, p50/p95/max latency per request
type, and last:
    load checkin_rps=<x> checkin_p95_ms=<y> today_p95_ms=<z> bare_rps=<b> ratio=<x/b>
wrk shares the machine's 2 cores with gunicorn and PostgreSQL (0.1 ms of CPU a request
on kept-alive connections, 0.2 ms when it connects again for each, with sync workers;
the aiohttp generator it replaced took 0.7): the figures are for all three on one small
machine, not for the server alone.
"""
import argparse
import os
import random
import re
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
    plain = re.sub(r"^postgresql\+\w+://", "postgresql://", server_url)
    with psycopg.connect(plain + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"{server_url}/{name}"


def drop_database(server_url: str, name: str) -> None:
    import psycopg
    plain = re.sub(r"^postgresql\+\w+://", "postgresql://", server_url)
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
             log_path: str, connections: int = 1000, worker_class: str = "sync"
             ) -> subprocess.Popen:
    env = {**env, "DIARY_BIND": f"127.0.0.1:{port}", "DIARY_WEB_WORKERS": str(workers),
           "DIARY_WEB_WORKER_CLASS": worker_class,
           "DIARY_WEB_THREADS": str(threads), "DIARY_WEB_WORKER_CONNECTIONS": str(connections),
           "DIARY_ACCESS_LOG": ""}
    out = open(log_path, "ab")
    proc = subprocess.Popen([os.path.join(BIN, "gunicorn"), "-c",
                             os.path.join(PROJECT, "deploy", "gunicorn.conf.py"),
                             "--chdir", chdir, app_spec],
                            cwd=chdir, env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    # Ready when every worker has booted: the port opens before the workers exist, and a
    # connection accepted early would stay with the first worker for the whole run.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited; see {log_path}")
        with open(log_path, "rb") as fh:
            booted = fh.read().count(b"Booting worker with pid")
        if booted >= workers:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    time.sleep(0.5)
                    return proc
            except OSError:
                pass
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


# --- where the CPU goes ------------------------------------------------------------------

def cpu_times() -> dict:
    """CPU seconds used so far by gunicorn, PostgreSQL and the generator (this process
    and the wrk processes it ran and reaped), and by the whole machine (busy, all),
    read from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = defaultdict(float)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ")
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        # utime + stime, and cutime + cstime: the CPU of children that exited and were
        # reaped (gunicorn replaces a worker after max_requests; PostgreSQL's backends)
        used = sum(int(v) for v in fields[11:15]) / tick
        if b"gunicorn" in cmd:
            out["gunicorn"] += used
        elif cmd.startswith(b"postgres") or b"bin/postgres" in cmd:
            out["postgres"] += used
        elif int(entry) == os.getpid():
            out["generator"] += used
    with open("/proc/stat") as fh:
        cpu = [int(v) for v in fh.readline().split()[1:]]
    out["all"] = sum(cpu) / tick
    out["busy"] = (sum(cpu) - cpu[3] - cpu[4]) / tick  # minus idle and iowait
    return out


def cpu_report(before: dict, after: dict, requests: int) -> str:
    wall = after["all"] - before["all"]  # CPU seconds the machine had (all cores)
    share = {k: (after[k] - before[k]) for k in ("gunicorn", "postgres", "generator", "busy")}
    per = "  ".join(f"{k}={share[k] / max(requests, 1) * 1000:.2f}"
                    for k in ("gunicorn", "postgres", "generator"))
    return (f"cpu: machine busy {share['busy'] / wall * 100:.0f}% of {os.cpu_count()} cores; "
            f"ms of CPU per request: {per}")


def checkin_body(rng: random.Random) -> dict:
    """A check-in as bench/patients.lua sends it (bench/request_cpu.py posts these)."""
    body = {"client_id": str(uuid.uuid4()), "temperature_c": round(rng.uniform(36.2, 37.4), 1),
            "symptoms": {"asthenia": rng.randint(0, 2), "arthralgia": rng.randint(0, 1)},
            "injection_site": {"diameter_cm": 1.0, "ulceration": False}, "note": ""}
    if rng.random() < 0.05:
        body["temperature_c"] = 38.6  # a fever: an alert, and its e-mail in the outbox
    return body


# --- the load generator: wrk ------------------------------------------------------------

def login_all(base: str, logins: list[str], users_file: str) -> dict:
    """Log every patient in at once (POST /api/v1/session, 50 threads): their session
    cookies and CSRF tokens go to `users_file` for wrk; returns the logins' figures."""
    import http.client
    import json
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import urlsplit

    address = urlsplit(base)

    def one(login):
        conn = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        start = time.perf_counter()
        try:
            conn.request("POST", "/api/v1/session",
                         json.dumps({"login": login, "password": PASSWORD}),
                         {"Content-Type": "application/json"})
            resp = conn.getresponse()
            body = resp.read()
            seconds = time.perf_counter() - start
            if resp.status != 200:
                return seconds, None
            cookie = resp.getheader("Set-Cookie").split(";", 1)[0]
            return seconds, (cookie, json.loads(body)["csrf_token"])
        finally:
            conn.close()

    with ThreadPoolExecutor(len(logins)) as pool:
        results = list(pool.map(one, logins))
    sessions = [r[1] for r in results if r[1] is not None]
    with open(users_file, "w") as fh:
        fh.writelines(f"{cookie}\t{csrf}\n" for cookie, csrf in sessions)
    times = sorted(r[0] * 1000 for r in results if r[1] is not None)
    if not sessions:
        raise SystemExit("no patient could log in")
    q = statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 \
        else [times[0]] * 99
    return {"requests": len(times), "seconds": None, "p50_ms": q[49], "p95_ms": q[94],
            "max_ms": times[-1], "unexpected_status": len(results) - len(sessions)}


def wrk(base: str, kind: str, connections: int, seconds: float, rate: float,
        users_file: str, report: str, seed: int) -> subprocess.Popen:
    """Start one wrk process (one thread) playing `kind` requests with bench/patients.lua."""
    return subprocess.Popen(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
         "-s", os.path.join(PROJECT, "bench", "patients.lua"), base, "--", kind, users_file,
         f"{rate:.3f}", str(seed), report],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def play(base: str, mix: list[tuple[str, int, float]], seconds: float, warmup: float,
         users_file: str, tmp: str) -> tuple[dict, str]:
    """Run one wrk process per request type in `mix` ((kind, connections, rate)), all at
    once: first `warmup` seconds not counted, then `seconds` measured. Returns each kind's
    figures and where the CPU went during the measured part."""
    import json

    def run_all(duration, counted):
        # a new seed for every wrk process: the check-ins' client_ids never repeat (a
        # repeated one is a replay, answered 200 with what was stored)
        procs = {kind: wrk(base, kind, conns, duration, rate, users_file,
                           os.path.join(tmp, f"{kind}.json"), random.randrange(2**31))
                 for kind, conns, rate in mix}
        for kind, proc in procs.items():
            _out, err = proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(f"wrk ({kind}) failed: {err.decode(errors='replace')}")
        if not counted:
            return None
        figures = {}
        for kind in procs:
            with open(os.path.join(tmp, f"{kind}.json")) as fh:
                figures[kind] = json.load(fh)
        return figures

    if warmup > 0:
        run_all(warmup, False)
    before = cpu_times()
    figures = run_all(seconds, True)
    requests = sum(f["requests"] for f in figures.values())
    return figures, cpu_report(before, cpu_times(), requests)


def report(figures: dict, cpu: str = "") -> None:
    if cpu:
        print(cpu, flush=True)
    for kind, f in sorted(figures.items()):
        ok = f["requests"] - f["unexpected_status"]
        rps = f"{ok / f['seconds']:8.1f}" if f.get("seconds") else "       -"
        errors = {k: f[k] for k in ("unexpected_status", "connect_errors", "read_errors",
                                    "write_errors", "timeouts") if f.get(k)}
        late = f" late={f['late']} (worst {f['worst_late_ms']:.0f} ms)" if "late" in f else ""
        f["rps"] = ok / f["seconds"] if f.get("seconds") else 0.0
        print(f"{kind:8} n={ok:6d} rps={rps} p50_ms={f['p50_ms']:7.1f} "
              f"p95_ms={f['p95_ms']:7.1f} max_ms={f['max_ms']:7.1f} errors={errors or 0}{late}",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50,
                        help="patients logged in, and connections (all wrk processes)")
    parser.add_argument("--seconds", type=float, default=30,
                        help="the paced run (the figures of the last line)")
    parser.add_argument("--capacity-seconds", type=float, default=10,
                        help="the run without think time (the server's capacity); 0: none")
    parser.add_argument("--rate", type=float, default=220,
                        help="check-ins per second the users send, all together, in the "
                             "paced run (plus a Today page every --checkins-per-today)")
    parser.add_argument("--bare-seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    # 2 workers on this 2-core machine: measured against 3 and 4 in turns (sync, paced),
    # they used less CPU per request (4.8-5.2 ms against 5.7-6.0 in gunicorn: fewer
    # processes taking turns on the cores) and kept p95 lower; gthread 2 x 1 likewise
    # beat 4 x 1 (315-376 check-ins/s at capacity against 253-296)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync", choices=("sync", "gthread"))
    parser.add_argument("--threads", type=int, default=1, help="gthread only")
    parser.add_argument("--checkins-per-today", type=int, default=4)
    parser.add_argument("--worker-connections", type=int, default=None,
                        help="gthread: connections a worker may hold (default: users / "
                             "workers + 2, so that the keep-alive connections spread over "
                             "every worker)")
    parser.add_argument("--keep", action="store_true", help="keep the database and logs")
    args = parser.parse_args()
    if args.worker_connections is None:
        args.worker_connections = -(-args.users // args.workers) + 2
    if not shutil.which("wrk"):
        raise SystemExit("bench/load.py needs wrk (Debian: apt-get install wrk)")

    server = os.environ.get("DIARY_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
    tmp = tempfile.mkdtemp(prefix="diary-load-")
    name, url = create_database(server)
    env = {**os.environ, "DIARY_DATABASE_URL": url,
           "DIARY_INSTANCE_PATH": os.path.join(tmp, "instance"),
           "DIARY_SECRET_KEY": "load-bench", "DIARY_LOGIN_RATE_LIMIT": "100000 per minute"}
    env.pop("DIARY_SMTP_HOST", None)  # no mail server: nothing leaves; the outbox fills
    # The users' connections, split between the two request types as their rates are
    today_conns = max(1, round(args.users / (args.checkins_per_today + 1)))
    checkin_conns = args.users - today_conns
    procs = []
    try:
        log(f"database {name}: migrating and enrolling {args.users} patients")
        logins = prepare(env, args.users)
        port = free_port()
        procs.append(gunicorn("app:app", env, port, args.workers, args.threads, PROJECT,
                              os.path.join(tmp, "gunicorn.log"), args.worker_connections,
                              args.worker_class))
        layout = (f"{args.workers} sync workers" if args.worker_class == "sync" else
                  f"{args.workers}x{args.threads} gthread (at most {args.worker_connections} "
                  f"connections a worker)")
        log(f"gunicorn: {layout}, "
            f"{args.users} users")
        base = f"http://127.0.0.1:{port}"
        users_file = os.path.join(tmp, "users.tsv")
        login_figures = login_all(base, logins, users_file)
        print(f"{args.users} patients log in at once (POST /api/v1/session; Argon2id)")
        report({"login": login_figures})

        if args.capacity_seconds > 0:
            figures, cpu = play(base, [("checkin", checkin_conns, 0), ("today", today_conns, 0)],
                                args.capacity_seconds, args.warmup, users_file, tmp)
            print(f"capacity: {checkin_conns} connections posting check-ins and {today_conns} "
                  f"asking for Today, without think time, {args.capacity_seconds:.0f} s; "
                  f"gunicorn {layout}, PostgreSQL, wrk: all on this machine's "
                  f"{os.cpu_count()} cores")
            report(figures, cpu)
        # Paced: the check-ins and Today pages are due on a steady schedule, so that all
        # together the users send --rate check-ins per second and a Today page for every
        # --checkins-per-today of them.
        today_rate = args.rate / args.checkins_per_today
        figures, cpu = play(base, [("checkin", checkin_conns, args.rate),
                                   ("today", today_conns, today_rate)],
                            args.seconds, args.warmup, users_file, tmp)
        stop(procs.pop())
        print(f"paced: {args.rate:.0f} check-ins/s on {checkin_conns} connections and "
              f"{today_rate:.0f} Today pages/s on {today_conns}, {args.seconds:.0f} s")
        report(figures, cpu)

        bare_dir = os.path.join(tmp, "bare")
        os.makedirs(bare_dir)
        with open(os.path.join(bare_dir, "bare_app.py"), "w") as fh:
            fh.write(BARE_APP)
        port = free_port()
        procs.append(gunicorn("bare_app:app", env, port, args.workers, args.threads, bare_dir,
                              os.path.join(tmp, "bare.log"), args.worker_connections,
                              args.worker_class))
        bare_figures, cpu = play(f"http://127.0.0.1:{port}", [("bare", args.users, 0)],
                                 args.bare_seconds, 1, users_file, tmp)
        stop(procs.pop())
        print(f"bare Flask app, same gunicorn settings, {args.users} connections without think "
              f"time, {args.bare_seconds:.0f} s")
        report(bare_figures, cpu)
        bare_rps = bare_figures["bare"]["rps"]
    finally:
        for proc in procs:
            stop(proc)
        if args.keep:
            log(f"kept database {name} and {tmp}")
        else:
            drop_database(server, name)
            shutil.rmtree(tmp, ignore_errors=True)
    checkin, today = figures["checkin"], figures["today"]
    print(f"load checkin_rps={checkin['rps']:.1f} checkin_p95_ms={checkin['p95_ms']:.1f} "
          f"today_p95_ms={today['p95_ms']:.1f} bare_rps={bare_rps:.1f} "
          f"ratio={checkin['rps'] / bare_rps:.3f}")


if __name__ == "__main__":
    main()
