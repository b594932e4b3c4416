"""Inline SVG charts drawn on the server: a patient's timeline and a site's heat-map.

Pure: plain values in, an SVG string out (no database, no clock, no Flask), so
the staff page, the patient's own page and the tests draw the same chart.

CSP-safe and light: no script, no `style=` attribute; colours are presentation
attributes (fill, stroke) that the classes of static/css/app.css (block
"dashboards") refine; coordinates are rounded; only non-empty cells are drawn.
Every chart is `role="img"` with a <title> and a <desc>; the page puts a text
alternative (a table or a summary) beside it.
"""
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from html import escape

from markupsafe import Markup

#: dose marks: what a dose looks like on the timeline
DOSE_STATUSES = ("taken", "not_taken", "missed", "due", "upcoming")
#: heat-map cell states, from best to worst
DAY_STATES = ("done", "partial", "missed", "pending")
TIERS = ("urgent", "within_24h", "routine")

_FILL = {
    # cure shading, temperature, symptom grades 1-4, doses, alerts, heat-map
    "cure": "#e8eef7", "temp": "#1d4f91", "fever": "#b3261e",
    "g1": "#f6e7b4", "g2": "#f0c05a", "g3": "#e07b39", "g4": "#b3261e",
    "taken": "#1e7d45", "not_taken": "#8a5a00", "missed": "#b3261e", "due": "#1d4f91",
    "upcoming": "#8d96a0",
    "urgent": "#b3261e", "within_24h": "#c25e00", "routine": "#5b6770",
    "done": "#1e7d45", "partial": "#f0c05a", "pending": "#d5dbe3",
}


@dataclass
class Timeline:
    """What a patient's timeline shows, day by day (dates are diary days)."""

    start: date
    end: date
    #: (diary day, temperature in degrees C); several on one day: the highest is drawn
    temperatures: list[tuple[date, float]] = field(default_factory=list)
    #: (diary day, item code, grade 0-4)
    grades: list[tuple[date, str, int]] = field(default_factory=list)
    #: (planned day, status in DOSE_STATUSES)
    doses: list[tuple[date, str]] = field(default_factory=list)
    #: (diary day, tier)
    alerts: list[tuple[date, str]] = field(default_factory=list)
    #: (first dose day, last dose day, cure number)
    cures: list[tuple[date, date, int]] = field(default_factory=list)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def inside(self, day: date) -> bool:
        return self.start <= day <= self.end

    def daily_max_temperature(self) -> dict[date, float]:
        out: dict[date, float] = {}
        for day, value in self.temperatures:
            if self.inside(day) and value is not None:
                out[day] = max(value, out.get(day, value))
        return out

    def daily_max_grades(self) -> dict[str, dict[date, int]]:
        out: dict[str, dict[date, int]] = {}
        for day, code, grade in self.grades:
            if self.inside(day) and grade is not None:
                row = out.setdefault(code, {})
                row[day] = max(grade, row.get(day, grade))
        return out


def _n(value: float) -> str:
    """A coordinate with at most one decimal: keeps the SVG small."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _svg_open(width: int, height: int, id_prefix: str, title: str, desc: str, css: str,
              role: str = "img") -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" role="{role}" '
            f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
            f'aria-labelledby="{id_prefix}-title {id_prefix}-desc" font-size="11" '
            f'font-family="system-ui, sans-serif">'
            f'<title id="{id_prefix}-title">{escape(title)}</title>'
            f'<desc id="{id_prefix}-desc">{escape(desc)}</desc>')


def _tick_every(days: int) -> int:
    for step in (1, 2, 7, 14, 28):
        if days / step <= 10:
            return step
    return 56


def _day_label(day: date) -> str:
    return f"{day.day}/{day.month}"


def _one_decimal(value: float) -> str:
    return f"{value:.1f}"


def timeline_svg(data: Timeline, *, title: str, desc: str, labels: dict[str, str] | None = None,
                 id_prefix: str = "timeline", width: int = 720,
                 day_text: Callable[[date], str] = date.isoformat,
                 degrees_text: Callable[[float], str] = _one_decimal) -> Markup:
    """Temperature line, symptom grades (one row per item answered above 0), doses, alerts.

    `labels` maps item codes and the words "temperature", "doses", "alerts" to
    the text shown on the left; codes without a label show as the code. The tooltips
    write days with `day_text` and temperatures with `degrees_text` (the page passes
    the reader's language's).
    """
    labels = labels or {}
    left, right = 96, 8
    plot_w = width - left - right
    step = plot_w / data.days
    temps = data.daily_max_temperature()
    grades = data.daily_max_grades()
    rows = [code for code in grades if any(g > 0 for g in grades[code].values())]
    low = min([35.0] + [t for t in temps.values()])
    high = max([41.0] + [t for t in temps.values()])
    alert_y, temp_top, temp_h = 2, 20, 110
    sym_top = temp_top + temp_h + 10
    row_h = 14
    dose_top = sym_top + row_h * len(rows) + 6
    axis_y = dose_top + 24
    height = axis_y + 16

    def x(day: date) -> float:
        return left + (day - data.start).days * step

    def ty(value: float) -> float:
        return temp_top + temp_h - (value - low) / (high - low) * temp_h

    out = [_svg_open(width, height, id_prefix, title, desc, "chart-timeline")]
    # cure days shaded, behind everything
    out.append(f'<g class="cure" fill="{_FILL["cure"]}">')
    for first, last, cure in data.cures:
        a, b = max(first, data.start), min(last, data.end)
        if a <= b:
            out.append(f'<rect x="{_n(x(a))}" y="{temp_top}" width="{_n((b - a).days * step + step)}"'
                       f' height="{dose_top + 18 - temp_top}"><title>{escape(labels.get("cure", "cure"))}'
                       f' {cure}</title></rect>')
    out.append("</g>")
    # temperature panel: reference lines at 38 and 39, the daily highest as a line
    out.append(f'<g class="axis" stroke="#8d96a0" stroke-width="0.5" fill="none">'
               f'<rect x="{left}" y="{temp_top}" width="{_n(plot_w)}" height="{temp_h}"/>')
    for ref in (37.0, 38.0, 39.0):
        if low < ref < high:
            out.append(f'<line class="ref ref-{int(ref)}" x1="{left}" x2="{width - right}" '
                       f'y1="{_n(ty(ref))}" y2="{_n(ty(ref))}" stroke-dasharray="3 3"/>')
    out.append("</g><g class=\"labels\" fill=\"#333\">")
    out.append(f'<text x="4" y="{temp_top + 10}">{escape(labels.get("temperature", "°C"))}</text>')
    for ref in (37.0, 38.0, 39.0):
        if low < ref < high:
            out.append(f'<text x="{left - 4}" y="{_n(ty(ref) + 4)}" text-anchor="end">{ref:.0f}</text>')
    out.append("</g>")
    if temps:
        points = sorted(temps.items())
        path = " ".join(f"{_n(x(d) + step / 2)},{_n(ty(t))}" for d, t in points)
        out.append(f'<polyline class="temp-line" points="{path}" fill="none" '
                   f'stroke="{_FILL["temp"]}" stroke-width="1.5"/>')
        out.append(f'<g class="temp-points" fill="{_FILL["temp"]}">')
        for d, t in points:
            fever = f' class="fever" fill="{_FILL["fever"]}"' if t >= 38.0 else ""
            out.append(f'<circle cx="{_n(x(d) + step / 2)}" cy="{_n(ty(t))}" r="2.5"{fever}>'
                       f'<title>{escape(day_text(d))}: {escape(degrees_text(t))} °C</title></circle>')
        out.append("</g>")
    # symptom rows: a cell per day with a grade above 0, darker when worse
    for i, code in enumerate(rows):
        y = sym_top + i * row_h
        out.append(f'<text x="4" y="{y + 10}" fill="#333">{escape(str(labels.get(code, code)))}</text>')
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y + row_h}" y2="{y + row_h}" '
                   f'stroke="#e1e5ea" stroke-width="0.5"/>')
        for d, g in sorted(grades[code].items()):
            if g > 0:
                out.append(f'<rect class="g{g}" x="{_n(x(d))}" y="{y + 1}" width="{_n(max(step, 1.5))}"'
                           f' height="{row_h - 2}" fill="{_FILL[f"g{g}"]}"><title>{escape(day_text(d))}: '
                           f'{escape(str(labels.get(code, code)))} {g}/4</title></rect>')
    # doses: filled circle taken, ring not taken, cross missed, small dot to come
    out.append(f'<text x="4" y="{dose_top + 12}" fill="#333">{escape(labels.get("doses", "doses"))}</text>')
    r = max(2.0, min(6.0, step / 2 - 0.5))
    for d, status in sorted(data.doses):
        if not data.inside(d):
            continue
        cx, cy = x(d) + step / 2, dose_top + 9
        tip = f"<title>{escape(day_text(d))}: {escape(labels.get(status, status))}</title>"
        colour = _FILL.get(status, "#333")
        if status == "taken":
            out.append(f'<circle class="dose-taken" cx="{_n(cx)}" cy="{cy}" r="{_n(r)}" fill="{colour}">{tip}</circle>')
        elif status == "missed":
            out.append(f'<path class="dose-missed" d="M{_n(cx - r)} {_n(cy - r)}L{_n(cx + r)} {_n(cy + r)}'
                       f'M{_n(cx - r)} {_n(cy + r)}L{_n(cx + r)} {_n(cy - r)}" stroke="{colour}" '
                       f'stroke-width="2">{tip}</path>')
        else:
            out.append(f'<circle class="dose-{status}" cx="{_n(cx)}" cy="{cy}" r="{_n(r)}" fill="none" '
                       f'stroke="{colour}" stroke-width="1.5">{tip}</circle>')
    # alerts: a triangle above the day, coloured by tier
    for d, tier in sorted(data.alerts):
        if not data.inside(d):
            continue
        cx = x(d) + step / 2
        out.append(f'<path class="alert-{tier}" d="M{_n(cx)} {alert_y + 14}l-6 -12h12z" '
                   f'fill="{_FILL.get(tier, "#333")}"><title>{escape(day_text(d))}: '
                   f'{escape(labels.get(tier, tier))}</title></path>')
    # the day axis
    out.append('<g class="labels" fill="#333">')
    every = _tick_every(data.days)
    day = data.start
    while day <= data.end:
        if (day - data.start).days % every == 0:
            out.append(f'<text x="{_n(x(day) + step / 2)}" y="{axis_y + 10}" text-anchor="middle">'
                       f'{_day_label(day)}</text>')
        day += timedelta(days=1)
    out.append("</g></svg>")
    # every text in it went through escape(); the rest are numbers, dates and codes
    return Markup("".join(out))  # nosec B704


@dataclass
class HeatRow:
    label: str
    #: diary day -> one of DAY_STATES; days with nothing expected are absent
    states: dict[date, str]
    url: str | None = None


def heatmap_svg(rows: list[HeatRow], start: date, end: date, *, title: str, desc: str,
                labels: dict[str, str] | None = None, id_prefix: str = "heatmap",
                width: int = 720, day_text: Callable[[date], str] = date.isoformat) -> Markup:
    """Patients by days: a cell per day on which something was expected (the tooltips
    write days with `day_text`)."""
    labels = labels or {}
    left, right, top, row_h = 64, 4, 16, 12
    days = (end - start).days + 1
    step = (width - left - right) / days
    height = top + row_h * len(rows) + 4
    # with links inside it is a labelled group, not an image (WCAG 4.1.2: no focusable
    # content in role="img")
    role = "group" if any(row.url for row in rows) else "img"
    out = [_svg_open(width, height, id_prefix, title, desc, "chart-heatmap", role)]
    out.append('<g class="labels" fill="#333">')
    every = _tick_every(days)
    for i in range(0, days, every):
        day = start + timedelta(days=i)
        out.append(f'<text x="{_n(left + i * step + step / 2)}" y="11" text-anchor="middle">'
                   f'{_day_label(day)}</text>')
    out.append("</g>")
    for n, row in enumerate(rows):
        y = top + n * row_h
        label = f'<text x="2" y="{y + 10}" fill="#333">{escape(row.label)}</text>'
        if row.url:
            label = f'<a href="{escape(row.url)}">{label}</a>'
        out.append(label)
        for day, state in sorted(row.states.items()):
            if not start <= day <= end:
                continue
            i = (day - start).days
            out.append(f'<rect class="hm-{state}" x="{_n(left + i * step + 0.5)}" y="{y + 1}" '
                       f'width="{_n(max(step - 1, 1))}" height="{row_h - 2}" fill="{_FILL[state]}">'
                       f'<title>{escape(row.label)} {escape(day_text(day))}: '
                       f'{escape(labels.get(state, state))}</title></rect>')
    out.append("</svg>")
    # every text in it went through escape(); the rest are numbers, dates and codes
    return Markup("".join(out))  # nosec B704
