"""The admin's outbox page: what was sent, what waits for a retry, what failed."""
import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from diary import audit, clock
from diary.accounts.decorators import role_required
from diary.accounts.models import Site
from diary.extensions import db
from diary.notifications.models import STATUSES, OutboxMessage, SchedulerLease
from diary.notifications.services import MAX_ATTEMPTS, retry_now

bp = Blueprint("notifications", __name__, url_prefix="/admin/outbox")

PAGE_SIZE = 100


def _site_zones() -> dict[int, str]:
    """Each site's time zone: a message about a site shows its times in that site's zone
    (a message of no site, in UTC)."""
    return dict(db.session.execute(sa.select(Site.id, Site.timezone)).all())


@bp.route("")
@role_required("admin")
def outbox():
    status = request.args.get("status", "all")
    via = request.args.get("via", "")
    stmt = sa.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(PAGE_SIZE)
    if status in STATUSES:
        stmt = stmt.where(OutboxMessage.status == status)
    else:
        status = "all"
    if via == "log":
        stmt = stmt.where(OutboxMessage.delivered_via == "log")
    messages = db.session.execute(stmt).scalars().all()
    counts = dict(db.session.execute(
        sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)).all())
    lease = db.session.get(SchedulerLease, "scheduler")
    return render_template("notifications/outbox.html", messages=messages, status=status,
                           via=via, counts=counts, lease=lease, max_attempts=MAX_ATTEMPTS,
                           statuses=STATUSES, zones=_site_zones())


@bp.route("/<int:message_id>")
@role_required("admin")
def message(message_id: int):
    msg = db.session.get(OutboxMessage, message_id) or abort(404)
    site = db.session.get(Site, msg.site_id) if msg.site_id else None
    tz = site.timezone if site else None  # no site: UTC
    return render_template("notifications/message.html", msg=msg, max_attempts=MAX_ATTEMPTS,
                           tz=tz)


@bp.route("/<int:message_id>/retry", methods=["POST"])
@role_required("admin")
def retry(message_id: int):
    msg = db.session.get(OutboxMessage, message_id) or abort(404)
    if msg.status != "failed":
        flash(_("Only a failed message can be sent again."), "error")
        return redirect(url_for(".message", message_id=msg.id))
    now = clock.now_utc()
    retry_now(msg, now)
    audit.record("outbox.retry", "outbox_message", msg.id, actor=current_user, now=now,
                 before={"status": "failed"}, after={"status": "pending"},
                 site_id=msg.site_id)
    db.session.commit()
    flash(_("The message will be sent again within a few seconds."), "success")
    return redirect(url_for(".message", message_id=msg.id))
