"""Lighthouse on the patient's phone pages: Today and the check-in form.

    python bench/frontend.py [--runs 1]

Installs Lighthouse (npm package lighthouse@12.2.3, the version that runs on
this Node) into bench/.node/ (ignored by git) the first time, builds the demo
SQLite database in a temporary folder (`flask --app app diary demo --no-serve`),
serves it with `flask run` on 127.0.0.1, logs in as the demo patient P-0001
through POST /api/v1/session and hands the session cookie to Lighthouse with
--extra-headers. Lighthouse drives Debian's Chromium (CHROME_PATH, default
/usr/bin/chromium; headless, no sandbox) with its mobile form factor and
throttling. One line per page:

    frontend page=<name> performance=<0-100> accessibility=<0-100> best_practices=<0-100>
        kb=<transferred> hosts=<distinct hosts>

Targets: performance >= 95, accessibility 100, best practices 100, < 30 KB
transferred, one host. With --runs N the median of N runs is printed.
"""
import argparse
import http.cookiejar
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from urllib.parse import urlparse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODE_DIR = os.path.join(ROOT, "bench", ".node")
LIGHTHOUSE = os.path.join(NODE_DIR, "node_modules", "lighthouse", "cli", "index.js")
VERSION = "12.2.3"
PAGES = (("today", "/today"), ("checkin", "/checkin"))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")


def install_lighthouse() -> None:
    if os.path.exists(LIGHTHOUSE):
        return
    os.makedirs(NODE_DIR, exist_ok=True)
    subprocess.run(["npm", "install", "--prefix", NODE_DIR, "--no-audit", "--no-fund",
                    f"lighthouse@{VERSION}"], check=True, stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flask_cmd() -> list[str]:
    flask = os.path.join(VENV_BIN, "flask")
    return [flask if os.path.exists(flask) else "flask", "--app", "app"]


def start_server(env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(flask_cmd() + ["run", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)  # nosec B310
            return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("the app did not start: "
                                 + proc.stderr.read().decode()[-2000:]) from None
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the app did not answer /healthz")


def session_cookie(base: str, login: str, password: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    req = urllib.request.Request(f"{base}/api/v1/session", method="POST",
                                 data=json.dumps({"login": login, "password": password}).encode(),
                                 headers={"Content-Type": "application/json"})
    opener.open(req, timeout=10).read()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def lighthouse(url: str, cookie: str, chrome: str) -> dict:
    env = dict(os.environ, CHROME_PATH=chrome)
    out = subprocess.run(
        ["node", LIGHTHOUSE, url, "--quiet", "--output=json", "--output-path=stdout",
         "--form-factor=mobile", "--only-categories=performance,accessibility,best-practices",
         "--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage",
         "--extra-headers", json.dumps({"Cookie": cookie})],
        env=env, capture_output=True, text=True, timeout=300)
    if out.returncode != 0 or not out.stdout.strip():
        raise SystemExit(f"lighthouse failed on {url}: {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def figures(report: dict) -> dict:
    cats = report["categories"]
    requests = report["audits"]["network-requests"]["details"]["items"]
    final = report.get("finalDisplayedUrl") or report.get("finalUrl")
    return {
        "performance": round(cats["performance"]["score"] * 100),
        "accessibility": round(cats["accessibility"]["score"] * 100),
        "best_practices": round(cats["best-practices"]["score"] * 100),
        "kb": round(report["audits"]["total-byte-weight"]["numericValue"] / 1024, 1),
        "hosts": len({urlparse(r["url"]).netloc for r in requests
                      if r["url"].startswith(("http:", "https:"))}),
        "final_url": final,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    chrome = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
    if not shutil.which(chrome) and not os.path.exists(chrome):
        raise SystemExit(f"no Chromium at {chrome}")
    install_lighthouse()

    tmp = tempfile.mkdtemp(prefix="diary-bench-frontend-")
    env = dict(os.environ, DIARY_INSTANCE_PATH=tmp, FLASK_DEBUG="0")
    env.pop("DIARY_DATABASE_URL", None)
    built = subprocess.run(flask_cmd() + ["diary", "demo", "--no-serve"], cwd=ROOT, env=env,
                           capture_output=True, text=True)
    if built.returncode != 0:
        raise SystemExit("demo database: " + built.stderr[-2000:])
    from_demo = [line.split() for line in built.stdout.splitlines() if "P-0001" in line]
    password = next((w for words in from_demo for w in words if w.startswith("demo-patient")),
                    "demo-patient-2026")
    env["DIARY_DATABASE_URL"] = f"sqlite:///{os.path.join(tmp, 'demo.db')}"
    port = free_port()
    server = start_server(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        cookie = session_cookie(base, "P-0001", password)
        for name, path in PAGES:
            runs = [figures(lighthouse(base + path, cookie, chrome)) for _ in range(args.runs)]
            if urlparse(runs[0]["final_url"]).path != path:
                raise SystemExit(f"{name}: Lighthouse ended on {runs[0]['final_url']} (not logged in?)")
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "final_url"}
            print(f"frontend page={name} performance={med['performance']:g} "
                  f"accessibility={med['accessibility']:g} best_practices={med['best_practices']:g} "
                  f"kb={med['kb']:g} hosts={med['hosts']:g}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
