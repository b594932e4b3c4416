"""The benches under bench/ still run and print what they promise, on a small scale (their
figures are not judged here: they are read from a full run, see the README)."""
import os
import re
import shutil
import subprocess
import sys

import pytest
import sqlalchemy as sa

from tests.conftest import TEST_DATABASE_URL

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ON_POSTGRESQL = TEST_DATABASE_URL.startswith("postgresql")
on_postgresql = pytest.mark.skipif(not ON_POSTGRESQL,
                                   reason="this bench runs on PostgreSQL (DIARY_TEST_DATABASE_URL)")


def _run(script: str, *args: str) -> str:
    env = dict(os.environ)
    env.pop("DIARY_BENCH_DATABASE_URL", None)  # bench/dashboard.py: SQLite only here
    if ON_POSTGRESQL:
        # load.py and request_cpu.py make and drop a database of their own on the test
        # database's server
        url = sa.make_url(TEST_DATABASE_URL)
        server = sa.URL.create(url.drivername, url.username, url.password, url.host, url.port)
        env["DIARY_BENCH_PG"] = server.render_as_string(hide_password=False)
    done = subprocess.run([sys.executable, os.path.join(PROJECT, "bench", script), *args],
                          cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout  # the figures; stderr has the bench's progress


def _figures(line: str) -> dict:
    return {key: float(value) for key, value in re.findall(r"(\w+)=\s*([\d.]+)", line)}


@on_postgresql
@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is installed by .ci/install-test-deps")
def test_load_bench_plays_patients_and_prints_its_last_line():
    out = _run("load.py", "--users", "4", "--rate", "20", "--seconds", "2",
               "--capacity-seconds", "1", "--bare-seconds", "1", "--warmup", "0")
    lines = out.strip().splitlines()
    last = lines[-1]
    assert re.fullmatch(r"load checkin_rps=[\d.]+ checkin_p95_ms=[\d.]+ today_p95_ms=[\d.]+ "
                        r"bare_rps=[\d.]+ ratio=[\d.]+", last), last
    figures = _figures(last)
    assert figures["checkin_rps"] > 0 and figures["bare_rps"] > 0
    assert figures["ratio"] == pytest.approx(figures["checkin_rps"] / figures["bare_rps"],
                                             abs=0.001)
    # every request type has its line, in each run, and no request failed
    for kind in ("login", "checkin", "today", "bare"):
        rows = [line for line in lines if re.match(rf"{kind} +n=", line)]
        assert rows, kind
        for row in rows:
            assert " errors=0" in row, row
            assert _figures(row)["n"] > 0, row


@on_postgresql
def test_request_cpu_bench_prints_each_request_type_and_its_phases():
    out = _run("request_cpu.py", "--requests", "20", "--warmup", "5", "--phases")
    for kind in ("checkin", "today"):
        assert re.search(rf"^{kind} +cpu_ms= *[\d.]+ wall_ms= *[\d.]+$", out, re.M), out
    for phase in ("load_user", "record_checkin", "raise_alerts", "render_template"):
        assert re.search(rf"^  {phase} +cpu_us= *[\d.]+ calls=\d+$", out, re.M), out


def test_dashboard_bench_measures_each_size_and_the_exports():
    out = _run("dashboard.py", "--sizes", "3", "6", "--repeat", "1", "--exports")
    for n in (3, 6):
        assert re.search(rf"^dashboard db=sqlite patients={n} ms=\d+ queries=\d+$", out, re.M), out
        exports = re.findall(rf"^export db=sqlite patients={n} what=(\S+) ms=\d+ rows=(\d+) "
                             r"mb=[\d.]+$", out, re.M)
        assert {what for what, _rows in exports} >= {"checkins.csv", "fhir.json"}, out
        assert all(int(rows) > 0 for _what, rows in exports), out
