"""JSON API v1 (../shared/design/api.md): the same services the pages use."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from diary.api import session  # noqa: E402,F401  (routes)
