"""Shared bits of the check-in tests: a valid body, counting what is stored."""
import uuid

import sqlalchemy as sa

from diary.extensions import db


def body(**overrides) -> dict:
    data = {
        "client_id": str(uuid.uuid4()),
        "diary_date": "2026-11-25",
        "device_recorded_at": "2026-11-25T10:05:00+01:00",
        "temperature_c": 36.9,
        "symptoms": {"purpura": 0, "arthralgia": 1, "asthenia": 1},
        "new_or_worse": [],
        "warning_signs": [],
        "injection_site": {"diameter_cm": 1.0, "ulceration": False},
        "note": "",
    }
    data.update(overrides)
    return data


def count(model) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
