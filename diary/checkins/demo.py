"""Demo history: weeks of check-ins for the demo patients, saved through the services.

Each expected check-in up to yesterday is filled in at 20:15 the patient's time,
with the mild flu-like reactions low-dose IL-2 gives, and a few events so that
every screen has something to show: P-0001 ran a fever on two days of cure 2
(R1 then D1), P-0002 had new purpura (D2) and skipped two check-ins in a row,
and P-0001 fainted yesterday evening (U3, urgent, left open for the inbox).
"""
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from diary import clock
from diary.accounts.models import Patient
from diary.checkins import services
from diary.checkins.models import CheckIn
from diary.extensions import db
from diary.injections.services import expected_checkins

SKIPPED = {"P-0002": (1, 2)}  # indexes of expected daily check-ins of cure 2 left undone


def _values(code: str, index: int, day_in_cure: int | None) -> dict:
    flu = day_in_cure is not None and day_in_cure <= 5
    values = {"symptoms": {"asthenia": 1 + (flu and index % 2), "arthralgia": index % 2,
                           "myalgia": 1 if flu else 0, "chills": 0, "purpura": 0,
                           "injection_site_pain": 1 if flu else 0},
              "temperature_c": 37.2 + (0.3 if flu else 0.0),
              "injection_site": {"diameter_cm": 1.5 if flu else 0.0, "ulceration": False},
              "new_or_worse": [], "warning_signs": [], "note": ""}
    return values


def record_demo_history(*, now: datetime) -> None:
    patients = db.session.execute(sa.select(Patient).order_by(Patient.study_code)).scalars().all()
    for patient in patients:
        if db.session.execute(sa.select(CheckIn.id).where(CheckIn.patient_id == patient.id)
                              .limit(1)).first():
            continue
        today = clock.local_date(now, patient.tz)
        cure2 = patient.cure1_start + timedelta(days=14)
        for index, expected in enumerate(e for e in expected_checkins(patient) if e.date < today):
            if patient.study_code in SKIPPED and (expected.date - cure2).days in SKIPPED[patient.study_code]:
                continue
            offset = (expected.date - cure2).days
            day_in_cure = offset + 1 if 0 <= offset < 7 else None
            data = _values(patient.study_code, index, day_in_cure)
            if patient.study_code == "P-0001" and offset in (1, 2):
                data["temperature_c"] = 38.3 if offset == 1 else 38.6
                data["symptoms"]["chills"] = 2
                data["note"] = "feverish in the evening"
            if patient.study_code == "P-0002" and offset == 4:
                data["symptoms"]["purpura"] = 1
                data["new_or_worse"] = ["purpura"]
                data["note"] = "small red spots on both ankles"
            if patient.study_code == "P-0001" and expected.date == today - timedelta(days=1):
                data["warning_signs"] = ["fainting"]
                data["note"] = "felt faint after standing up"
            moment = clock.at_local(expected.date, 20, 15, patient.tz)
            data |= {"client_id": str(uuid.uuid4()), "diary_date": expected.date.isoformat(),
                     "device_recorded_at": clock.local_datetime(moment, patient.tz).isoformat()}
            services.record_checkin(patient, data, actor=patient.user, now=moment, source="web")
    db.session.flush()
