"""GET /api/v1/openapi.json: the OpenAPI 3 description of the contract (api.md).

Built from the same code lists the validation uses (symptom, warning-sign,
site and reason codes), so the description cannot drift from what is checked.
"""
from flask import jsonify

from diary.alerts.models import RULES, TIERS
from diary.api import bp
from diary.checkins.items import (
    DIAMETER_RANGE,
    MAX_GRADE,
    MIN_GRADE,
    SYMPTOMS,
    TEMPERATURE_RANGE,
    WARNING_SIGNS,
)
from diary.injections.models import ADMINISTERED_BY, INJECTION_SITES, NOT_TAKEN_REASONS

ERROR = {"$ref": "#/components/schemas/Error"}


def _err(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


COMMON_ERRORS = {"400": _err("malformed JSON"), "401": _err("not logged in"),
                 "403": _err("logged in, not allowed"), "422": _err("well-formed but invalid"),
                 "429": _err("throttled")}
CSRF = [{"csrfHeader": [], "sessionCookie": []}]
COOKIE = [{"sessionCookie": []}]


def _schemas() -> dict:
    grade = {"type": "integer", "minimum": MIN_GRADE, "maximum": MAX_GRADE}
    return {
        "Error": {
            "type": "object", "required": ["error"],
            "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                               "fields": {"type": "object",
                                          "additionalProperties": {"type": "string"}}}}},
        },
        "User": {
            "type": "object", "required": ["id", "role"],
            "properties": {"id": {"type": "integer"},
                           "role": {"type": "string",
                                    "enum": ["patient", "investigator", "coordinator", "admin"]},
                           "study_code": {"type": "string"}, "site": {"type": ["string", "null"]}},
        },
        "Session": {"type": "object", "required": ["user", "csrf_token"],
                    "properties": {"user": _ref("User"), "csrf_token": {"type": "string"}}},
        "Login": {"type": "object", "required": ["login", "password"],
                  "properties": {"login": {"type": "string", "minLength": 1, "maxLength": 254},
                                 "password": {"type": "string", "minLength": 1,
                                              "maxLength": 200}}},
        "Dose": {
            "type": "object",
            "required": ["id", "cure", "day", "date", "dose_miu", "setting", "status"],
            "properties": {
                "id": {"type": "integer"}, "cure": {"type": "integer"},
                "day": {"type": "integer"}, "date": {"type": "string", "format": "date"},
                "dose_miu": {"type": "number"},
                "setting": {"type": "string", "enum": ["hospital", "home"]},
                "status": {"type": "string",
                           "enum": ["upcoming", "due", "taken", "not_taken", "missed"]}},
        },
        "Schedule": {
            "type": "object", "required": ["protocol", "timezone", "doses", "checkins_expected"],
            "properties": {
                "protocol": {"type": "string"}, "timezone": {"type": "string"},
                "doses": {"type": "array", "items": _ref("Dose")},
                "checkins_expected": {"type": "array", "items": {
                    "type": "object", "required": ["date", "kind"],
                    "properties": {"date": {"type": "string", "format": "date"},
                                   "kind": {"type": "string", "enum": ["daily", "weekly"]}}}}},
        },
        "InjectionIn": {
            "type": "object", "required": ["client_id", "scheduled_dose_id", "taken"],
            "properties": {
                "client_id": {"type": "string", "format": "uuid"},
                "scheduled_dose_id": {"type": "integer"},
                "taken": {"type": "boolean"},
                "taken_at": {"type": ["string", "null"], "format": "date-time"},
                "dose_miu": {"type": ["number", "null"], "exclusiveMinimum": 0},
                "site": {"type": ["string", "null"], "enum": [*INJECTION_SITES, None]},
                "lot": {"type": ["string", "null"], "maxLength": 64},
                "administered_by": {"type": ["string", "null"], "enum": [*ADMINISTERED_BY, None]},
                "not_taken_reason": {"type": ["string", "null"],
                                     "enum": [*NOT_TAKEN_REASONS, None]},
                "note": {"type": ["string", "null"], "maxLength": 2000}},
        },
        "Injection": {
            "type": "object", "required": ["id", "scheduled_dose_id", "taken", "late"],
            "properties": {"id": {"type": "integer"}, "scheduled_dose_id": {"type": "integer"},
                           "taken": {"type": "boolean"}, "late": {"type": "boolean"}},
        },
        "CheckInIn": {
            "type": "object", "required": ["client_id"],
            "properties": {
                "client_id": {"type": "string", "format": "uuid"},
                "diary_date": {"type": "string", "format": "date"},
                "device_recorded_at": {"type": ["string", "null"], "format": "date-time"},
                "temperature_c": {"type": ["number", "null"], "minimum": TEMPERATURE_RANGE[0],
                                  "maximum": TEMPERATURE_RANGE[1]},
                "symptoms": {"type": "object", "additionalProperties": False,
                             "properties": {code: grade for code in SYMPTOMS}},
                "new_or_worse": {"type": "array", "uniqueItems": True,
                                 "items": {"type": "string", "enum": list(SYMPTOMS)}},
                "warning_signs": {"type": "array", "uniqueItems": True,
                                  "items": {"type": "string", "enum": list(WARNING_SIGNS)}},
                "injection_site": {"type": ["object", "null"], "properties": {
                    "diameter_cm": {"type": ["number", "null"], "minimum": DIAMETER_RANGE[0],
                                    "maximum": DIAMETER_RANGE[1]},
                    "ulceration": {"type": ["boolean", "null"]}}},
                "note": {"type": ["string", "null"], "maxLength": 2000}},
        },
        "AlertRef": {
            "type": "object", "required": ["id", "rule", "tier"],
            "properties": {"id": {"type": "integer"}, "rule": {"type": "string", "enum": list(RULES)},
                           "tier": {"type": "string", "enum": list(TIERS)}},
        },
        "CheckInResult": {
            "type": "object", "required": ["id", "diary_date", "late", "alerts", "advice"],
            "properties": {
                "id": {"type": "integer"}, "diary_date": {"type": "string", "format": "date"},
                "late": {"type": "boolean"},
                "alerts": {"type": "array", "items": _ref("AlertRef")},
                "advice": {"type": "string",
                           "enum": ["call_team_now", "contact_team_today", "none"]}},
        },
        "PushSubscription": {
            "type": "object", "required": ["endpoint", "keys"],
            "properties": {"endpoint": {"type": "string", "format": "uri"},
                           "keys": {"type": "object", "required": ["p256dh", "auth"],
                                    "properties": {"p256dh": {"type": "string"},
                                                   "auth": {"type": "string"}}}},
        },
        "PushSubscriptionRef": {"type": "object", "required": ["id", "endpoint"],
                                "properties": {"id": {"type": "integer"},
                                               "endpoint": {"type": "string"}}},
        "Alert": {
            "type": "object",
            "required": ["id", "patient", "rule", "tier", "raised_at", "status", "checkin_id"],
            "properties": {
                "id": {"type": "integer"}, "patient": {"type": "string"},
                "rule": {"type": "string", "enum": list(RULES)},
                "tier": {"type": "string", "enum": list(TIERS)},
                "raised_at": {"type": "string", "format": "date-time"},
                "status": {"type": "string", "enum": ["open", "acknowledged"]},
                "checkin_id": {"type": "integer"},
                "acknowledged_by": {"type": ["string", "null"]},
                "acknowledged_at": {"type": ["string", "null"], "format": "date-time"}},
        },
    }


def spec() -> dict:
    document = _document()
    # Any request can be refused before its view runs: a NUL character in the path,
    # query or body is a 400 (diary/core/setup.py), so every operation documents it.
    for operations in document["paths"].values():
        for operation in operations.values():
            operation["responses"].setdefault("400", _err("malformed request (e.g. a NUL character)"))
    return document


def _document() -> dict:
    date_param = {"in": "query", "schema": {"type": "string", "format": "date"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "IL-2 home-cure diary API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session"},
                "csrfHeader": {"type": "apiKey", "in": "header", "name": "X-CSRFToken"},
            },
        },
        "paths": {
            "/session": {
                "post": {"operationId": "login", "security": [],
                         "requestBody": {"required": True, "content": {
                             "application/json": {"schema": _ref("Login")}}},
                         "responses": {"200": _json(_ref("Session")),
                                       "400": _err("malformed JSON"),
                                       "401": _err("wrong login or password"),
                                       "415": _err("not JSON"),
                                       "422": _err("missing field"), "429": _err("throttled")}},
                "get": {"operationId": "session", "security": COOKIE,
                        "responses": {"200": _json(_ref("Session")),
                                      "401": _err("not logged in")}},
                "delete": {"operationId": "logout", "security": CSRF,
                           "responses": {"204": {"description": "logged out"},
                                         "400": _err("missing or invalid CSRF token")}},
            },
            "/me/schedule": {"get": {
                "operationId": "mySchedule", "security": COOKIE,
                "responses": {"200": _json(_ref("Schedule")), "401": _err("not logged in"),
                              "403": _err("not a patient")}}},
            "/injections": {"get": {
                "operationId": "listInjections", "security": COOKIE,
                "responses": {"200": _json({"type": "object", "required": ["injections"],
                                            "properties": {"injections": {
                                                "type": "array", "items": _ref("Injection")}}}),
                              "401": _err("not logged in"), "403": _err("not a patient")}},
                            "post": {
                "operationId": "recordInjection", "security": CSRF,
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref("InjectionIn")}}},
                "responses": {"201": _json(_ref("Injection"), "recorded"),
                              "200": _json(_ref("Injection"), "same client_id: the stored record"),
                              "404": _err("no such dose for this patient"),
                              "409": _err("this dose is already recorded"), **COMMON_ERRORS}}},
            "/checkins": {
                "post": {"operationId": "recordCheckIn", "security": CSRF,
                         "requestBody": {"required": True, "content": {
                             "application/json": {"schema": _ref("CheckInIn")}}},
                         "responses": {"201": _json(_ref("CheckInResult"), "recorded"),
                                       "200": _json(_ref("CheckInResult"),
                                                    "same client_id: the stored result"),
                                       "409": _err("client_id used by someone else"),
                                       **COMMON_ERRORS}},
                "get": {"operationId": "listCheckIns", "security": COOKIE,
                        "parameters": [{"name": "from", **date_param}, {"name": "to", **date_param}],
                        "responses": {"200": _json({"type": "object", "required": ["checkins"],
                                                    "properties": {"checkins": {"type": "array"}}}),
                                      "401": _err("not logged in"), "403": _err("not a patient"),
                                      "422": _err("bad date")}},
            },
            "/me/push-key": {"get": {
                "operationId": "pushKey", "security": COOKIE,
                "responses": {"200": _json({"type": "object", "required": ["public_key"],
                                            "properties": {"public_key": {"type": "string"}}}),
                              "401": _err("not logged in"), "403": _err("not a patient"),
                              "404": _err("Web Push not set up")}}},
            "/me/push-subscriptions": {
                "post": {"operationId": "pushSubscribe", "security": CSRF,
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": _ref("PushSubscription")}}},
                         "responses": {"201": _json(_ref("PushSubscriptionRef"), "subscribed"),
                                       "200": _json(_ref("PushSubscriptionRef"), "already known"),
                                       **COMMON_ERRORS}},
                "delete": {"operationId": "pushUnsubscribe", "security": CSRF,
                           "requestBody": {"required": True, "content": {"application/json": {
                               "schema": {"type": "object", "required": ["endpoint"],
                                          "properties": {"endpoint": {"type": "string"}}}}}},
                           "responses": {"204": {"description": "removed"},
                                         "404": _err("no such subscription"), **COMMON_ERRORS}},
            },
            "/alerts": {"get": {
                "operationId": "listAlerts", "security": COOKIE,
                "parameters": [{"name": "status", "in": "query", "schema": {
                    "type": "string", "enum": ["open", "acknowledged", "all"]}}],
                "responses": {"200": _json({"type": "object", "required": ["alerts"],
                                            "properties": {"alerts": {"type": "array",
                                                                      "items": _ref("Alert")}}}),
                              "401": _err("not logged in"), "403": _err("not staff"),
                              "422": _err("unknown status")}}},
            "/alerts/{alert_id}/acknowledge": {"post": {
                "operationId": "acknowledgeAlert", "security": CSRF,
                "parameters": [{"name": "alert_id", "in": "path", "required": True,
                                "schema": {"type": "integer"}}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["action"],
                    "properties": {"action": {"type": "string", "minLength": 1,
                                              "maxLength": 2000}}}}}},
                "responses": {"200": _json(_ref("Alert")), "404": _err("no such alert"),
                              "409": _err("already acknowledged"), **COMMON_ERRORS}}},
        },
    }


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(spec())
