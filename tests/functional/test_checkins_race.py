"""Two check-ins racing to raise the same alert: the loser is run again, never a 500."""
import uuid

import sqlalchemy as sa

from diary.alerts import services as alert_services
from diary.alerts.models import Alert, AlertEvidence
from diary.checkins.models import CheckIn
from diary.extensions import db
from tests.conftest import PASSWORD


def test_unique_key_race_on_an_alert_is_retried(app, client, world, frozen_clock, monkeypatch):
    real = alert_services.raise_alerts
    calls = {"n": 0}

    def lose_the_race_once(patient, checkin, now, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            # what the database says when another request inserted the same alert first
            raise sa.exc.IntegrityError("INSERT INTO alerts", {}, Exception("uq_alerts_patient_rule_day"))
        return real(patient, checkin, now, **kwargs)

    monkeypatch.setattr(alert_services, "raise_alerts", lose_the_race_once)
    token = client.post("/api/v1/session", json={"login": "P-0001", "password": PASSWORD}
                        ).get_json()["csrf_token"]
    resp = client.post("/api/v1/checkins", headers={"X-CSRFToken": token},
                       json={"client_id": str(uuid.uuid4()), "warning_signs": ["fainting"]})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert {a["rule"] for a in resp.get_json()["alerts"]} >= {"U3"}
    assert calls["n"] == 2
    assert db.session.scalar(sa.select(sa.func.count(CheckIn.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(Alert.id)).where(Alert.rule == "U3")) == 1
    assert db.session.scalar(sa.select(sa.func.count(AlertEvidence.id))) >= 1
