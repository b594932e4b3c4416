"""What the phone keeps for offline use, decided here on the server.

- Pages: only the patient pages listed in OFFLINE_PAGES carry the response
  header `X-Diary-Offline: page`; the service worker keeps a copy of a page
  only when it sees that header. Staff pages never carry it, so they are never
  stored on a device. A patient page holds that patient's own plan and the
  empty forms: what the patient needs to open the diary and enter data offline.
- The app shell (CSS, JS, icons, manifest, /offline): no patient data.
- API responses are never cached.
- Every patient page embeds a small JSON block (`offline_data`): the
  thresholds of the urgent rules (clinical-rules.md section 4, from the
  protocol file), the site's phone number, and how the page's forms map onto
  the JSON API, so that the phone can queue an entry and show the advice
  while offline.
"""
import re

from flask import current_app, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from diary.offline import compress

#: endpoints of the patient pages the phone keeps a copy of
OFFLINE_PAGES = ("core.index", "injections.today", "injections.record", "checkins.new")

#: forms the phone may queue while offline: endpoint -> (kind, API endpoint)
OFFLINE_FORMS = {
    "injections.record": ("injection", "api.create_injection"),
    "checkins.new": ("checkin", "api.checkins_create"),
    "checkins.save": ("checkin-review", "api.checkins_create"),
}

#: the thresholds of clinical-rules.md section 4 the phone needs (no history needed)
RULE_KEYS = ("fever_c", "high_fever_c", "chills_with_fever_grade", "severe_grade",
             "site_reaction_alert_cm", "urgent_warning_signs", "within_24h_warning_signs",
             "fever_companion_warning_signs", "severe_organ_items", "new_or_worse_items")


def path_pattern(endpoint: str) -> str | None:
    """A JavaScript regular expression matching the endpoint's URLs, numbers captured."""
    rules = current_app.url_map._rules_by_endpoint.get(endpoint)
    if not rules:
        return None
    parts = []
    for literal, converter in re.findall(r"([^<]*)(<[^>]+>)?", rules[0].rule):
        parts.append(re.escape(literal))
        if converter:
            parts.append(r"(\d+)" if converter.startswith("<int:") else "([^/]+)")
    return "^" + "".join(parts) + "$"


def _messages() -> dict:
    return {
        "waiting": _("Waiting to be sent"),
        "waiting_help": _("Kept on this phone. They are sent as soon as it is back online."),
        "sending": _("Sending…"),
        "sent": _("Everything you entered offline has been sent."),
        "login": _("Log in again to send them."),
        "saved_offline": _("You are offline. Your entry is kept on this phone and will be sent "
                           "when it is back online."),
        "offline_banner": _("You are offline. You can still record a dose or a check-in: it "
                            "is kept on this phone and sent later."),
        "save_offline": _("Save on this phone"),
        "checkin": _("Check-in for %(day)s"),
        "injection_taken": _("Dose taken at %(time)s"),
        "injection_not_taken": _("Dose not taken"),
        "error": _("Not accepted:"),
        "remove": _("Remove"),
        "remove_confirm": _("Remove this entry from the phone? It has not been sent."),
        "photo_dropped": _("The photo cannot be kept offline: add it again when you are online."),
        "urgent_title": _("Call the trial team now"),
        "urgent_text": _("What you reported needs a doctor's advice right away."),
        "call": _("Call %(phone)s"),
        "fallback": _("If you cannot reach them, call %(number)s."),
        "call_fallback": _("Call %(number)s"),
        "today_title": _("Contact the trial team today"),
        "today_text": _("What you reported should be seen by the team within 24 hours. "
                        "Please call them today."),
    }


def offline_data() -> dict | None:
    """The JSON block embedded in patient pages, or None for anyone else."""
    if not current_user.is_authenticated or current_user.role != "patient":
        return None
    patient = current_user.patient
    if patient is None:
        return None
    from diary.checkins.protocol_data import alert_thresholds

    try:
        thresholds = alert_thresholds(patient.protocol)
    except (OSError, KeyError):
        current_app.logger.exception("offline: no alert thresholds for %s", patient.protocol)
        thresholds = {}
    return {
        "user": current_user.id,
        "phone": patient.site.phone,
        "emergency": current_app.config["EMERGENCY_PHONE"],
        "rules": {k: thresholds[k] for k in RULE_KEYS if k in thresholds},
        **_routes(),
        "messages": _messages_cached(),
    }


def _routes() -> dict:
    """The URLs and URL patterns of the block: the same for every page, made once."""
    cache = current_app.extensions.setdefault("diary.offline.routes", {})
    key = request.script_root
    if key not in cache:
        forms = []
        for endpoint, (kind, api_endpoint) in OFFLINE_FORMS.items():
            pattern = path_pattern(endpoint)
            if pattern and api_endpoint in current_app.view_functions:
                forms.append({"kind": kind, "pattern": pattern, "api": url_for(api_endpoint)})
        cache[key] = {
            "forms": forms,
            "pages": [url_for(e) for e in ("injections.today", "checkins.new")
                      if e in current_app.view_functions],
            "page_patterns": [p for p in map(path_pattern, OFFLINE_PAGES) if p],
            "session": url_for("api.session_read"),
            "home": url_for("core.index"),
        }
    return cache[key]


def _messages_cached() -> dict:
    """The block's messages in the page's language, translated once per language."""
    from flask_babel import get_locale

    cache = current_app.extensions.setdefault("diary.offline.messages", {})
    key = str(get_locale())
    if key not in cache:
        cache[key] = _messages()
    return cache[key]


def init_app(app):
    app.config.setdefault("EMERGENCY_PHONE", "15")  # SAMU, France (clinical-rules.md section 4)
    compress.init_app(app)

    @app.context_processor
    def _offline_globals():
        return {"offline_data": offline_data}

    @app.after_request
    def _mark_offline_pages(response):
        if (request.method == "GET" and request.endpoint in OFFLINE_PAGES
                and response.status_code == 200 and response.mimetype == "text/html"
                and current_user.is_authenticated and current_user.role == "patient"):
            response.headers["X-Diary-Offline"] = "page"
        return response
