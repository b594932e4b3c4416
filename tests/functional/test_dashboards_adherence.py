"""The coordinator's adherence dashboard: exact figures, heat-map, CSV, scope, constant queries."""
import csv
import io
import uuid
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from diary.checkins.models import CheckIn
from diary.dashboards import services
from diary.extensions import db
from tests.conftest import FIXED_NOW
from tests.helpers_dashboards import build_history


def _csv(resp) -> list[dict]:
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))


@pytest.fixture
def history(world, frozen_clock):
    build_history(world["pat1"])
    return world


def test_figures_of_a_constructed_history(history, client, auth):
    auth.login("coord1@example.org")
    rows = {r["study_code"]: r for r in _csv(client.get("/staff/dashboard.csv"))}
    assert set(rows) == {"P-0001", "P-0002"}
    p1 = rows["P-0001"]
    # cures 1 (hospital, 2-6 Nov) and 2 (home, 16-20 Nov) are past: 10 doses due;
    # 5 + 3 taken, one the day after its day, one missed, one recorded not taken
    assert (p1["doses_taken"], p1["doses_due"], p1["doses_on_time"], p1["doses_missed"]) == \
        ("8", "10", "7", "2")
    assert (p1["cure_1_taken_due"], p1["cure_2_taken_due"], p1["cure_3_taken_due"]) == \
        ("5/5", "3/5", "0/0")
    # expected: 14 daily (2-8 and 16-22 Nov), weekly 9-15 Nov, and 23-29 Nov (done early);
    # done: 7 + 1 + 4 + 1; the extra check-in of 17 Nov does not count
    assert (p1["checkins_done"], p1["checkins_expected"]) == ("13", "16")
    assert (p1["last_checkin"], p1["days_since_last_checkin"]) == ("2026-11-24", "1")
    assert (p1["open_alerts"], p1["open_alert_top_tier"]) == ("1", "urgent")
    assert (p1["last_reminder_status"], p1["last_reminder_channel"]) == ("failed", "email")
    p2 = rows["P-0002"]
    assert (p2["doses_taken"], p2["doses_due"], p2["doses_missed"]) == ("0", "10", "10")
    assert (p2["checkins_done"], p2["checkins_expected"]) == ("0", "15")
    assert p2["last_checkin"] == "" and p2["open_alerts"] == "0" and p2["last_reminder_status"] == ""


def test_heat_map_states(history):
    rows = {r.study_code: r for r in services.site_adherence(history["coord1"], FIXED_NOW)}
    states = rows["P-0001"].day_states
    nov = lambda d: date(2026, 11, d)  # noqa: E731
    assert states[nov(18)] == "done"      # dose taken (the next day) and check-in done
    assert states[nov(19)] == "missed"    # dose missed and no check-in
    assert states[nov(20)] == "partial"   # dose not taken, check-in done
    assert states[nov(24)] == "done"      # the weekly check-in, on the day it was done
    assert nov(23) not in states and nov(25) not in states
    assert rows["P-0002"].day_states[nov(16)] == "missed"


def test_dashboard_page_shows_the_figures_and_the_heat_map(history, client, auth):
    auth.login("coord1@example.org")
    resp = client.get("/staff/dashboard")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "8/10" in html and "13/16" in html and "C2 3/5" in html
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-heatmap" role="group"' in html
    assert "P-0001 19 Nov 2026: missed" in html
    assert "style=" not in html


def test_coordinator_home_is_the_dashboard(history, client, auth):
    auth.login("coord1@example.org")
    assert client.get("/").headers["Location"].endswith("/staff/dashboard")


def test_sort_and_filter_by_query_string(history, client, auth):
    auth.login("coord1@example.org")
    html = client.get("/staff/dashboard?sort=checkins&dir=asc").get_data(as_text=True)
    assert html.index(">P-0002</a>") < html.index(">P-0001</a>")
    html = client.get("/staff/dashboard?sort=checkins&dir=desc").get_data(as_text=True)
    assert html.index(">P-0001</a>") < html.index(">P-0002</a>")
    html = client.get("/staff/dashboard?only=alerts").get_data(as_text=True)
    assert ">P-0001</a>" in html and ">P-0002</a>" not in html
    rows = _csv(client.get("/staff/dashboard.csv?q=0002"))
    assert [r["study_code"] for r in rows] == ["P-0002"]
    # nonsense parameters fall back to the defaults, never a 500
    assert client.get("/staff/dashboard?sort=x&dir=y&days=abc&page=-3").status_code == 200


def test_scope_site_2_sees_nothing_of_site_1(history, client, auth):
    auth.login("coord2@example.org")
    html = client.get("/staff/dashboard").get_data(as_text=True)
    assert "P-0001" not in html and "P-0002" not in html and "P-0101" in html
    assert [r["study_code"] for r in _csv(client.get("/staff/dashboard.csv"))] == ["P-0101"]
    site1 = history["site1"].id
    assert client.get(f"/staff/dashboard?site={site1}").status_code == 404
    assert client.get(f"/staff/patients/{history['pat1'].id}/history").status_code == 404


def test_patients_may_not_see_the_dashboard(history, client, auth):
    auth.login("P-0001")
    assert client.get("/staff/dashboard").status_code == 403
    assert client.get("/staff/dashboard.csv").status_code == 403


def test_dashboard_csv_download_is_audited(history, client, auth):
    from diary.audit.models import AuditEvent
    auth.login("coord1@example.org")
    _csv(client.get("/staff/dashboard.csv"))
    ev = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "export")).scalar_one()
    assert ev.actor_id == history["coord1"].id and ev.entity == "dashboard"


@contextmanager
def count_queries():
    seen = []

    def before(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before)


def _site_with(make_site, make_staff, make_patient, n: int):
    site = make_site(f"Site {n}")
    coord = make_staff("coordinator", f"coord-{n}@example.org", [site])
    for i in range(n):
        p = make_patient(site, f"Q-{n:02d}{i:03d}")
        for d in range(0, 20, 3):  # a few check-ins each, so that every query has rows
            db.session.add(CheckIn(patient_id=p.id, client_id=str(uuid.uuid4()),
                                   diary_date=p.cure1_start + timedelta(days=d),
                                   received_at=FIXED_NOW, temperature_c=37.0))
    db.session.commit()
    return coord


def test_query_count_is_the_same_for_5_and_50_patients(app, client, auth, frozen_clock,
                                                       make_site, make_staff, make_patient):
    counts = {}
    for n in (5, 50):
        coord = _site_with(make_site, make_staff, make_patient, n)
        auth.login(coord.email)
        client.get("/staff/dashboard")  # warm up: anything cached once per process
        with count_queries() as seen:
            resp = client.get("/staff/dashboard")
        assert resp.status_code == 200
        assert resp.get_data(as_text=True).count('<th scope="row">') == n
        counts[n] = len(seen)
        auth.logout()
    assert counts[5] == counts[50], counts
    assert counts[50] <= 12
