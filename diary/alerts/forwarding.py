"""Forwarding alerts to the investigating team, and escalating unacknowledged ones.

A new URGENT or WITHIN 24 H alert puts one e-mail per address of the site's
alert list in the outbox, in the transaction that raised the alert; ROUTINE
ones send nothing (they wait for the weekly review). An alert still open
after its tier's delay (protocol [alerts.escalation_minutes]) goes to the
site's escalation list, once per delay. Messages carry the study code, tier,
rule and a link, and no symptom, value or note (clinical-rules.md section 7).
They are written in the site's language (Site.language), not in that of the
request that raised the alert (often the patient's) nor the scheduler's.
"""
import logging
import tomllib
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, format_number
from flask_babel import gettext as _

from diary import audit
from diary.alerts.models import Alert
from diary.extensions import db
from diary.notifications.services import enqueue

log = logging.getLogger("diary.alerts")

FORWARDED_TIERS = ("urgent", "within_24h")
DEFAULT_ESCALATION_MINUTES = {"urgent": 60, "within_24h": 1440, "routine": 10080}
PROTOCOL_FILES = Path(__file__).resolve().parent.parent / "protocol" / "files"


@lru_cache(maxsize=16)
def _escalation_from_file(code: str) -> dict[str, int]:
    path = PROTOCOL_FILES / f"{code.replace('-', '_')}.toml"
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return dict(data.get("alerts", {}).get("escalation_minutes", {}))


def escalation_minutes(protocol_code: str) -> dict[str, int]:
    """Minutes before an open alert escalates, by tier, from the patient's protocol."""
    table = None
    try:
        from diary.protocol import load_protocol  # the protocol loader, when present
    except ImportError:
        load_protocol = None
    if load_protocol is not None:
        try:
            table = dict((load_protocol(protocol_code).alerts or {}).get("escalation_minutes", {}))
        except Exception:  # noqa: BLE001 - fall back to the file itself
            log.exception("protocol %s: loader failed, reading the file", protocol_code)
    if table is None:
        try:
            table = _escalation_from_file(protocol_code)
        except OSError:
            log.error("protocol %s: no file; default escalation delays", protocol_code)
            table = {}
    return {tier: int(table.get(tier, default)) for tier, default in
            DEFAULT_ESCALATION_MINUTES.items()}


def tier_label(tier: str) -> str:
    return {"urgent": _("URGENT"), "within_24h": _("WITHIN 24 H"),
            "routine": _("ROUTINE")}.get(tier, tier)


def alert_link(alert: Alert) -> str:
    return f"{current_app.config['BASE_URL']}/staff/alerts/{alert.id}"


def alert_message(alert: Alert) -> tuple[str, str]:
    """Subject and body of the new-alert e-mail, in the site's language: no health data."""
    with force_locale(alert.site.language):
        return _alert_message(alert)


def _alert_message(alert: Alert) -> tuple[str, str]:
    code, tier = alert.patient.study_code, tier_label(alert.tier)
    subject = _("[IL-2 diary] %(tier)s alert: patient %(code)s", tier=tier, code=code)
    body = _("Patient %(code)s has an alert of level %(tier)s (rule %(rule)s): open the diary.\n\n"
             "%(link)s\n\n"
             "This message carries no health data. Sign in to see the alert and "
             "acknowledge it with the action taken.\n",
             code=code, tier=tier, rule=alert.rule, link=alert_link(alert))
    return subject, body


def escalation_message(alert: Alert, waited: timedelta) -> tuple[str, str]:
    """Subject and body of an escalation e-mail, in the site's language: no health data."""
    with force_locale(alert.site.language):
        return _escalation_message(alert, waited)


def _escalation_message(alert: Alert, waited: timedelta) -> tuple[str, str]:
    code, tier = alert.patient.study_code, tier_label(alert.tier)
    hours = int(waited.total_seconds() // 3600)
    minutes = int(waited.total_seconds() // 60)
    waited_text = (_("%(n)s hours", n=format_number(hours)) if hours >= 2
                   else _("%(n)s minutes", n=format_number(minutes)))
    subject = _("[IL-2 diary] ESCALATION: %(tier)s alert for patient %(code)s not acknowledged",
                tier=tier, code=code)
    body = _("The %(tier)s alert (rule %(rule)s) of patient %(code)s has not been acknowledged "
             "for %(waited)s. Please open the diary and make sure someone acts on it.\n\n"
             "%(link)s\n\n"
             "This message carries no health data.\n",
             tier=tier, rule=alert.rule, code=code, waited=waited_text, link=alert_link(alert))
    return subject, body


def forward_new_alert(alert: Alert, *, now: datetime) -> int:
    """The on_alert_raised hook: enqueue the e-mails of a new alert; returns how many."""
    if alert.tier not in FORWARDED_TIERS:
        return 0
    subject, body = alert_message(alert)
    count = 0
    for address in dict.fromkeys(alert.site.alert_emails or []):  # unique, in order
        msg = enqueue(channel="email", recipient=address, subject=subject, body=body,
                      kind="alert", now=now, dedupe_key=f"alert:{alert.id}:{address}"[:200],
                      patient=alert.patient, site_id=alert.site_id, related=("alert", alert.id))
        count += msg is not None
    if count == 0:
        log.warning("alert %s: site %s has no alert address", alert.id, alert.site_id)
    return count


def escalation_step(alert: Alert, now: datetime, delays: dict[str, int]) -> int:
    """How many whole delays the alert has waited unacknowledged at `now`."""
    delay = timedelta(minutes=delays[alert.tier])
    if delay <= timedelta(0):
        return 0
    return int((now - alert.raised_at) // delay)


def escalate(alert: Alert, step: int, now: datetime) -> bool:
    """Record escalation `step` on the alert and enqueue its messages; False if already done.

    The UPDATE on escalation_count is the claim: two sweeps never send one step twice.
    """
    table = Alert.__table__
    claimed = db.session.execute(
        sa.update(table).where(table.c.id == alert.id, table.c.status == "open",
                               table.c.escalation_count == alert.escalation_count)
        .values(escalation_count=step, last_escalated_at=now)
    ).rowcount == 1
    if not claimed:
        return False
    before = {"escalation_count": alert.escalation_count}
    db.session.refresh(alert)
    subject, body = escalation_message(alert, now - alert.raised_at)
    recipients = list(dict.fromkeys(alert.site.escalation_emails or []))
    for address in recipients:
        enqueue(channel="email", recipient=address, subject=subject, body=body, kind="escalation",
                now=now, dedupe_key=f"escalation:{alert.id}:{step}:{address}"[:200],
                patient=alert.patient, site_id=alert.site_id, related=("alert", alert.id))
    if not recipients:
        log.warning("alert %s: site %s has no escalation address", alert.id, alert.site_id)
    audit.record("alert.escalate", "alert", alert.id, actor=None, now=now, before=before,
                 after={"escalation_count": step, "recipients": len(recipients)},
                 patient=alert.patient)
    return True


def escalate_due(now: datetime) -> int:
    """The sweep: escalate every open alert past its next delay. Commits per alert."""
    from diary.accounts.models import Patient

    rows = db.session.execute(
        sa.select(Alert.id, Patient.protocol).join(Patient, Patient.id == Alert.patient_id)
        .where(Alert.status == "open").order_by(Alert.raised_at)
    ).all()
    done = 0
    for alert_id, protocol_code in rows:
        delays = escalation_minutes(protocol_code)
        alert = db.session.get(Alert, alert_id)
        step = escalation_step(alert, now, delays)
        if step > alert.escalation_count and escalate(alert, step, now):
            done += 1
        db.session.commit()
    return done


def init_app(app) -> None:
    hooks = app.extensions.setdefault("diary.on_alert_raised", [])
    if forward_new_alert not in hooks:
        hooks.append(forward_new_alert)
