"""Domain errors raised by services, and the error pages / JSON errors.

Services raise `Invalid` (422), `Conflict` (409) or `NotFound` (404) with a
human sentence and, where a field is at fault, `fields`. Pages show the
message; the API returns the contract's error body.
"""
import sqlalchemy as sa
from flask import jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    status = 422
    code = "invalid"

    def __init__(self, message: str, fields: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code


class Invalid(DomainError):
    status = 422
    code = "invalid"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class NotFound(DomainError):
    status = 404
    code = "not_found"


_CODES = {
    400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
    422: "invalid", 429: "throttled", 500: "server_error", 503: "unavailable",
}


def _messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood."),
        401: _("Please log in."),
        403: _("You are not allowed to do this."),
        404: _("This page or record does not exist."),
        405: _("This action is not allowed here."),
        409: _("This conflicts with what is already recorded."),
        413: _("What you sent is too large."),
        415: _("This kind of content is not accepted."),
        422: _("Some values are not valid."),
        429: _("Too many attempts. Please wait a little and try again."),
        500: _("Something went wrong on our side. Nothing you entered was lost; please try again."),
        503: _("The diary is briefly unavailable. Nothing was saved; please try again in a "
               "minute."),
    }


def wants_json() -> bool:
    return request.path.startswith("/api/")


def json_error(status: int, message: str | None = None, code: str | None = None,
               fields: dict | None = None):
    body = {"code": code or _CODES.get(status, "error"),
            "message": message or _messages().get(status, _("Error."))}
    if fields:
        body["fields"] = fields
    return jsonify({"error": body}), status


def error_response(status: int, message: str | None = None, code: str | None = None,
                   fields: dict | None = None):
    if wants_json():
        return json_error(status, message, code, fields)
    message = message or _messages().get(status, _("Error."))
    return render_template("errors/error.html", status=status, message=message), status


def register(app):
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        return error_response(exc.status, exc.message, exc.code, exc.fields)

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return error_response(400, _("Your session form expired or is missing its security "
                                     "token. Please reload the page and try again."),
                              code="csrf_invalid")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 429:
            return error_response(429)
        return error_response(exc.code or 500, None)

    @app.errorhandler(sa.exc.OperationalError)
    @app.errorhandler(sa.exc.InterfaceError)
    def database_unreachable(exc):
        # The database restarting or out of reach: the client retries (the phone's queue
        # keeps the check-in); the pool reconnects by itself (diary/__init__.py).
        app.logger.warning("database unreachable: %s", str(exc).splitlines()[0][:200])
        from diary.extensions import db
        try:
            db.session.rollback()
        except sa.exc.DBAPIError:
            pass
        try:
            body, status = error_response(503)
        except sa.exc.DBAPIError:
            # choosing the language needs the logged-in user, from the database: plain words
            text = "The diary is briefly unavailable. Nothing was saved; please try again."
            body = (jsonify({"error": {"code": "unavailable", "message": text}})
                    if wants_json() else text)
            status = 503
        return body, status, {"Retry-After": "5"}

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        from diary.extensions import db
        db.session.rollback()
        return error_response(500)
