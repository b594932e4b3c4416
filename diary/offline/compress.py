"""Gzip for text responses: a phone on a weak connection loads the diary in a few KB.

Pages, CSS, JavaScript, JSON and the manifest are compressed when the browser
accepts gzip (a reverse proxy that compresses already sees Content-Encoding and
leaves them). BREACH needs an attacker's input reflected beside a secret in a
response the victim's browser fetches with its cookies; the session cookie is
SameSite=Lax, so a cross-site POST (the only way such input reaches our pages)
arrives without the session, and DIARY_GZIP=0 turns compression off.
"""
import gzip
import os

from flask import request

TYPES = {"text/html", "text/css", "text/javascript", "application/javascript",
         "application/json", "application/manifest+json", "image/svg+xml"}
MIN_BYTES = 500


def compress(response):
    if (response.status_code not in (200, 201, 422)
            or (response.is_streamed and not response.direct_passthrough)  # files are fine
            or "Content-Encoding" in response.headers or response.mimetype not in TYPES
            or "gzip" not in request.headers.get("Accept-Encoding", "")):
        return response
    response.direct_passthrough = False  # static files: read the file into the body
    data = response.get_data()
    if len(data) < MIN_BYTES:
        return response
    response.set_data(gzip.compress(data, compresslevel=6, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    etag, weak = response.get_etag()
    if etag and not weak:
        response.set_etag(etag + "-gz")  # another representation, another validator
    return response


def init_app(app):
    app.config.setdefault("GZIP", os.environ.get("DIARY_GZIP", "1") != "0")
    if app.config["GZIP"]:
        app.after_request(compress)
