"""The staff table of alert rules, generated from rules.py and the protocol file."""
from diary.checkins import protocol_data


def test_staff_see_every_rule_with_the_protocol_thresholds(client, auth, world):
    auth.login("coord1@example.org")
    resp = client.get("/staff/alert-rules")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    for rule in ("U1", "U2", "U3", "U4", "U5", "D1", "D2", "D3", "D4", "D5", "D6", "D7",
                 "R1", "R2", "R3"):
        assert f"<td>{rule}</td>" in html
    assert "Temperature 39.0 °C or higher" in html
    assert "5.0 cm or more" in html and "from 2.5 cm to under 5.0 cm" in html
    assert "ANRS HC 21 VASCU-IL2" in html
    assert "URGENT 60 minutes" in html


def test_the_table_follows_the_protocol_file(client, auth, world, monkeypatch):
    real = protocol_data.alert_thresholds
    monkeypatch.setattr(protocol_data, "alert_thresholds",
                        lambda code: dict(real(code), high_fever_c=39.5))
    auth.login("inv1@example.org")
    assert "Temperature 39.5 °C or higher" in client.get("/staff/alert-rules").get_data(
        as_text=True)


def test_patients_may_not_see_the_rules_page(client, auth, world):
    auth.login("P-0001")
    assert client.get("/staff/alert-rules").status_code == 403
