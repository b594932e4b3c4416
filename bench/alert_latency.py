"""Alert latency: from the API's answer to an urgent check-in to the e-mail's arrival.

    python bench/alert_latency.py [--n 20] [--gap 0.4]

Starts a local SMTP server (aiosmtpd), the scheduler process
(`flask --app app diary scheduler`) and the web app (`flask run`) on
127.0.0.1, against a fresh SQLite database in a temporary folder (or
DIARY_BENCH_DATABASE_URL, which it empties and migrates). It enrols one
patient per check-in (a second urgent check-in of the same patient and day
joins the open alert and sends nothing), posts urgent check-ins through the
API (/api/v1/session, then /api/v1/checkins with the warning sign
"fainting"), and times each e-mail's arrival. The last line is
`alert_latency n=<N> p50_s=<x> p95_s=<y>`; the target is p95 under 5 s.
"""
import argparse
import email
import email.policy
import http.cookiejar
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

try:
    import aiosmtpd  # noqa: F401
    import flask  # noqa: F401
except ImportError:  # run with a bare `python`: use the project's virtualenv if there is one
    VENV_PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
    if os.path.exists(VENV_PYTHON) and os.path.realpath(sys.prefix) != os.path.realpath(
            os.path.join(ROOT, ".venv")):
        os.execv(VENV_PYTHON, [VENV_PYTHON, *sys.argv])
    raise

PASSWORD = "bench-password-2026"
SITE = "Bench site"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler: the arrival time of each message, by patient study code."""

    def __init__(self):
        self.arrivals: dict[str, float] = {}
        self.count = 0
        self.cond = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        at = time.monotonic()
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        code = str(msg["Subject"]).rsplit(" ", 1)[-1]
        with self.cond:
            self.arrivals.setdefault(code, at)
            self.count += 1
            self.cond.notify_all()
        return "250 OK"

    def wait(self, code: str, timeout: float) -> float | None:
        with self.cond:
            self.cond.wait_for(lambda: code in self.arrivals, timeout)
            return self.arrivals.get(code)


def prepare_database(url: str, n: int) -> list[str]:
    """Migrate, then one site with one alert address and `n` patients; their study codes."""
    from diary import clock, create_app
    from diary.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "ARGON2_TIME_COST": 1,
                      "ARGON2_MEMORY_COST": 1024})
    with app.app_context():
        if url.startswith("postgresql"):
            db.drop_all()
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        from diary.cli import upgrade_database
        upgrade_database()
        from diary.accounts import services
        now = clock.now_utc()
        site = services.create_site(name=SITE, timezone="Europe/Paris", phone="+33 1 00 00 00 00",
                                    alert_emails=["team@bench.example.org"],
                                    escalation_emails=[], actor=None, now=now)
        today = clock.local_date(now, site.timezone)
        codes = []
        for i in range(n):
            code = f"B-{i + 1:04d}"
            services.create_patient(study_code=code, site=site,
                                    cure1_start=today - timedelta(days=15), password=PASSWORD,
                                    actor=None, now=now)
            codes.append(code)
        db.session.commit()
        db.engine.dispose()
    return codes


class Client:
    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf = None

    def call(self, method: str, path: str, body=None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        if self.csrf:
            req.add_header("X-CSRFToken", self.csrf)
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # the app's own http://127.0.0.1 address
            with urllib.request.urlopen(url, timeout=2):  # nosec B310
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    raise SystemExit(f"error: {url} did not answer within {timeout} s")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="urgent check-ins to post")
    parser.add_argument("--gap", type=float, default=0.4, help="seconds between check-ins")
    parser.add_argument("--timeout", type=float, default=30, help="seconds to wait per e-mail")
    args = parser.parse_args()

    from aiosmtpd.controller import Controller

    tmp = tempfile.mkdtemp(prefix="diary-bench-")
    url = os.environ.get("DIARY_BENCH_DATABASE_URL") or f"sqlite:///{tmp}/bench.db"
    smtp_port, web_port = free_port(), free_port()
    env = {**os.environ, "DIARY_DATABASE_URL": url, "DIARY_INSTANCE_PATH": tmp,
           "DIARY_SECRET_KEY": "bench-secret", "DIARY_SMTP_HOST": "127.0.0.1",
           "DIARY_SMTP_PORT": str(smtp_port), "DIARY_SMTP_TLS": "none",
           "DIARY_BASE_URL": f"http://127.0.0.1:{web_port}",
           "DIARY_LOGIN_RATE_LIMIT": "10000 per minute", "PYTHONUNBUFFERED": "1"}
    os.environ.update(DIARY_INSTANCE_PATH=tmp, DIARY_SECRET_KEY="bench-secret")
    print(f"database: {url}", flush=True)
    codes = prepare_database(url, args.n)

    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    logs = {name: open(os.path.join(tmp, f"{name}.log"), "w") for name in ("scheduler", "web")}
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    procs = [
        subprocess.Popen(flask + ["diary", "scheduler"], cwd=ROOT, env=env,
                         stdout=logs["scheduler"], stderr=subprocess.STDOUT),
        subprocess.Popen(flask + ["run", "--host", "127.0.0.1", "--port", str(web_port),
                                  "--no-reload", "--no-debugger"], cwd=ROOT, env=env,
                         stdout=logs["web"], stderr=subprocess.STDOUT),
    ]
    latencies, missing = [], []
    try:
        base = f"http://127.0.0.1:{web_port}"
        wait_http(base + "/healthz")
        print(f"web app on {base}, SMTP on 127.0.0.1:{smtp_port}; posting {args.n} "
              "urgent check-ins", flush=True)
        sent = []
        for code in codes:
            client = Client(base)
            status, body = client.call("POST", "/api/v1/session",
                                       {"login": code, "password": PASSWORD})
            if status != 200:
                raise SystemExit(f"error: login {code}: {status} {body}")
            client.csrf = body["csrf_token"]
            now = datetime.now(UTC).astimezone()
            status, body = client.call("POST", "/api/v1/checkins", {
                "client_id": str(uuid.uuid4()), "diary_date": _paris_today().isoformat(),
                "device_recorded_at": now.isoformat(timespec="seconds"),
                "symptoms": {}, "new_or_worse": [], "warning_signs": ["fainting"], "note": ""})
            answered = time.monotonic()
            if status != 201 or body.get("advice") != "call_team_now":
                raise SystemExit(f"error: check-in {code}: {status} {body}")
            sent.append((code, answered))
            time.sleep(args.gap)
        for code, answered in sent:
            arrived = inbox.wait(code, args.timeout)
            if arrived is None:
                missing.append(code)
                continue
            latency = arrived - answered
            latencies.append(latency)
            print(f"{code}: {latency:.3f} s", flush=True)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        smtp.stop()
        for fh in logs.values():
            fh.close()
    if missing:
        print(f"error: no e-mail within {args.timeout} s for {', '.join(missing)} "
              f"(logs in {tmp})", file=sys.stderr)
    if inbox.count > len(codes):
        print(f"error: {inbox.count} e-mails for {len(codes)} alerts (sent twice?)",
              file=sys.stderr)
        missing.append("duplicates")
    if not latencies:
        return 1
    if not missing:
        shutil.rmtree(tmp, ignore_errors=True)
    p50 = statistics.median(latencies)
    p95 = percentile(latencies, 0.95)
    print(f"alert_latency n={len(latencies)} p50_s={p50:.3f} p95_s={p95:.3f}")
    return 1 if missing else 0


def _paris_today() -> date:
    from zoneinfo import ZoneInfo
    return datetime.now(ZoneInfo("Europe/Paris")).date()


if __name__ == "__main__":
    sys.exit(main())
