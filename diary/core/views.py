"""The front door (sends each role to its home page) and the health check."""
import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, redirect, render_template, url_for
from flask_login import current_user, login_required

from diary.extensions import db

bp = Blueprint("core", __name__)

# Each feature registers its role's home endpoint here when it exists.
HOME_ENDPOINTS: dict[str, str] = {}


@bp.route("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    endpoint = HOME_ENDPOINTS.get(current_user.role, "core.welcome")
    return redirect(url_for(endpoint))


@bp.route("/welcome")
@login_required
def welcome():
    return render_template("core/welcome.html")


@bp.route("/healthz")
def healthz():
    status, code = {"status": "ok", "database": "ok"}, 200
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any database failure is "down"
        current_app.logger.exception("health check: database unreachable")
        db.session.rollback()
        status.update(status="degraded", database="down")
        code = 503
    beat = None
    try:
        from diary.scheduler import last_beat
        beat = last_beat()
    except ImportError:
        beat = None
    except Exception:  # noqa: BLE001
        db.session.rollback()
    status["scheduler"] = {"last_beat": beat.isoformat() if beat else None}
    return jsonify(status), code
