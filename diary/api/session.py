"""POST/GET/DELETE /api/v1/session."""
from flask import jsonify, request, session
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import generate_csrf

from diary import clock
from diary.accounts import services
from diary.accounts.views import login_failed_message, login_rate_limit
from diary.api import bp
from diary.api.common import json_body
from diary.errors import Invalid, error_response
from diary.extensions import csrf, db, limiter


def user_json(user) -> dict:
    body = {"id": user.id, "role": user.role}
    if user.patient:
        body["study_code"] = user.patient.study_code
        body["site"] = user.patient.site.name
    else:
        body["email"] = user.email
        body["sites"] = [s.name for s in user.sites]
        body["site"] = user.sites[0].name if user.sites else None
    return body


@bp.post("/session")
@csrf.exempt  # nothing to protect before login; JSON content type stops cross-site forms
@limiter.shared_limit(login_rate_limit, scope="login")
def session_create():

    if not request.is_json:
        return error_response(415, _("Send the login as JSON (Content-Type: application/json)."))
    data = json_body()
    login, password = data.get("login"), data.get("password")
    fields = {}
    if not isinstance(login, str) or not login.strip():
        fields["login"] = _("required")
    if not isinstance(password, str) or not password:
        fields["password"] = _("required")
    if fields:
        raise Invalid(_("Give a login and a password."), fields)
    user = services.authenticate(login, password, clock.now_utc())
    db.session.commit()
    if user is None:
        return error_response(401, login_failed_message(), code="invalid_credentials")
    login_user(user)
    session.permanent = True
    return jsonify({"user": user_json(user), "csrf_token": generate_csrf()})


@bp.get("/session")
def session_read():
    if not current_user.is_authenticated:
        return error_response(401)
    return jsonify({"user": user_json(current_user), "csrf_token": generate_csrf()})


@bp.delete("/session")
def session_delete():
    logout_user()
    return "", 204
