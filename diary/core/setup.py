"""Numbers, days and times in the reader's language (template filters); security headers on
every response; staff sessions expire after inactivity."""
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfoNotFoundError

from babel.dates import get_datetime_format
from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_babel import (
    format_date,
    format_datetime,
    format_decimal,
    get_locale,
    get_translations,
)
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from jinja2 import pass_context
from markupsafe import Markup

from diary import clock
from diary.core.nav import built_once

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'none'; manifest-src 'self'; worker-src 'self'")


def decimal(value, digits: int | None = None) -> str:
    """A number in the reader's language: 1.5 in English, 1,5 in French."""
    if value is None or value == "":
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    pattern = "0." + "0" * digits if digits else "0.###"
    return format_decimal(number, format=pattern)


def long_day(value) -> str:
    """A day (a date or YYYY-MM-DD) written out in the reader's language."""
    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return format_date(day, "full")


#: day, month's name, year: never ambiguous (30/11 in Paris is 11/30 in an English
#: locale's short format), in the reader's language: 30 Nov 2026, 30 nov. 2026
DAY_PATTERN = "d MMM y"


def short_day(value) -> str:
    """A day (a date or YYYY-MM-DD) in the reader's language: 30 Nov 2026, 30 nov. 2026."""
    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return format_date(day, DAY_PATTERN)


def local_time(moment: datetime | None, tz_name: str | None = None, seconds: bool = False) -> str:
    """An instant as the clock of `tz_name` reads it, the zone named, in the reader's language.

    "30 Nov 2026, 14:05 (Europe/Paris)", "30 nov. 2026, 14:05 (Europe/Paris)". Staff pages show
    the time of the record's site; with no zone (a row of no site) it is UTC, labelled UTC.
    """
    if moment is None:
        return ""
    if moment.tzinfo is None:  # stored times are UTC; a naive one is taken as such
        moment = moment.replace(tzinfo=UTC)
    try:
        wall = clock.local_datetime(moment, tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):  # not a zone: say plainly that it is UTC
        tz_name, wall = "UTC", moment.astimezone(UTC)
    return f"{wall_time(wall, seconds)} ({tz_name or 'UTC'})"


def wall_time(wall: datetime | None, seconds: bool = False) -> str:
    """A time as a clock reads it (the page names the zone), in the reader's language:
    "30 Nov 2026, 14:05", "30 nov. 2026, 14:05"."""
    if wall is None:
        return ""
    time_pattern = "HH:mm:ss" if seconds else "HH:mm"  # 24-hour clock, as on the wards
    pattern = (get_datetime_format("medium", locale=get_locale())
               .replace("{1}", DAY_PATTERN).replace("{0}", time_pattern))
    return format_datetime(wall, pattern, rebase=False)


def translations_for_render() -> dict:
    """`gettext` (and `_`) and `ngettext` for one template render, bound to its catalog.

    Flask-Babel's template callables look up the language and its catalog at every call
    (measured 5.9 us a call against 0.3 us; a patient page makes about 70). A context
    processor runs at each render, inside any force_locale around it, so binding the
    catalog there follows the language in force. Jinja's new-style semantics are kept:
    the translation is marked safe when autoescaping and the variables, escaped, are
    put in with %; ngettext also gets `num`.
    """
    catalog = get_translations()

    def fill(context, text, variables):
        # Markup marks the catalog's own text (ours, not a user's) as safe, as Jinja does;
        # the variables put into it with % are escaped by Markup's %.
        if context.eval_ctx.autoescape:
            text = Markup(text)  # nosec B704
        return text % variables

    @pass_context
    def gettext(context, string, **variables):
        return fill(context, catalog.ugettext(string), variables)

    @pass_context
    def ngettext(context, singular, plural, num, **variables):
        variables.setdefault("num", num)
        return fill(context, catalog.ungettext(singular, plural, num), variables)

    return {"gettext": gettext, "ngettext": ngettext}


MAX_ID = 2**31 - 1  # ids are INTEGER columns


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


def refuse_nul_characters():
    """A NUL character is never valid text here, and PostgreSQL refuses to store one.

    Checked once for every request (path, query, form fields, JSON body) so that
    no field anywhere turns it into a server error. Uploaded files are not text
    and are not checked.
    """
    from diary.errors import error_response

    values = [request.path, *request.args.listvalues()]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values.extend(request.form.listvalues())
    elif request.content_length or request.is_json:
        values.append(request.get_json(silent=True, force=True))
    if any(_has_nul(v) for v in values):
        return error_response(400, _("The request contains a NUL character, which is not "
                                     "allowed in any field."), code="nul_character")
    return None


def static_url(filename: str) -> str:
    """url_for("static", filename=...), built once for each file and script root: the
    page frame links six static files on every page (about 2 % of a Today page's CPU)."""
    return built_once("diary.static_urls", (request.script_root, filename),
                      lambda: url_for("static", filename=filename))


def init_app(app):
    app.before_request(refuse_nul_characters)
    app.add_template_global(static_url)
    app.add_template_filter(decimal, "decimal")
    app.add_template_filter(long_day, "long_day")
    app.add_template_filter(short_day, "short_day")
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(wall_time, "wall_time")
    app.context_processor(translations_for_render)
    app.config.setdefault("STAFF_IDLE_MINUTES", 30)

    @app.after_request
    def renew_session_daily(response):
        """A logged-in user's 30 days start again from the first request of each day.

        Re-signing the cookie for every response would cost every request (a patient's
        phone sends one every few seconds while it replays its queue) for an expiry that
        moves by seconds.
        """
        if session.permanent:
            today = clock.now_utc().date().isoformat()
            if session.get("renewed") != today:
                session["renewed"] = today
        return response

    @app.url_value_preprocessor
    def ids_within_the_database(endpoint, values):
        # <int:...> matches any length; past PostgreSQL's integer no row exists, and the
        # query itself would fail (a 500): such an id is simply not found
        if values and any(isinstance(v, int) and v > MAX_ID for v in values.values()):
            abort(404)

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
        if current_app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint != "static" and "Cache-Control" not in headers:
            # pages carry health data: not kept by shared caches
            # (the session, not current_user: after the commit, reading the user would
            # query the database again, and fail the response if it has just gone away)
            headers["Cache-Control"] = "no-store" if "_user_id" in session else "no-cache"
        return response

    @app.before_request
    def staff_idle_timeout():
        """Staff are logged out after STAFF_IDLE_MINUTES without a request."""
        if request.endpoint == "static" or not current_user.is_authenticated:
            return None
        if not current_user.is_staff:
            return None
        now = clock.now_utc()
        last = session.get("seen_at")
        limit = timedelta(minutes=current_app.config["STAFF_IDLE_MINUTES"])
        if last is not None and now - datetime.fromisoformat(last) > limit:
            logout_user()
            session.pop("seen_at", None)
            if request.path.startswith("/api/"):
                from diary.errors import error_response
                return error_response(401, _("Your session expired after inactivity. Please log in again."))
            flash(_("Your session expired after inactivity. Please log in again."), "info")
            return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
        session["seen_at"] = now.isoformat()
        return None
