"""The IL-2 home-cure diary: create_app() builds the Flask application."""
import importlib
import importlib.util
import logging
import os

from flask import Flask, has_request_context, request, session
from flask_login import current_user

from diary import config as config_module
from diary import extensions as ext

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _select_locale():
    languages = ("en", "fr")
    if not has_request_context():
        return "en"  # command line and jobs: messages carry their own language
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    # The browser's list, best first: the first whose main tag we speak ("fr" of "fr-FR").
    for tag, _quality in request.accept_languages:
        primary = tag.split("-")[0].lower()
        if primary in languages:
            return primary
    return "en"


def _sqlite_pragmas(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    import sqlalchemy as sa

    with app.app_context():
        engine = ext.db.engine

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()


def _ping_idle_connections(app):
    """Test a pooled connection before use when it has lain idle, not before every use.

    A connection that waited in the pool may have been cut (the database restarted, a
    firewall dropped it): it is pinged and, if dead, replaced before the request sees it.
    A connection handed back a moment ago is not pinged (SQLAlchemy's pool_pre_ping
    would cost every request a round trip); if the server went away in that moment,
    the statement fails, the request is answered 503, and SQLAlchemy discards every
    connection of the pool opened before the failure.
    """
    import time

    import sqlalchemy as sa

    idle = app.config["DB_PING_AFTER_IDLE_SECONDS"]
    with app.app_context():
        engine = ext.db.engine

    @sa.event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record):
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy):
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle:
            return  # just connected, or back from a request a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            # the pool closes this one and checks out (or opens) another
            raise sa.exc.DisconnectionError(str(exc)) from exc


def _end_reads_with_commit(app):
    """End a read's transaction with COMMIT, not ROLLBACK (see diary.core.transactions)."""
    from flask import request

    from diary.core.transactions import end_read_with_commit

    @app.teardown_request
    def _commit_reads(exc):
        if exc is None and request.method in ("GET", "HEAD") and ext.db.session.registry.has():
            end_read_with_commit(ext.db.session())


def _check_limits_in_the_limited_views_only(app):
    """Leave out Flask-Limiter's check before every request when it has nothing to check.

    The diary limits the views it decorates (the logins, the choice of a password), and
    each decorated view checks its own limits when it is called. The hook Flask-Limiter
    adds before every request exists for default, application and blueprint limits: the
    diary sets none, and the hook still cost every request about 0.5M instructions
    (bench/request_cpu.py --instructions: a check-in 9.99M -> 9.52M, a Today page
    12.76M -> 12.25M). Should such a limit be configured, the hook stays.
    """
    limiter = ext.limiter
    manager = limiter.limit_manager
    if manager.default_limits or manager.application_limits or manager._blueprint_limits:
        return
    funcs = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in funcs:
        funcs.remove(limiter._check_request_limit)


# Feature packages, in the order their blueprints register. A feature's
# `views.py` (blueprint `bp`), `models.py` and `setup.py` (`init_app(app)`)
# are found by name, so adding a feature means adding it here only.
FEATURES = ("core", "accounts", "audit", "protocol", "injections", "checkins", "alerts",
            "notifications", "reminders", "dashboards", "exports", "offline")


def _feature_module(feature: str, name: str):
    qualified = f"diary.{feature}.{name}"
    if importlib.util.find_spec(f"diary.{feature}") is None:
        return None
    if importlib.util.find_spec(qualified) is None:
        return None
    return importlib.import_module(qualified)


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.environ.get("DIARY_INSTANCE_PATH") or os.path.join(PROJECT_ROOT, "instance"),
        template_folder=os.path.join(PROJECT_ROOT, "templates"),
        static_folder=os.path.join(PROJECT_ROOT, "static"),
    )
    app.config.update(config_module.load(app.instance_path))
    if test_config:
        app.config.update(test_config)
    if app.config.get("PROXY_FIX"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_FIX"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    ext.db.init_app(app)
    _sqlite_pragmas(app)
    _ping_idle_connections(app)
    _end_reads_with_commit(app)
    ext.migrate.init_app(app, ext.db, directory=os.path.join(PROJECT_ROOT, "migrations"))
    ext.csrf.init_app(app)
    ext.limiter.init_app(app)
    ext.babel.init_app(app, locale_selector=_select_locale,
                   default_translation_directories=os.path.join(PROJECT_ROOT, "translations"))
    ext.login_manager.init_app(app)

    from diary import errors, models

    models.import_all()
    errors.register(app)
    for feature in FEATURES:
        views = _feature_module(feature, "views")
        if views is not None:
            app.register_blueprint(views.bp)
        setup = _feature_module(feature, "setup")
        if setup is not None:
            setup.init_app(app)  # hooks: on_enrol, demo history, nav entries
    from diary.api import bp as api_bp

    app.register_blueprint(api_bp)

    from diary.cli import diary_cli

    app.cli.add_command(diary_cli)

    from diary.core.nav import nav_items

    @app.context_processor
    def _template_globals():
        from flask_babel import get_locale
        return {"current_locale": str(get_locale() or "en"), "nav_items": nav_items}

    _check_limits_in_the_limited_views_only(app)
    return app
