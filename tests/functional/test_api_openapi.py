"""The OpenAPI description covers the contract of api.md and is internally consistent."""
import re

CONTRACT = {
    ("post", "/session"), ("get", "/session"), ("delete", "/session"),
    ("get", "/me/schedule"), ("post", "/injections"), ("post", "/checkins"), ("get", "/checkins"),
    ("get", "/alerts"), ("post", "/alerts/{alert_id}/acknowledge"),
}


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_contract_endpoints_are_described(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200 and resp.is_json
    spec = resp.get_json()
    assert spec["openapi"].startswith("3.")
    described = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert CONTRACT <= described
    for ref in _refs(spec):
        name = ref.rsplit("/", 1)[-1]
        assert name in spec["components"]["schemas"], ref


def test_codes_in_the_description_are_the_validated_ones(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    checkin = spec["components"]["schemas"]["CheckInIn"]["properties"]
    assert "purpura" in checkin["symptoms"]["properties"]
    assert "fainting" in checkin["warning_signs"]["items"]["enum"]
    assert checkin["temperature_c"]["maximum"] == 43.0


def test_every_api_route_is_described(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    described = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule == "/api/v1/openapi.json":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1"):])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (method, path) not in described:
                missing.append((method, path))
    assert missing == []


def test_every_operation_documents_the_400_of_a_nul_character(client, auth, world):
    spec = client.get("/api/v1/openapi.json").get_json()
    missing = [(m, p) for p, ops in spec["paths"].items() for m, op in ops.items()
               if "400" not in op["responses"]]
    assert missing == []
    auth.api_login("P-0001")
    assert client.get("/api/v1/checkins?to=%00").status_code == 400
