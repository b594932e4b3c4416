"""Helpers for the JSON API: body parsing, the contract's errors, the login check."""
from functools import wraps

from flask import abort, request
from flask_babel import gettext as _
from flask_login import current_user

from diary.errors import Invalid


class BadJSON(Exception):
    pass


def _has_lone_surrogate(data) -> bool:
    """True if a string anywhere in the parsed JSON holds a UTF-16 surrogate."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if any("\ud800" <= ch <= "\udfff" for ch in value):
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def json_body(max_keys: int = 100) -> dict:
    """The request's JSON object, or a 400 (malformed) / 415 error."""
    from diary.errors import DomainError

    data = request.get_json(silent=True, force=True)
    if not isinstance(data, dict):
        err = DomainError(_("The request body must be a JSON object."), code="malformed_json")
        err.status = 400
        raise err
    if _has_lone_surrogate(data):
        # "\ud800" is well-formed JSON but no text: it could not be stored nor sent back
        err = DomainError(_("The request body holds characters that are not valid text."),
                          code="malformed_json")
        err.status = 400
        raise err
    if len(data) > max_keys:
        raise Invalid(_("Too many fields."))
    return data


def api_role_required(*roles: str):
    """Like role_required, for the API: 401 when not logged in, 403 for another role."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                abort(401)
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = roles
        return wrapped

    return decorator
