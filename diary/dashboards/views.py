"""Staff pages (adherence dashboard, a patient's history, audit of a value, check-in
correction) and the patient's own history. Every query goes through accounts.scope."""
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from flask_login import current_user

from diary import audit, clock
from diary.accounts import scope
from diary.accounts.decorators import role_required
from diary.accounts.models import Site
from diary.alerts.models import Alert
from diary.checkins.forms import to_api
from diary.checkins.items import GRADES, SYMPTOMS, WARNING_SIGNS
from diary.checkins.models import CheckIn
from diary.core.setup import decimal, short_day
from diary.dashboards import history, services
from diary.dashboards.charts import HeatRow, heatmap_svg, timeline_svg
from diary.dashboards.forms import CheckInCorrectionForm
from diary.errors import Invalid
from diary.exports.csvfile import csv_response
from diary.extensions import db
from diary.injections.models import InjectionRecord

bp = Blueprint("dashboards", __name__)

STAFF = ("investigator", "coordinator", "admin")
CORRECTORS = ("investigator", "coordinator")
PAGE_SIZE = 100
PATIENT_DAYS = 30


def chart_labels() -> dict[str, str]:
    labels = {code: str(label) for code, label in SYMPTOMS.items()}
    labels.update({
        "temperature": _("°C"), "doses": _("Doses"), "cure": _("Cure"),
        "taken": _("taken"), "not_taken": _("not taken"), "missed": _("missed"),
        "due": _("due today"), "upcoming": _("upcoming"),
        "urgent": _("urgent alert"), "within_24h": _("alert: within 24 h"),
        "routine": _("routine alert"),
        "done": _("done"), "partial": _("partly done"), "pending": _("to do"),
    })
    return labels


def _timeline_chart(patient, data, id_prefix: str):
    temps = data.timeline.daily_max_temperature()
    taken = sum(1 for _d, s in data.timeline.doses
                if s == "taken" and data.timeline.inside(_d))
    highest = (format_decimal(max(temps.values()), format="0.0") + " °C" if temps
               else _("none measured"))
    desc = _("From %(start)s to %(end)s: %(checkins)d check-ins, %(fever)d days with a "
             "temperature of 38 °C or more (highest %(max)s), %(taken)d doses taken, "
             "%(alerts)d alerts.",
             start=format_date(data.timeline.start, "medium"),
             end=format_date(data.timeline.end, "medium"),
             checkins=len(data.checkins), fever=sum(1 for t in temps.values() if t >= 38.0),
             max=highest,
             taken=taken, alerts=len(data.alerts))
    title = _("Timeline of %(code)s: temperature, symptoms, doses and alerts",
              code=patient.study_code)
    svg = timeline_svg(data.timeline, title=title, desc=desc, labels=chart_labels(),
                       id_prefix=id_prefix, day_text=short_day,
                       degrees_text=lambda value: decimal(value, 1))
    return svg, desc


# --- the coordinator's dashboard ----------------------------------------------

def _filters() -> dict:
    args = request.args
    site_id = args.get("site", type=int)
    if site_id is not None and site_id not in scope.visible_site_ids(current_user):
        abort(404)
    sort = args.get("sort", "code")
    return {
        "site": site_id,
        "q": args.get("q", "")[:32],
        "status": args.get("status", "active") if args.get("status") in
        ("active", "withdrawn", "all") else "active",
        "only": args.get("only", "") if args.get("only") in ("behind", "alerts") else "",
        "sort": sort if sort in services.SORT_KEYS else "code",
        "dir": "desc" if args.get("dir") == "desc" else "asc",
        "days": min(max(args.get("days", 28, type=int) or 28, 7), 91),
    }


def _rows(f: dict):
    now = clock.now_utc()
    rows = services.site_adherence(current_user, now, site_id=f["site"], heat_days=f["days"])
    return services.filter_and_sort(rows, q=f["q"], status=f["status"], only=f["only"],
                                    sort=f["sort"], descending=f["dir"] == "desc")


@bp.route("/staff/dashboard")
@role_required(*STAFF)
def dashboard():
    f = _filters()
    rows = _rows(f)
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    pages = max((len(rows) + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(page, pages)
    shown = rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    heatmap = None
    if shown:
        end = max(r.today for r in shown)
        start = end - timedelta(days=f["days"] - 1)
        missed = sum(1 for r in shown for s in r.day_states.values() if s == "missed")
        heatmap = heatmap_svg(
            [HeatRow(r.study_code, r.day_states,
                     url_for("dashboards.patient_history", patient_id=r.patient_id))
             for r in shown], start, end,
            title=_("Calendar of what was done and missed, last %(n)d days", n=f["days"]),
            desc=_("%(patients)d patients by day from %(start)s to %(end)s: %(missed)d days "
                   "with everything expected missed. The table above gives the same figures.",
                   patients=len(shown), start=short_day(start), end=short_day(end),
                   missed=missed),
            labels=chart_labels(), day_text=short_day)
    sites = db.session.execute(
        sa.select(Site).where(Site.id.in_(scope.visible_site_ids(current_user)))
        .order_by(Site.name)).scalars().all()
    return render_template("dashboards/dashboard.html", rows=shown, total=len(rows), f=f,
                           page=page, pages=pages, heatmap=heatmap, sites=sites)


@bp.route("/staff/dashboard.csv")
@role_required(*STAFF)
def dashboard_csv():
    f = _filters()
    rows = _rows(f)
    cures = max((len(r.cures) for r in rows), default=0)
    header = ["study_code", "site", "status", "doses_taken", "doses_due", "doses_on_time",
              "doses_missed", "doses_planned"]
    header += [f"cure_{n}_taken_due" for n in range(1, cures + 1)]
    header += ["checkins_done", "checkins_expected", "last_checkin", "days_since_last_checkin",
               "open_alerts", "open_alert_top_tier", "last_reminder_status",
               "last_reminder_channel", "last_reminder_at"]
    body = []
    for r in rows:
        line = [r.study_code, r.site_name, r.status, r.doses_taken, r.doses_due,
                r.doses_on_time, r.doses_missed, r.doses_total]
        line += [f"{c.taken}/{c.due}" for c in r.cures] + [""] * (cures - len(r.cures))
        line += [r.checkins_done, r.checkins_expected, r.last_checkin, r.days_since_checkin,
                 r.open_alerts, r.open_alert_tier, r.reminder_status, r.reminder_channel,
                 r.reminder_at]
        body.append(line)
    now = clock.now_utc()
    audit.record("export", "dashboard", f["site"] or "all", actor=current_user, now=now,
                 site_id=f["site"], after={"format": "csv", "rows": len(body),
                                           "filters": {k: v for k, v in f.items()}})
    db.session.commit()
    return csv_response(header, body, f"adherence-{now.date().isoformat()}.csv")


# --- a patient's history (staff) ----------------------------------------------

@bp.route("/staff/patients/<int:patient_id>/history")
@role_required(*STAFF)
def patient_history(patient_id: int):
    patient = scope.get_patient_or_404(current_user, patient_id)
    data = history.patient_history(patient, clock.now_utc())
    svg, desc = _timeline_chart(patient, data, "timeline")
    return render_template("dashboards/patient_history.html", patient=patient, data=data,
                           chart=svg, chart_desc=desc, symptoms=SYMPTOMS,
                           warning_signs=WARNING_SIGNS, may_correct=current_user.role in CORRECTORS)


AUDITED = {"checkin": CheckIn, "injection_record": InjectionRecord, "alert": Alert}


@bp.route("/staff/patients/<int:patient_id>/audit/<entity>/<int:object_id>")
@role_required(*STAFF)
def value_audit(patient_id: int, entity: str, object_id: int):
    patient = scope.get_patient_or_404(current_user, patient_id)
    if entity == "patient_plan":
        if object_id != patient.id:
            abort(404)
        ids = [patient.id]
    elif entity in AUDITED:
        obj = scope.get_scoped_or_404(AUDITED[entity], object_id, current_user)
        if obj.patient_id != patient.id:
            abort(404)
        ids = history.injection_record_ids(patient, obj) if entity == "injection_record" \
            else [obj.id]
    else:
        abort(404)
    changes = history.audit_history(patient, entity, ids)
    return render_template("dashboards/value_audit.html", patient=patient, entity=entity,
                           object_id=object_id, changes=changes,
                           tz=patient.tz, local=clock.local_datetime)


@bp.route("/staff/patients/<int:patient_id>/checkins/<int:checkin_id>/correct",
          methods=["GET", "POST"])
@role_required(*CORRECTORS)
def correct_checkin(patient_id: int, checkin_id: int):
    patient = scope.get_patient_or_404(current_user, patient_id)
    checkin = scope.get_scoped_or_404(CheckIn, checkin_id, current_user)
    if checkin.patient_id != patient.id:
        abort(404)
    current = history.checkin_views(patient, checkin.diary_date, checkin.diary_date)
    view = next(c for c in current if c.checkin.id == checkin.id)
    values = view.values
    form = CheckInCorrectionForm()
    errors: dict = {}
    status = 200
    if request.method == "GET":
        site = values.get("injection_site") or {}
        form.temperature_c.data = "" if values.get("temperature_c") is None \
            else str(values["temperature_c"])
        form.site_diameter_cm.data = "" if site.get("diameter_cm") is None \
            else str(site["diameter_cm"])
        form.site_ulceration.data = {True: "yes", False: "no"}.get(site.get("ulceration"), "")
        form.note.data = values.get("note") or ""
    elif form.validate_on_submit():
        data = to_api(request.form)
        try:
            history.correct_checkin(checkin, data=data, reason=form.reason.data,
                                    actor=current_user, now=clock.now_utc())
        except Invalid as exc:
            db.session.rollback()
            errors = exc.fields or {}
            if "reason" in errors:
                form.reason.errors = [errors["reason"]]
            flash(exc.message, "error")
            values = data
            status = 422
        else:
            db.session.commit()
            flash(_("The check-in of %(day)s was corrected.",
                    day=short_day(checkin.diary_date)), "success")
            return redirect(url_for("dashboards.patient_history", patient_id=patient.id,
                                    _anchor=f"checkin-{checkin.id}"))
    else:
        values = to_api(request.form)
        status = 422
    return render_template("dashboards/correct_checkin.html", patient=patient, checkin=checkin,
                           form=form, errors=errors, symptoms=SYMPTOMS, grades=GRADES,
                           warning_signs=WARNING_SIGNS, answers=values.get("symptoms") or {},
                           marked=values.get("new_or_worse") or [],
                           signs=values.get("warning_signs") or [], version=view.version), status


# --- the patient's own history -------------------------------------------------

@bp.route("/history")
@role_required("patient")
def my_history():
    patient = current_user.patient
    if patient is None:
        abort(404)
    data = history.patient_history(patient, clock.now_utc(), days=PATIENT_DAYS)
    svg, desc = _timeline_chart(patient, data, "my-timeline")
    day_list = []
    for n in range(PATIENT_DAYS):
        day = data.today - timedelta(days=n)
        checkins = [c for c in data.checkins if c.diary_date == day]
        doses = [r for r in data.doses if r.dose.planned_date == day]
        if checkins or doses:
            day_list.append({"label": format_date(day, "full"), "checkins": checkins,
                             "doses": doses})
    return render_template("dashboards/my_history.html", patient=patient, data=data, chart=svg,
                           chart_desc=desc, symptoms=SYMPTOMS, days=PATIENT_DAYS,
                           day_list=day_list)
