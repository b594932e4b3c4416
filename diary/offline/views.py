"""The service worker at /sw.js (scope "/"), the offline fallback page and /favicon.ico.

The worker script is static/sw.js with two placeholders filled here: the app
shell's URLs and a version made from their contents, so that any change to a
shell file changes the worker's bytes and the browser installs the new one.
"""
import hashlib
import json
import os
from functools import lru_cache

from flask import Blueprint, Response, current_app, render_template, send_from_directory, url_for

bp = Blueprint("offline", __name__)

#: static files the worker keeps for offline use (no patient data in any of them)
SHELL_FILES = ("css/app.css", "js/app.js", "js/queue.js", "js/offline.js",
               "manifest.webmanifest", "icons/icon-192.png", "icons/favicon-32.png")
#: scripts the worker imports; the reminders' push handlers only where that feature exists
WORKER_IMPORTS = ("js/queue.js", "js/push-sw.js")


@lru_cache(maxsize=4)
def _worker_source(static_folder: str, debug: bool) -> str:
    imports = [name for name in WORKER_IMPORTS
               if os.path.exists(os.path.join(static_folder, name))]
    digest = hashlib.sha256()
    for name in SHELL_FILES + tuple(imports) + ("sw.js",):
        with open(os.path.join(static_folder, name), "rb") as fh:
            digest.update(fh.read())
    with open(os.path.join(static_folder, "sw.js"), encoding="utf-8") as fh:
        source = fh.read()
    shell = [url_for("static", filename=name) for name in SHELL_FILES]
    shell.append(url_for("offline.offline_page"))
    return (source.replace('"__SHELL_VERSION__"', json.dumps(digest.hexdigest()[:12]))
            .replace('["__SHELL_URLS__"]', json.dumps(shell))
            .replace('["__IMPORTS__"]', json.dumps([url_for("static", filename=n) for n in imports])))


@bp.route("/sw.js")
def service_worker():
    static = current_app.static_folder
    if current_app.debug or current_app.testing:
        _worker_source.cache_clear()  # edited files show up without a restart
    resp = Response(_worker_source(static, current_app.debug), mimetype="text/javascript")
    resp.headers["Service-Worker-Allowed"] = "/"
    resp.headers["Cache-Control"] = "no-cache"  # the browser checks for a new worker each time
    return resp


@bp.route("/offline")
def offline_page():
    """What the worker shows for a page it has no copy of while the phone is offline."""
    resp = Response(render_template("offline/offline.html"))
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.route("/favicon.ico")
def favicon():
    return send_from_directory(os.path.join(current_app.static_folder, "icons"), "favicon.ico",
                               max_age=86400)
