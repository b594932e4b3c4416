"""The SVG charts: accessible, CSP-safe, light, and drawing what the data says."""
import re
from datetime import date, timedelta

from diary.dashboards.charts import HeatRow, Timeline, heatmap_svg, timeline_svg
from diary.exports.csvfile import cell, csv_text

START = date(2026, 11, 1)


def _timeline(days=30) -> Timeline:
    d = lambda n: START + timedelta(days=n)  # noqa: E731
    return Timeline(
        start=START, end=d(days - 1),
        temperatures=[(d(1), 37.0), (d(2), 38.4), (d(2), 39.1), (d(3), 36.8)],
        grades=[(d(1), "purpura", 0), (d(2), "purpura", 3), (d(2), "asthenia", 1),
                (d(4), "nausea", 0)],
        doses=[(d(1), "taken"), (d(2), "not_taken"), (d(3), "missed"), (d(40), "upcoming")],
        alerts=[(d(2), "urgent"), (d(3), "routine")],
        cures=[(d(1), d(5), 2)],
    )


def test_timeline_is_an_accessible_image_with_title_and_desc():
    svg = str(timeline_svg(_timeline(), title="Timeline of P-0007", desc="3 check-ins",
                           id_prefix="t1"))
    assert svg.startswith("<svg")
    assert 'role="img"' in svg and 'aria-labelledby="t1-title t1-desc"' in svg
    assert '<title id="t1-title">Timeline of P-0007</title>' in svg
    assert '<desc id="t1-desc">3 check-ins</desc>' in svg


def test_timeline_is_csp_safe_and_light():
    svg = str(timeline_svg(_timeline(), title="t", desc="d"))
    assert "style=" not in svg and "<script" not in svg and "javascript:" not in svg
    assert len(svg.encode()) < 8_000


def test_timeline_draws_the_highest_temperature_of_a_day_fever_in_red():
    svg = str(timeline_svg(_timeline(), title="t", desc="d"))
    assert "2026-11-03: 39.1 °C" in svg
    assert "38.4" not in svg  # the lower reading of the same day is not drawn
    assert svg.count('class="fever"') == 1
    assert svg.count("°C</title></circle>") == 3  # one point per day measured


def test_timeline_symptom_rows_only_for_items_above_zero():
    svg = str(timeline_svg(_timeline(), title="t", desc="d", labels={"purpura": "Spots"}))
    assert ">Spots</text>" in svg
    assert 'class="g3"' in svg and 'class="g1"' in svg
    assert "nausea" not in svg  # answered 0 only: no row


def test_timeline_marks_doses_alerts_and_cure_days():
    svg = str(timeline_svg(_timeline(), title="t", desc="d"))
    assert svg.count('class="dose-taken"') == 1
    assert svg.count('class="dose-not_taken"') == 1
    assert svg.count('class="dose-missed"') == 1
    assert "dose-upcoming" not in svg  # outside the window
    assert svg.count('class="alert-urgent"') == 1 and svg.count('class="alert-routine"') == 1
    cure = re.search(r'<g class="cure"[^>]*><rect x="([\d.]+)" y="\d+" width="([\d.]+)"', svg)
    assert cure is not None
    step = (720 - 96 - 8) / 30
    assert abs(float(cure.group(2)) - 5 * step) < 0.2  # five days shaded


def test_heatmap_draws_one_cell_per_expected_day_with_its_state():
    rows = [HeatRow("P-0001", {START: "done", START + timedelta(days=1): "missed"}, "/p/1"),
            HeatRow("P-0002", {START + timedelta(days=2): "partial",
                               START - timedelta(days=3): "done"})]
    svg = str(heatmap_svg(rows, START, START + timedelta(days=6), title="Calendar",
                          desc="2 patients"))
    assert svg.count("<rect") == 3  # the day before the window is not drawn
    assert 'class="hm-done"' in svg and 'class="hm-missed"' in svg and 'class="hm-partial"' in svg
    assert '<a href="/p/1"><text' in svg
    assert 'role="group"' in svg  # links inside: not an image (no focusable content in img)
    assert "P-0001 2026-11-02: missed" in svg
    assert "style=" not in svg


def test_labels_are_escaped():
    rows = [HeatRow("<b>P</b>", {START: "done"})]
    svg = str(heatmap_svg(rows, START, START, title="a & b", desc="<x>"))
    assert 'role="img"' in svg  # no link: an image
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "a &amp; b" in svg


def test_csv_cells_never_start_a_formula():
    assert cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert cell("@SUM") == "'@SUM"
    assert cell(-2) == "-2" and cell(True) == "true" and cell(None) == ""
    assert cell(3.0) == "3" and cell(37.5) == "37.5"
    assert csv_text(["a", "b"], [[1, "x,y"]]) == 'a,b\r\n1,"x,y"\r\n'
