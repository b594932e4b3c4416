"""Role checks as decorators. Anonymous -> login (401 for the API); wrong role -> 403."""
from functools import wraps

from flask import abort
from flask_login import current_user

from diary.extensions import login_manager


def role_required(*roles: str):
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = roles  # read by the access-matrix test
        return wrapped

    return decorator


def staff_required(view):
    return role_required("investigator", "coordinator", "admin")(view)
