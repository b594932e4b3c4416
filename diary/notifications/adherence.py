"""The coordinators' daily adherence summary (clinical-rules.md section 4, adherence signals).

Once a day, one e-mail per site to each of its coordinators, listing the
study codes with a scheduled home dose left without any record yesterday,
or with two expected daily check-ins missing in a row (the last two days of
a cure's daily window). Only study codes and which signal: no dose, symptom
or value (section 7). A site with nothing to report gets no message. The
message is in the site's language (Site.language), its date too.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, format_date
from flask_babel import gettext as _

from diary.accounts.models import Patient, Site, User, staff_sites
from diary.clock import local_date
from diary.extensions import db
from diary.notifications.services import enqueue


@dataclass
class SiteSummary:
    site: Site
    missed_dose: list[str] = field(default_factory=list)
    missed_checkins: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.missed_dose or self.missed_checkins)


def missed_home_dose(patient, day: date) -> bool:
    """A home dose planned on `day` with no current record (neither taken nor not taken)."""
    from diary.injections.models import InjectionRecord, ScheduledDose

    recorded = sa.select(InjectionRecord.id).where(
        InjectionRecord.scheduled_dose_id == ScheduledDose.id,
        InjectionRecord.superseded_at.is_(None))
    return db.session.execute(
        sa.select(ScheduledDose.id).where(
            ScheduledDose.patient_id == patient.id, ScheduledDose.planned_date == day,
            ScheduledDose.setting == "home", ~sa.exists(recorded)).limit(1)
    ).first() is not None


def two_checkins_missing(patient, yesterday: date) -> bool:
    """Yesterday and the day before were both expected daily check-ins, and neither came."""
    from diary.checkins.models import CheckIn
    from diary.injections.services import expected_checkins

    pair = {yesterday - timedelta(days=1), yesterday}
    expected = {e.date for e in expected_checkins(patient) if e.kind == "daily"}
    if not pair <= expected:
        return False
    done = db.session.execute(
        sa.select(CheckIn.id).where(CheckIn.patient_id == patient.id,
                                    CheckIn.diary_date.in_(pair)).limit(1)
    ).first()
    return done is None


def summaries(now: datetime) -> list[SiteSummary]:
    """What each site's coordinators should hear about today (pure reads)."""
    by_site: dict[int, SiteSummary] = {}
    patients = db.session.execute(
        sa.select(Patient).where(Patient.status == "active")
        .order_by(Patient.site_id, Patient.study_code)
    ).scalars()
    for patient in patients:
        summary = by_site.setdefault(patient.site_id, SiteSummary(patient.site))
        yesterday = local_date(now, patient.tz) - timedelta(days=1)
        if missed_home_dose(patient, yesterday):
            summary.missed_dose.append(patient.study_code)
        if two_checkins_missing(patient, yesterday):
            summary.missed_checkins.append(patient.study_code)
    return [s for s in by_site.values() if not s.empty]


def coordinator_emails(site: Site) -> list[str]:
    return list(db.session.execute(
        sa.select(User.email).join(staff_sites, staff_sites.c.user_id == User.id)
        .where(staff_sites.c.site_id == site.id, User.role == "coordinator",
               User.is_enabled.is_(True), User.email.is_not(None))
        .order_by(User.email)
    ).scalars())


def summary_message(summary: SiteSummary, day: date) -> tuple[str, str]:
    """Subject and body of a site's summary, in the site's language: study codes only."""
    with force_locale(summary.site.language):
        return _summary_message(summary, day)


def _summary_message(summary: SiteSummary, day: date) -> tuple[str, str]:
    day_text = format_date(day, "long")
    lines = [_("Daily adherence summary for %(site)s, %(day)s.", site=summary.site.name,
               day=day_text), ""]
    if summary.missed_dose:
        lines += [_("A home dose with no record yesterday:"),
                  *[f"  - {code}" for code in summary.missed_dose], ""]
    if summary.missed_checkins:
        lines += [_("Two expected check-ins missing in a row during a cure:"),
                  *[f"  - {code}" for code in summary.missed_checkins], ""]
    lines += [_("Open the diary to follow up:"),
              f"{current_app.config['BASE_URL']}/staff/patients", "",
              _("This message carries no health data.")]
    subject = _("[IL-2 diary] Adherence summary %(site)s %(day)s", site=summary.site.name,
                day=day_text)
    return subject, "\n".join(lines) + "\n"


def send_daily_summaries(now: datetime) -> int:
    """Enqueue today's summaries (once per site, day and coordinator); commits."""
    count = 0
    for summary in summaries(now):
        day = local_date(now, summary.site.timezone)
        subject, body = summary_message(summary, day)
        for address in coordinator_emails(summary.site):
            key = f"adherence:{summary.site.id}:{day.isoformat()}:{address}"[:200]
            msg = enqueue(channel="email", recipient=address, subject=subject, body=body,
                          kind="adherence_summary", now=now, site_id=summary.site.id,
                          dedupe_key=key)
            count += msg is not None
    db.session.commit()
    return count
