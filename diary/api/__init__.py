"""JSON API v1 (../shared/design/api.md): the same services the pages use.

Every module in this package defines routes on `bp`; each is imported here.
"""
import importlib
import pkgutil

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name != "common":
        importlib.import_module(f"{__name__}.{_info.name}")
