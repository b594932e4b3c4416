"""Web Push subscriptions of the patient's browsers (the settings page's push.js uses these)."""
from flask import current_app, jsonify
from flask_babel import gettext as _
from flask_login import current_user

from diary import clock
from diary.api import bp
from diary.api.common import api_role_required, json_body
from diary.errors import NotFound
from diary.extensions import db
from diary.reminders import services, webpush


@bp.get("/me/push-key")
@api_role_required("patient")
def push_key():
    key = webpush.public_key(current_app.config, current_app.instance_path)
    if key is None:
        raise NotFound(_("Notifications are not set up on this server."))
    return jsonify({"public_key": key})


@bp.post("/me/push-subscriptions")
@api_role_required("patient")
def push_subscribe():
    sub, created = services.subscribe(current_user.patient, json_body(), actor=current_user,
                                      now=clock.now_utc())
    db.session.commit()
    return jsonify({"id": sub.id, "endpoint": sub.endpoint}), 201 if created else 200


@bp.delete("/me/push-subscriptions")
@api_role_required("patient")
def push_unsubscribe():
    data = json_body()
    removed = services.unsubscribe(current_user.patient, data.get("endpoint"),
                                   actor=current_user, now=clock.now_utc())
    if not removed:
        raise NotFound(_("This browser has no subscription."))
    db.session.commit()
    return "", 204
