"""Real processes for the fault tests: gunicorn (deploy/gunicorn.conf.py) and the
scheduler command, on the test database, 127.0.0.1 only; and patients that post
check-ins to them over HTTP, as a phone would.

Each process runs in its own session (process group), so that a test can kill
the whole web server, master and workers, with SIGKILL, as a crash would.
"""
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import requests

from tests.conftest import PASSWORD, TEST_DATABASE_URL
from tests.helpers_notifications import free_port

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.dirname(sys.executable)


def process_env(instance, smtp_port=None, **extra) -> dict:
    env = {**os.environ, "DIARY_DATABASE_URL": TEST_DATABASE_URL,
           "DIARY_INSTANCE_PATH": str(instance), "DIARY_SECRET_KEY": "fault-tests",
           "DIARY_LOGIN_RATE_LIMIT": "10000 per minute", "DIARY_ACCESS_LOG": ""}
    if smtp_port:
        env.update(DIARY_SMTP_HOST="127.0.0.1", DIARY_SMTP_PORT=str(smtp_port),
                   DIARY_SMTP_TLS="none")
    env.update(extra)
    return env


class Process:
    """A child process in its own process group, its output in a log file."""

    def __init__(self, args, env, log_path):
        self.args, self.env, self.log_path = args, env, log_path
        self.proc = None

    def start(self):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, cwd=PROJECT, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def kill(self):
        """SIGKILL to the whole group: no handler runs, nothing is flushed or released."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._close()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._close()

    def _close(self):
        log = getattr(self, "_log", None)
        if log is not None and not log.closed:
            log.close()

    def output(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except FileNotFoundError:
            return ""


class Web(Process):
    """gunicorn with the production settings (2 workers; sync unless worker_class says)."""

    def __init__(self, env, log_path, port=None, workers=2, threads=4, worker_class=None):
        self.port = port or free_port()
        env = {**env, "DIARY_BIND": f"127.0.0.1:{self.port}", "DIARY_WEB_WORKERS": str(workers),
               "DIARY_WEB_THREADS": str(threads)}
        if worker_class:
            env["DIARY_WEB_WORKER_CLASS"] = worker_class
        super().__init__([os.path.join(VENV_BIN, "gunicorn"), "-c", "deploy/gunicorn.conf.py",
                          "app:app"], env, log_path)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=30):
        super().start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gunicorn exited:\n" + self.output()[-3000:])
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer:\n" + self.output()[-3000:])


def scheduler(env, log_path) -> Process:
    return Process([sys.executable, "-m", "flask", "--app", "app", "diary", "scheduler"],
                   env, log_path)


class Phone:
    """One patient's phone: logs in through the API, then posts check-ins.

    `acknowledged` holds the client_ids the server answered 201 or 200 for;
    `unanswered` those whose request failed (connection refused or reset,
    a 5xx): like the offline queue, the phone sends them again later with the
    same client_id.
    """

    def __init__(self, base_url, login, warning_every=0):
        self.base_url, self.login = base_url, login
        self.warning_every = warning_every
        self.http = requests.Session()
        self.csrf = None
        self.acknowledged: dict[str, int] = {}  # client_id -> status
        self.unanswered: list[str] = []
        self.sent = 0
        self.statuses: list[int] = []

    def _login(self):
        resp = self.http.post(self.base_url + "/api/v1/session",
                              json={"login": self.login, "password": PASSWORD}, timeout=10)
        if resp.status_code != 200:
            raise requests.ConnectionError(f"login {resp.status_code}")
        self.csrf = resp.json()["csrf_token"]

    def post(self, client_id: str) -> int | None:
        """Send one check-in; its status, or None if no answer came."""
        body = {"client_id": client_id, "temperature_c": 37.0,
                "symptoms": {"asthenia": 1}, "note": "fault test"}
        self.sent += 1
        if self.warning_every and self.sent % self.warning_every == 0:
            body["warning_signs"] = ["fainting"]
        try:
            if self.csrf is None:
                self._login()
            resp = self.http.post(self.base_url + "/api/v1/checkins", json=body,
                                  headers={"X-CSRFToken": self.csrf}, timeout=10)
        except (requests.RequestException, ValueError):
            self.http.close()
            self.http = requests.Session()  # the server's restart ends the session's socket
            self.csrf = None
            return None
        self.statuses.append(resp.status_code)
        if resp.status_code in (401, 400):
            self.csrf = None  # log in again
        return resp.status_code

    def send(self, client_id: str) -> None:
        status = self.post(client_id)
        if status in (200, 201):
            self.acknowledged[client_id] = status
        else:
            self.unanswered.append(client_id)

    def resend_unanswered(self, deadline: float) -> None:
        """Send again, with the same client_id, what got no answer, until all are answered."""
        while self.unanswered and time.monotonic() < deadline:
            client_id = self.unanswered[0]
            status = self.post(client_id)
            if status in (200, 201):
                self.acknowledged[client_id] = status
                self.unanswered.pop(0)
            else:
                time.sleep(0.2)


class Load:
    """Phones posting check-ins in threads until stopped."""

    def __init__(self, phones, pause=0.0):
        self.phones, self.pause = phones, pause
        self._stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(p,), daemon=True)
                        for p in phones]

    def _run(self, phone):
        while not self._stop.is_set():
            answered = len(phone.acknowledged)
            phone.send(str(uuid.uuid4()))
            if len(phone.acknowledged) == answered:
                time.sleep(0.2)  # like the phone's queue: wait a little after a failure
            elif self.pause:
                time.sleep(self.pause)

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self.threads:
            t.join(30)

    def acknowledged(self) -> dict[str, int]:
        out = {}
        for p in self.phones:
            out.update(p.acknowledged)
        return out

    def unanswered(self) -> list[str]:
        return [c for p in self.phones for c in p.unanswered]


def wait_until(predicate, timeout, interval=0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
