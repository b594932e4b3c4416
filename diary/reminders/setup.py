"""Wiring: the webpush channel, VAPID keys at `diary init`, the patient's Settings entry."""
from flask_babel import lazy_gettext as _l


def init_app(app):
    from diary.core import nav
    from diary.notifications import channels
    from diary.reminders import webpush

    channels.register("webpush", webpush.channel_factory)

    def make_vapid_keys():
        from flask import current_app

        if webpush.private_key(current_app.config, current_app.instance_path) is None:
            webpush.create_keys(current_app.instance_path)

    app.extensions.setdefault("diary.on_init", []).append(make_vapid_keys)
    nav.register("reminders.settings", _l("Settings"), ("patient",), order=80)
