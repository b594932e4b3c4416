"""Every route of the app against every role, generated from app.url_map.

A new route fails `test_every_route_has_a_policy` until it is added to POLICY
(and, if it has a new URL parameter, to the parameter map in
tests/helpers_security.py). URL parameters name objects of patient A of site 1:
someone else's for patient B and for the staff of site 2.

Expected, for each role:
- anonymous: 401 with the contract's error body (API) or a redirect to /login (pages);
- a role the route's decorator does not let in: 403;
- a role let in, on a route naming objects out of its scope: 404 (hidden, as if absent);
- a role let in by the decorator but refused by the view (GATES): 403;
- a role allowed, on its own objects: success (GET: 2xx or 3xx not to /login;
  writes with an empty body: answered by the view, i.e. anything but 401/403/404/5xx);
- never a 5xx.
"""
import pytest

from diary import create_app
from tests.conftest import make_config
from tests.helpers_security import (
    APP_ROLE,
    IN_SCOPE,
    LOGINS,
    build_objects,
    clients,
    fill,
    param_names,
)

ANY = "anyone, logged in or not"
LOGGED_IN = "any logged-in user"
PATIENT = ("patient",)
STAFF = ("investigator", "coordinator", "admin")
CLINICAL = ("investigator", "coordinator")
EXPORTERS = ("coordinator", "admin")
ADMIN = ("admin",)

#: endpoint -> who may use it: ANY, LOGGED_IN, or the app roles allowed
POLICY = {
    # public pages and files
    "static": ANY,
    "core.index": ANY,
    "core.healthz": ANY,
    "offline.favicon": ANY,
    "offline.service_worker": ANY,
    "offline.offline_page": ANY,
    "accounts.login": ANY,
    "accounts.logout": ANY,
    "accounts.enrol": ANY,
    "accounts.invite": ANY,
    "accounts.language": ANY,
    "api.openapi_json": ANY,
    "api.session_create": ANY,
    "api.session_read": ANY,
    "api.session_delete": ANY,
    "core.welcome": LOGGED_IN,
    # the photo of a check-in: the patient, their site's staff, an admin (scope decides)
    "checkins.photo": LOGGED_IN,
    # patient
    "injections.today": PATIENT,
    "injections.calendar": PATIENT,
    "injections.record": PATIENT,
    "checkins.new": PATIENT,
    "checkins.save": PATIENT,
    "checkins.advice": PATIENT,
    "dashboards.my_history": PATIENT,
    "reminders.settings": PATIENT,
    "api.my_schedule": PATIENT,
    "api.checkins_create": PATIENT,
    "api.checkins_list": PATIENT,
    "api.create_injection": PATIENT,
    "api.list_injections": PATIENT,
    "api.push_key": PATIENT,
    "api.push_subscribe": PATIENT,
    "api.push_unsubscribe": PATIENT,
    # staff
    "patients.index": STAFF,
    "patients.show": STAFF,
    "patients.new": EXPORTERS,
    "patients.new_code": EXPORTERS,
    "patients.withdraw": EXPORTERS,
    "injections.plans": STAFF,
    "injections.staff_plan": STAFF,
    "injections.staff_record": CLINICAL,
    "injections.correct": CLINICAL,
    "injections.change_dose": CLINICAL,
    "injections.shift": CLINICAL,
    "alerts.rules_table": STAFF,
    "alert_inbox.inbox": STAFF,
    "alert_inbox.alert": STAFF,
    "alert_inbox.acknowledge_view": ("investigator",),
    "api.alerts_list": CLINICAL,
    "api.alert_acknowledge": ("investigator",),
    "dashboards.dashboard": STAFF,
    "dashboards.dashboard_csv": STAFF,
    "dashboards.patient_history": STAFF,
    "dashboards.value_audit": STAFF,
    "dashboards.correct_checkin": CLINICAL,
    "reminders.sent": EXPORTERS,
    "exports.index": EXPORTERS,
    "exports.table_csv": EXPORTERS,
    "exports.audit_csv": EXPORTERS,
    "exports.fhir_bundle": EXPORTERS,
    # admin
    "accounts_admin.sites": ADMIN,
    "accounts_admin.site_language": ADMIN,
    "accounts_admin.staff": ADMIN,
    "notifications.outbox": ADMIN,
    "notifications.message": ADMIN,
    "notifications.retry": ADMIN,
}

#: endpoint -> the roles its decorator lets in, where the view then refuses some of them:
#: a coordinator may see an alert's existence (403 on their site, 404 on another's)
GATES = {
    "api.alert_acknowledge": CLINICAL,
}

#: URL parameters naming patient data: out of the role's scope -> 404
SCOPED_PARAMS = {"patient_id", "checkin_id", "alert_id", "dose_id", "record_id", "object_id"}

#: (endpoint, method, role) -> the status expected instead of the general rule
SPECIAL = {
    # "who am I": 401 when nobody is logged in, by the contract
    ("api.session_read", "GET", "anonymous"): {401},
    # an empty login form is a failed login (the form's answer, not a refusal of access)
    ("accounts.login", "POST", "anonymous"): {401},
}

#: endpoint -> the form fields a write names its object with (the rest of the body stays
#: empty): without them the view answers 404 for the missing object, not for access
BODIES = {
    "injections.change_dose": lambda params: {"dose_id": params["dose_id"]},
}

SKIP_METHODS = {"HEAD", "OPTIONS"}


def _routes():
    app = create_app(make_config())
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - SKIP_METHODS):
            out.append((rule.rule, rule.endpoint, method))
    return sorted(out)


ROUTES = _routes()


def _expected(endpoint: str, method: str, role: str, rule: str) -> str:
    """'ok', 'login' (anonymous refused), 403, 404 or 'special'."""
    if (endpoint, method, role) in SPECIAL:
        return "special"
    policy = POLICY[endpoint]
    scoped = bool(SCOPED_PARAMS & set(param_names(rule)))
    app_role = APP_ROLE[role]
    if policy == ANY:
        return "ok"
    if app_role is None:
        return "login"
    gate = GATES.get(endpoint, policy if policy != LOGGED_IN else None)
    if gate is not None and app_role not in gate:
        return 403
    if scoped and role not in IN_SCOPE:
        return 404
    if policy != LOGGED_IN and app_role not in policy:
        return 403
    return "ok"


def test_every_route_has_a_policy(app):
    missing = sorted({endpoint for _r, endpoint, _m in ROUTES if endpoint not in POLICY})
    assert not missing, f"routes with no access policy in this test: {missing}"
    stale = sorted(set(POLICY) - {endpoint for _r, endpoint, _m in ROUTES})
    assert not stale, f"policies for routes that no longer exist: {stale}"


def test_policy_matches_the_views_decorators(app):
    """The table says what the decorators enforce: role_required/api_role_required
    set `allowed_roles` on the view; a view without it must be ANY or LOGGED_IN."""
    wrong = []
    for endpoint, view in app.view_functions.items():
        declared = getattr(view, "allowed_roles", None)
        policy = POLICY.get(endpoint)
        if declared is None:
            if policy not in (ANY, LOGGED_IN):
                wrong.append(f"{endpoint}: no role decorator, but the policy is {policy}")
        else:
            expected = GATES.get(endpoint, policy)
            if policy in (ANY, LOGGED_IN) or set(declared) != set(expected):
                wrong.append(f"{endpoint}: decorator {declared}, policy {policy}")
    assert not wrong, "\n".join(wrong)


def test_every_url_parameter_has_an_object(world, frozen_clock):
    objs = build_objects(world)
    for rule, _endpoint, _method in ROUTES:
        if not rule.startswith("/static/"):
            fill(rule, objs.params)  # raises on a parameter nobody mapped


def _order(endpoint, method, rule):
    # refusals first: a refused request must change nothing, so the allowed ones after it
    # still find the world as built; anonymous first among the allowed
    def key(role):
        exp = _expected(endpoint, method, role, rule)
        return (exp == "ok", role != "anonymous")
    return sorted(LOGINS, key=key)


def _is_json_error(resp) -> bool:
    body = resp.get_json(silent=True)
    return (isinstance(body, dict) and isinstance(body.get("error"), dict)
            and isinstance(body["error"].get("code"), str)
            and isinstance(body["error"].get("message"), str))


def _check_route(by_role, objs, rule, endpoint, method) -> list[str]:
    """Every role against one route; the problems found, as lines."""
    url = fill(rule, objs.params)
    api = rule.startswith("/api/")
    problems = []
    for role in _order(endpoint, method, rule):
        expected = _expected(endpoint, method, role, rule)
        kwargs = {}
        if method != "GET":
            body = BODIES[endpoint](objs.params) if endpoint in BODIES else {}
            kwargs = {"json": body} if api else {"data": body}
        resp = by_role[role].open(url, method=method, **kwargs)
        resp.close()
        status = resp.status_code
        location = resp.headers.get("Location", "")
        got = f"{status} {location}".strip()
        where = f"{method} {url} ({endpoint}) as {role}"
        if status >= 500:
            problems.append(f"{where}: {got} (a server error)")
            continue
        if api and status >= 400 and not _is_json_error(resp):
            problems.append(f"{where}: {status} without the contract's JSON error body")
        if expected == "special":
            if status not in SPECIAL[(endpoint, method, role)]:
                problems.append(f"{where}: expected {SPECIAL[(endpoint, method, role)]}, "
                                f"got {got}")
        elif expected == "login":
            if api:
                if status != 401:
                    problems.append(f"{where}: expected 401, got {got}")
            elif not (status == 302 and "/login" in location):
                problems.append(f"{where}: expected a redirect to /login, got {got}")
        elif expected in (403, 404):
            if status != expected:
                problems.append(f"{where}: expected {expected}, got {got}")
        elif method == "GET":
            if not (200 <= status < 400) or (role != "anonymous" and "/login" in location):
                problems.append(f"{where}: expected success, got {got}")
        elif status in (401, 403, 404):
            problems.append(f"{where}: expected the view to answer, got {got}")
    return problems


GET_ROUTES = [r for r in ROUTES if r[1] != "static" and r[2] == "GET"]
WRITE_ROUTES = [r for r in ROUTES if r[1] != "static" and r[2] != "GET"]


@pytest.mark.config(VAPID_PUBLIC_KEY="BAccessMatrixTestKey")  # push set up: push-key answers
def test_every_get_route_against_every_role(app, world, frozen_clock):
    # reads change nothing a later read depends on: one world for all of them
    objs = build_objects(world)
    by_role = clients(app)
    problems = []
    for rule, endpoint, method in GET_ROUTES:
        problems += _check_route(by_role, objs, rule, endpoint, method)
    assert not problems, "\n".join(problems)


@pytest.mark.config(VAPID_PUBLIC_KEY="BAccessMatrixTestKey")
@pytest.mark.parametrize(("rule", "endpoint", "method"), WRITE_ROUTES,
                         ids=[f"{m} {r}" for r, _e, m in WRITE_ROUTES])
def test_write_route_against_every_role(app, world, frozen_clock, rule, endpoint, method):
    # a fresh world for each write: what one allowed role changed cannot hide another's answer
    objs = build_objects(world)
    problems = _check_route(clients(app), objs, rule, endpoint, method)
    assert not problems, "\n".join(problems)


def test_matrix_covers_state_changing_routes_of_every_kind():
    """The generated list is the app's: spot checks that it did not come out empty."""
    methods = {m for _r, _e, m in ROUTES}
    assert {"GET", "POST", "DELETE"} <= methods
    assert len(ROUTES) > 60
    assert GET_ROUTES and WRITE_ROUTES


@pytest.mark.config(VAPID_PUBLIC_KEY="BAccessMatrixTestKey")
def test_ids_beyond_the_database_integer_are_404(app, world, frozen_clock):
    """An id past PostgreSQL's integer (2**31) in the URL is a 404, not a database error."""
    objs = build_objects(world)
    huge = {name: (2**31 if name in SCOPED_PARAMS | {"message_id"} else value)
            for name, value in objs.params.items()}
    by_role = clients(app)
    problems = []
    for rule, endpoint, method in ROUTES:
        if endpoint == "static" or not (SCOPED_PARAMS | {"message_id"}) & set(param_names(rule)):
            continue
        url = fill(rule, huge)
        for role in ("patient_a", "inv1", "admin"):
            resp = by_role[role].open(url, method=method)
            resp.close()
            if resp.status_code not in (403, 404):
                problems.append(f"{method} {url} as {role}: {resp.status_code}")
    assert not problems, "\n".join(problems)
