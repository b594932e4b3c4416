"""Reminder preferences, push subscriptions, and the sweep that turns due reminders into outbox rows.

The sweep is set-based: a handful of queries load every candidate patient's
data for the days around `now` in bulk (no query per patient), the pure
planner decides per patient in memory, the reminders already in the outbox
are found by their dedupe keys (unique index), and the new messages are
inserted in batches with INSERT ... ON CONFLICT (dedupe_key) DO NOTHING, the
same row enqueue() writes. So a second sweep, a restart mid-sweep or a
second scheduler never sends a reminder twice: the unique dedupe key decides.
"""
import bisect
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from diary import audit
from diary.accounts.models import Patient, Site, User
from diary.errors import Invalid
from diary.extensions import db
from diary.injections.models import InjectionRecord, ScheduledDose
from diary.notifications.models import OutboxMessage
from diary.protocol import load_protocol
from diary.protocol import schedule as plan
from diary.reminders import planner
from diary.reminders.models import DEFAULTS, LANGUAGES, PushSubscription, ReminderPreference
from diary.reminders.webpush import b64url_decode

KIND = "reminder"
#: keys looked up / rows inserted per statement (below SQLite's parameter limit)
CHUNK = 500


# --- preferences -------------------------------------------------------------------------

def default_language(patient) -> str:
    locale = (patient.user.locale or "") if patient.user else ""
    return locale if locale in LANGUAGES else "en"


def preferences_of(patient) -> ReminderPreference | None:
    return db.session.execute(
        sa.select(ReminderPreference).where(ReminderPreference.patient_id == patient.id)
    ).scalar_one_or_none()


def get_or_create_preferences(patient, *, now: datetime,
                              language: str | None = None) -> ReminderPreference:
    """The patient's preferences, created with the defaults the first time (flush)."""
    prefs = preferences_of(patient)
    if prefs is None:
        prefs = ReminderPreference(patient_id=patient.id, **DEFAULTS,
                                   language=language if language in LANGUAGES
                                   else default_language(patient), created_at=now)
        db.session.add(prefs)
        db.session.flush()
    return prefs


def _as_time(value, name: str, errors: dict) -> time | None:
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        hour, minute = (int(p) for p in value.strip().split(":"))
        if hour < 24 and minute < 60:
            return time(hour, minute)
    errors[name] = _("a time HH:MM is required")
    return None


def update_preferences(patient, values: dict, *, actor, now: datetime) -> ReminderPreference:
    """Change the patient's preferences (plain values); raise Invalid naming each bad field."""
    errors: dict[str, str] = {}
    clean = {name: _as_time(values.get(name), name, errors)
             for name in ("injection_time", "checkin_time", "quiet_start", "quiet_end")}
    weekday = values.get("weekly_weekday")
    if isinstance(weekday, str) and weekday.strip().isdigit():
        weekday = int(weekday)
    if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
        errors["weekly_weekday"] = _("choose a day of the week")
    language = values.get("language")
    if language not in LANGUAGES:
        errors["language"] = _("choose English or French")
    for name in ("email_enabled", "push_enabled"):
        if not isinstance(values.get(name), bool):
            errors[name] = _("must be on or off")
    if not errors:
        for name in ("injection_time", "checkin_time"):
            if planner.in_quiet_hours(clean[name], clean["quiet_start"], clean["quiet_end"]):
                errors[name] = _("this time is within your quiet hours: the reminder would "
                                 "come at their end")
    if errors:
        raise Invalid(_("Some settings are not valid."), errors)
    prefs = get_or_create_preferences(patient, now=now)
    before = _snapshot(prefs)
    for name, value in clean.items():
        setattr(prefs, name, value)
    prefs.weekly_weekday = weekday
    prefs.language = language
    prefs.email_enabled = values["email_enabled"]
    prefs.push_enabled = values["push_enabled"]
    after = _snapshot(prefs)
    if after != before:
        prefs.updated_at = now
        db.session.flush()
        audit.record("reminders.preferences", "reminder_preference", prefs.id, actor=actor,
                     now=now, before=before, after=after, patient=patient)
    return prefs


def _snapshot(prefs: ReminderPreference) -> dict:
    return {"injection_time": prefs.injection_time.strftime("%H:%M"),
            "checkin_time": prefs.checkin_time.strftime("%H:%M"),
            "quiet_start": prefs.quiet_start.strftime("%H:%M"),
            "quiet_end": prefs.quiet_end.strftime("%H:%M"),
            "weekly_weekday": prefs.weekly_weekday, "language": prefs.language,
            "email_enabled": prefs.email_enabled, "push_enabled": prefs.push_enabled}


# --- push subscriptions ------------------------------------------------------------------

def _check_subscription(data) -> tuple[str, str, str]:
    errors: dict[str, str] = {}
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    keys = data.get("keys") if isinstance(data, dict) else None
    keys = keys if isinstance(keys, dict) else {}
    if not isinstance(endpoint, str) or not 0 < len(endpoint) <= 1024:
        errors["endpoint"] = _("a push service address is required")
    else:
        parts = urlsplit(endpoint)
        local = parts.hostname in ("127.0.0.1", "localhost")
        if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and local)):
            errors["endpoint"] = _("must be an https address")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not _b64_of_length(p256dh, 65) or b64url_decode(p256dh)[0] != 4:
        errors["keys.p256dh"] = _("not a valid browser key")
    if not _b64_of_length(auth, 16):
        errors["keys.auth"] = _("not a valid browser secret")
    if errors:
        raise Invalid(_("This push subscription is not valid."), errors)
    return endpoint, p256dh, auth


def _b64_of_length(value, length: int) -> bool:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_\-]+=*", value):
        return False
    try:
        return len(b64url_decode(value.rstrip("="))) == length
    except ValueError:
        return False


def subscribe(patient, data, *, actor, now: datetime) -> tuple[PushSubscription, bool]:
    """Store the browser's subscription for `patient` (idempotent by endpoint); (row, created)."""
    endpoint, p256dh, auth = _check_subscription(data)
    sub = db.session.execute(
        sa.select(PushSubscription).where(PushSubscription.endpoint == endpoint)
    ).scalar_one_or_none()
    created = sub is None
    if created:
        sub = PushSubscription(patient_id=patient.id, endpoint=endpoint, p256dh=p256dh,
                               auth=auth, created_at=now)
        db.session.add(sub)
    else:  # the same browser again, or a phone handed to another patient
        sub.patient_id, sub.p256dh, sub.auth = patient.id, p256dh, auth
    db.session.flush()
    audit.record("reminders.push_subscribe", "push_subscription", sub.id, actor=actor, now=now,
                 patient=patient, after={"created": created})
    return sub, created


def unsubscribe(patient, endpoint, *, actor, now: datetime) -> bool:
    """Forget this browser's subscription (the patient's own only); True if one was removed."""
    if not isinstance(endpoint, str):
        raise Invalid(_("This push subscription is not valid."),
                      {"endpoint": _("a push service address is required")})
    sub = db.session.execute(
        sa.select(PushSubscription).where(PushSubscription.endpoint == endpoint,
                                          PushSubscription.patient_id == patient.id)
    ).scalar_one_or_none()
    if sub is None:
        return False
    audit.record("reminders.push_unsubscribe", "push_subscription", sub.id, actor=actor,
                 now=now, patient=patient)
    db.session.delete(sub)
    db.session.flush()
    return True


def subscription_count(patient) -> int:
    return db.session.execute(
        sa.select(sa.func.count()).select_from(PushSubscription)
        .where(PushSubscription.patient_id == patient.id)).scalar_one()


# --- the texts: no health data (clinical-rules.md section 7) ------------------------------

def texts(language: str, link: str) -> tuple[str, str]:
    """(subject, body) of a reminder in `language`; the same for every kind of reminder."""
    with force_locale(language):
        return (_("Your diary"),
                _("Your diary: an entry is waiting. Open: %(link)s", link=link))


# --- what the coordinator sees -----------------------------------------------------------

def sent_reminders(patient, limit: int = 200) -> list[OutboxMessage]:
    return list(db.session.execute(
        sa.select(OutboxMessage)
        .where(OutboxMessage.patient_id == patient.id, OutboxMessage.kind == KIND)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit)
    ).scalars())


def describe(message: OutboxMessage) -> tuple[str, str | None]:
    """(what the reminder was for, its date) from the message's dedupe key."""
    parts = (message.dedupe_key or "").split(":")
    # reminder:<patient>:dose:<id>:<date>:<stage>[:...] | reminder:<patient>:checkin:<date>[:...]
    if len(parts) >= 6 and parts[2] == "dose":
        label = _("Injection follow-up") if parts[5] == "followup" else _("Injection")
        return label, parts[4]
    if len(parts) >= 4 and parts[2] == "checkin":
        return _("Check-in"), parts[3]
    return _("Reminder"), None


# --- the sweep ---------------------------------------------------------------------------

@dataclass
class SweepReport:
    patients: int = 0
    due: int = 0
    already: int = 0
    #: messages written; a racing sweep's duplicates are skipped by the database but counted
    enqueued: int = 0


@dataclass(frozen=True)
class _Dose:
    id: int
    date: date
    setting: str


class _PlanCache:
    """Expected check-ins by plan shape, so 100,000 patients do not recompute 100,000 plans.

    Two plans with the same protocol, the same cure spans relative to cure 1
    and the same weekday of cure 1 have the same expected check-ins, shifted.
    """

    def __init__(self):
        self._shapes: dict = {}

    def expected(self, protocol, start: date, spans: list[plan.CureSpan]):
        key = (protocol.code, start.weekday(),
               tuple((s.cure, (s.first - start).days, (s.last - start).days, s.daily_checkins)
                     for s in spans))
        shape = self._shapes.get(key)
        if shape is None:
            end = plan.follow_up_end(protocol, start)
            if spans:
                end = max(end, max(s.last for s in spans))
            rows = plan.expected_checkins(protocol, spans, start, end)
            offsets = [(e.date - start).days for e in rows]
            shape = (offsets, [e.kind for e in rows], (end - start).days)
            self._shapes[key] = shape
        return shape


def _candidates_filter(day: date, max_follow_up: int):
    """Active patients reachable by a channel whose plan may have something due around `day`."""
    recent_dose = sa.select(ScheduledDose.patient_id).where(
        ScheduledDose.planned_date >= day - timedelta(days=10))
    prefs = ReminderPreference
    email_off = sa.select(prefs.patient_id).where(prefs.email_enabled.is_(False))
    push_on = sa.select(PushSubscription.patient_id).where(PushSubscription.patient_id.not_in(
        sa.select(prefs.patient_id).where(prefs.push_enabled.is_(False))))
    return sa.and_(
        Patient.status == "active",
        sa.or_(sa.and_(Patient.contact_email.is_not(None), Patient.id.not_in(email_off)),
               Patient.id.in_(push_on)),
        Patient.cure1_start <= day + timedelta(days=1),
        sa.or_(Patient.cure1_start >= day - timedelta(days=max_follow_up + 2),
               Patient.id.in_(recent_dose)),
    )


def _max_follow_up(codes) -> int:
    return max(load_protocol(c).follow_up_end_offset_days for c in codes)


def sweep(now: datetime) -> SweepReport:
    """Enqueue every reminder due at `now` that is not in the outbox yet (flush, no commit)."""
    report = SweepReport()
    day = now.date()
    codes = list(db.session.execute(sa.select(Patient.protocol).distinct()
                                    .where(Patient.status == "active")).scalars())
    if not codes:
        return report
    read = db.session.connection().execute  # Core: plain tuples, no ORM row processing
    where = _candidates_filter(day, _max_follow_up(codes))
    candidate_ids = sa.select(Patient.id).where(where)
    tz_col = sa.func.coalesce(Patient.timezone, Site.timezone)
    pref = ReminderPreference
    patients = read(
        sa.select(Patient.id, Patient.site_id, Patient.status, Patient.protocol,
                  Patient.cure1_start, Patient.contact_email, tz_col, User.locale,
                  pref.id, pref.injection_time, pref.checkin_time, pref.quiet_start,
                  pref.quiet_end, pref.weekly_weekday, pref.email_enabled, pref.push_enabled,
                  pref.language)
        .join(Site, Site.id == Patient.site_id).join(User, User.id == Patient.user_id)
        .outerjoin(pref, pref.patient_id == Patient.id)
        .where(where)).all()
    if not patients:
        return report
    report.patients = len(patients)
    first_day, last_day = day - timedelta(days=9), day + timedelta(days=1)

    spans: dict[int, list] = {}
    for pid, cure, first, last in read(
            sa.select(ScheduledDose.patient_id, ScheduledDose.cure,
                      sa.func.min(ScheduledDose.planned_date),
                      sa.func.max(ScheduledDose.planned_date))
            .where(ScheduledDose.patient_id.in_(candidate_ids))
            .group_by(ScheduledDose.patient_id, ScheduledDose.cure)).all():
        spans.setdefault(pid, []).append((cure, first, last))

    doses: dict[int, list[_Dose]] = {}
    recorded: set[int] = set()
    current = sa.and_(InjectionRecord.scheduled_dose_id == ScheduledDose.id,
                      InjectionRecord.superseded_at.is_(None))
    for dose_id, pid, planned, setting, record_id in read(
            sa.select(ScheduledDose.id, ScheduledDose.patient_id, ScheduledDose.planned_date,
                      ScheduledDose.setting, InjectionRecord.id)
            .outerjoin(InjectionRecord, current)
            .where(ScheduledDose.planned_date.between(day - timedelta(days=2), last_day),
                   ScheduledDose.setting == "home",
                   ScheduledDose.patient_id.in_(candidate_ids))).all():
        doses.setdefault(pid, []).append(_Dose(dose_id, planned, setting))
        if record_id is not None:
            recorded.add(dose_id)

    from diary.checkins.models import CheckIn
    checkins: dict[int, set[date]] = {}
    for pid, diary_date in read(
            sa.select(CheckIn.patient_id, CheckIn.diary_date).distinct()
            .where(CheckIn.diary_date.between(first_day, last_day),
                   CheckIn.patient_id.in_(candidate_ids))).all():
        checkins.setdefault(pid, set()).add(diary_date)

    subscriptions: dict[int, list[int]] = {}
    for sub_id, pid in read(
            sa.select(PushSubscription.id, PushSubscription.patient_id)
            .where(PushSubscription.patient_id.in_(candidate_ids))
            .order_by(PushSubscription.id)).all():
        subscriptions.setdefault(pid, []).append(sub_id)

    link = current_app.config.get("BASE_URL", "").rstrip("/") + "/"
    wording = {lang: texts(lang, link) for lang in LANGUAGES}
    cache = _PlanCache()
    pending: list[list[dict]] = []  # the messages of each due reminder, bare key first
    default_prefs = planner.Preferences()
    for (pid, site_id, status, code, start, email, tz, locale, pref_id, *own) in patients:
        email_on, push_on, language = (own[5], own[6], own[7]) if pref_id is not None else (
            DEFAULTS["email_enabled"], DEFAULTS["push_enabled"],
            locale if locale in LANGUAGES else "en")
        routes = []
        if email_on and email:
            routes.append(("email", email, "email"))
        if push_on:
            routes.extend(("webpush", str(s), f"push:{s}") for s in subscriptions.get(pid, ()))
        if not routes:
            continue  # no way to reach this patient: nothing to plan
        protocol = load_protocol(code)
        daily = {c.number: c.daily_checkins for c in protocol.cures}
        patient_spans = [plan.CureSpan(c, f, la, daily.get(c, True))
                         for c, f, la in sorted(spans.get(pid, ()))]
        offsets, kinds, end_offset = cache.expected(protocol, start, patient_spans)
        lo = bisect.bisect_left(offsets, (first_day - start).days - 1)
        hi = bisect.bisect_right(offsets, (last_day - start).days + 1)
        expected = [plan.ExpectedCheckin(start + timedelta(days=offsets[i]), kinds[i])
                    for i in range(lo, hi)]
        prefs = planner.Preferences(*own[:5]) if pref_id is not None else default_prefs
        due = planner.due_reminders(
            doses=doses.get(pid, ()), recorded_dose_ids=recorded, expected=expected,
            checkin_dates=checkins.get(pid, ()), prefs=prefs, tz=tz,
            status=status, plan_end=start + timedelta(days=end_offset), now=now)
        if not due:
            continue
        subject, body = wording[language]
        for reminder in due:
            report.due += 1
            base = f"reminder:{pid}:{reminder.identity}"
            related = (("scheduled_dose", int(reminder.identity.split(":")[1]))
                       if reminder.kind == "injection" else (None, None))
            pending.append([dict(
                channel=channel, recipient=recipient, subject=subject, body=body, kind=KIND,
                dedupe_key=base if i == 0 else f"{base}:{suffix}", patient_id=pid,
                site_id=site_id, related_entity=related[0], related_id=related[1],
                status="pending", attempts=0, next_attempt_at=now, created_at=now)
                for i, (channel, recipient, suffix) in enumerate(routes)])
    if not pending:
        return report
    existing = _existing_keys([group[0]["dedupe_key"] for group in pending])
    rows = [row for group in pending if group[0]["dedupe_key"] not in existing for row in group]
    report.already = sum(1 for group in pending if group[0]["dedupe_key"] in existing)
    report.enqueued = _insert_new(rows)
    return report


def _existing_keys(keys: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), CHUNK):
        found.update(db.session.execute(
            sa.select(OutboxMessage.dedupe_key)
            .where(OutboxMessage.dedupe_key.in_(keys[i:i + CHUNK]))).scalars())
    return found


def _insert_new(rows: list[dict]) -> int:
    """Insert outbox rows, skipping any whose dedupe key another sweep wrote meanwhile."""
    if not rows:
        return 0
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # any other database: the outbox's own enqueue, one row at a time
        from diary.notifications.services import enqueue
        count = 0
        for row in rows:
            patient = db.session.get(Patient, row["patient_id"])
            related = ((row["related_entity"], row["related_id"])
                       if row["related_entity"] else None)
            count += enqueue(channel=row["channel"], recipient=row["recipient"],
                             subject=row["subject"], body=row["body"], kind=KIND,
                             now=row["created_at"], dedupe_key=row["dedupe_key"],
                             patient=patient, related=related) is not None
        return count
    stmt = insert(OutboxMessage.__table__).on_conflict_do_nothing(index_elements=["dedupe_key"])
    for i in range(0, len(rows), CHUNK):
        db.session.execute(stmt, rows[i:i + CHUNK])
    db.session.flush()
    return len(rows)


def sweep_job(now: datetime, worker: str) -> None:
    """The scheduler's every-minute job: one sweep, one commit."""
    import logging

    report = sweep(now)
    db.session.commit()
    if report.enqueued:
        logging.getLogger("diary.reminders").info(
            "reminders: %s due, %s message(s) enqueued", report.due, report.enqueued)
