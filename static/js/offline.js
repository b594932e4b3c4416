/* Phone first, progressive enhancement: registers the service worker, and on
   patient pages keeps what is entered offline (queue.js) and shows it as
   "waiting to be sent" until the JSON API has it. Without JavaScript the forms
   post as usual. Offline, the urgent advice comes from the phone's copy of the
   rules (the page's #diary-offline JSON block). */
(function () {
  "use strict";
  var script = document.currentScript, swUrl = script && script.getAttribute("data-sw");
  var block = document.getElementById("diary-offline");
  var cfg = block ? JSON.parse(block.textContent) : null;
  var Q = window.DiaryQueue, sw = navigator.serviceWorker;
  var msg = cfg ? cfg.messages : {};

  function toWorker(message) {
    if (sw && sw.controller) { sw.controller.postMessage(message); }
  }

  if (sw && swUrl) {
    window.addEventListener("load", function () {
      // after the page is in: the worker's first fetches never slow the page down
      setTimeout(function () {
        sw.register(swUrl, {scope: "/"}).then(function () { return sw.ready; }).then(function (reg) {
          if (!cfg) { (reg.active || {postMessage: function () {}}).postMessage({type: "forget-pages"}); return; }
          var urls = cfg.pages.slice(), patterns = cfg.page_patterns.map(function (p) { return new RegExp(p); });
          Array.prototype.forEach.call(document.querySelectorAll("main a[href]"), function (a) {
            if (a.origin === location.origin && patterns.some(function (re) { return re.test(a.pathname); })) {
              urls.push(a.pathname);
            }
          });
          reg.active.postMessage({type: "warm", urls: urls});
        }).catch(function () {});
      }, 1500);
    });
  }
  if (!cfg || !Q) {
    return;
  }

  function fmt(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_m, k) { return values[k]; });
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }
  function telUri(phone) {
    return "tel:" + (phone.trim().charAt(0) === "+" ? "+" : "") + phone.replace(/\D/g, "");
  }

  /* The advice panel, built from the phone's copy of the rules. */
  function advicePanel(advice) {
    if (advice !== "call_team_now" && advice !== "contact_team_today") { return null; }
    var urgent = advice === "call_team_now";
    return el("section", {"class": "advice offline-advice " + (urgent ? "advice-urgent" : "advice-today"),
                          role: "alert"}, [
      el("h2", {text: urgent ? msg.urgent_title : msg.today_title}),
      el("p", {text: urgent ? msg.urgent_text : msg.today_text}),
      el("a", {"class": "button call-button", href: telUri(cfg.phone), text: fmt(msg.call, {phone: cfg.phone})}),
      urgent ? el("p", {"class": "advice-fallback", text: fmt(msg.fallback, {number: cfg.emergency})}) : null,
      urgent ? el("a", {"class": "button call-button secondary", href: telUri(cfg.emergency),
                        text: fmt(msg.call_fallback, {number: cfg.emergency})}) : null
    ]);
  }

  /* --- the "waiting to be sent" list, at the top of every patient page --- */
  var main = document.getElementById("main");
  var box = el("section", {"class": "card offline-queue", id: "offline-queue", "aria-labelledby": "offline-queue-title", hidden: ""});
  var status = el("p", {"class": "offline-status", role: "status"});
  main.insertBefore(status, main.firstChild);
  main.insertBefore(box, status.nextSibling);

  /* A day or a time as the pages write them, in the page's language (25 Nov 2026,
     25 nov. 2026, 08:10): the wall-clock figures as entered, whatever the phone's zone. */
  var lang = document.documentElement.lang === "en" ? "en-GB" : (document.documentElement.lang || "en-GB");
  function wallText(text, withTime) {
    var m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?/.exec(text || "");
    if (!m) { return text || ""; }
    var options = {day: "numeric", month: "short", year: "numeric", timeZone: "UTC"};
    if (withTime && m[4]) { options.hour = "2-digit"; options.minute = "2-digit"; options.hourCycle = "h23"; }
    try {
      return new Intl.DateTimeFormat(lang, options).format(
        new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0))));
    } catch (e) {
      return m[0].replace("T", " ");
    }
  }

  function describe(entry) {
    var b = entry.body;
    if (entry.kind === "checkin") { return fmt(msg.checkin, {day: wallText(b.diary_date, false)}); }
    if (b.taken) { return fmt(msg.injection_taken, {time: wallText(b.taken_at, true)}); }
    return msg.injection_not_taken;
  }

  function render() {
    return Q.all().then(function (entries) {
      entries = entries.filter(function (e) { return e.user === cfg.user; });
      box.textContent = "";
      box.hidden = entries.length === 0;
      if (!entries.length) { return entries; }
      box.appendChild(el("h2", {id: "offline-queue-title", text: msg.waiting + " (" + entries.length + ")"}));
      box.appendChild(el("p", {"class": "hint", text: msg.waiting_help}));
      var urgent = entries.filter(function (e) { return e.advice !== "none"; })[0];
      if (urgent) { box.appendChild(advicePanel(urgent.advice)); }
      var list = el("ul", {"class": "offline-list"});
      entries.forEach(function (entry) {
        var item = el("li", {}, [el("span", {text: describe(entry)})]);
        if (entry.error) {
          item.appendChild(el("p", {"class": "error", text: msg.error + " " + entry.error}));
          var button = el("button", {type: "button", "class": "button", text: msg.remove});
          button.addEventListener("click", function () {
            if (window.confirm(msg.remove_confirm)) { Q.remove(entry.client_id).then(render); }
          });
          item.appendChild(button);
        }
        list.appendChild(item);
      });
      box.appendChild(list);
      return entries;
    });
  }

  /* Say what was sent (by this page or by the worker), with the server's advice. */
  var shownAdvice = null;
  function showSent() {
    return Q.takeSent().then(function (sent) {
      if (!sent.length) { return; }
      status.textContent = msg.sent;
      var advice = sent.map(function (s) { return s.advice; });
      var worst = advice.indexOf("call_team_now") !== -1 ? "call_team_now" :
        (advice.indexOf("contact_team_today") !== -1 ? "contact_team_today" : null);
      var panel = worst && advicePanel(worst);
      if (panel) {
        if (shownAdvice) { shownAdvice.remove(); }
        shownAdvice = panel;
        box.parentNode.insertBefore(panel, box);
      }
    });
  }

  function replay() {
    if (!navigator.onLine) { return Promise.resolve(); }
    return Q.replay().then(function (result) {
      if (result.login) { status.textContent = msg.login; }
      return render().then(showSent);
    });
  }

  /* --- offline: the forms are kept on the phone instead of posted --- */
  function fieldsOf(form, submitter) {
    var fields = {}, data = new FormData(form);
    data.forEach(function (value, name) {
      if (typeof value === "string") { (fields[name] = fields[name] || []).push(value); }
    });
    if (submitter && submitter.name) { fields[submitter.name] = [submitter.value]; }
    return fields;
  }
  /* (not form.action: a control named "action" shadows it) */
  function formPath(form) { return new URL(form.getAttribute("action") || location.href, location.href).pathname; }
  function kindOf(form) {
    var path = formPath(form), found = null;
    cfg.forms.forEach(function (f) { if (new RegExp(f.pattern).test(path)) { found = f.kind; } });
    return found;
  }

  var banner = el("p", {"class": "flash flash-warning offline-banner", hidden: ""});
  banner.textContent = msg.offline_banner;
  main.insertBefore(banner, main.firstChild);
  var labels = [];

  function onConnectivity() {
    var offline = !navigator.onLine;
    banner.hidden = !offline;
    labels.forEach(function (pair) {
      pair[0].textContent = offline ? msg.save_offline : pair[1];
    });
    if (!offline) { replay(); }
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[method=post]"), function (form) {
    var kind = kindOf(form);
    if (!kind) { return; }
    // a fresh id each time the form is shown (a stored copy of the page must not reuse one)
    var cid = form.querySelector("input[name=client_id]");
    if (cid) { cid.value = Q.uuid(); }
    Array.prototype.forEach.call(form.querySelectorAll("button[type=submit][value=review]"), function (b) {
      labels.push([b, b.textContent]);
    });
    var live = el("div", {"class": "offline-live", "aria-live": "assertive"});
    form.appendChild(live);
    form.addEventListener("change", function () {
      // offline, the advice shows as soon as a warning sign or a high fever is entered
      live.textContent = "";
      if (navigator.onLine || kind !== "checkin") { return; }
      var panel = advicePanel(Q.advice(Q.bodyFrom("checkin", fieldsOf(form, null), null, new Date()), cfg.rules));
      if (panel) { live.appendChild(panel); }
    });
    form.addEventListener("submit", function (event) {
      if (navigator.onLine) { return; }  // online: the page posts as usual
      event.preventDefault();
      var photo = form.querySelector("input[type=file]");
      Q.enqueue(cfg, formPath(form), fieldsOf(form, event.submitter), new Date()).then(function (entry) {
        if (!entry) { return; }
        if (sw && sw.ready) {
          sw.ready.then(function (reg) { return reg.sync && reg.sync.register("diary-queue"); }).catch(function () {});
        }
        var done = el("section", {"class": "card offline-saved", role: "status", tabindex: "-1"}, [
          el("h2", {text: msg.waiting}),
          el("p", {text: msg.saved_offline}),
          photo && photo.files && photo.files.length ? el("p", {text: msg.photo_dropped}) : null,
          el("a", {"class": "button block", href: cfg.pages[0] || cfg.home, text: describe(entry)})
        ]);
        var panel = advicePanel(entry.advice);
        form.hidden = true;
        if (panel) { form.parentNode.insertBefore(panel, form); }
        form.parentNode.insertBefore(done, form);
        render();
        done.focus();
      });
    });
  });

  Q.saveConfig(cfg).catch(function () {});
  window.addEventListener("online", onConnectivity);
  window.addEventListener("offline", onConnectivity);
  if (window.BroadcastChannel) {
    new BroadcastChannel("diary-offline").onmessage = function () { render().then(showSent); };
  }
  Array.prototype.forEach.call(document.querySelectorAll("form[action$='/logout']"), function (form) {
    form.addEventListener("submit", function () { toWorker({type: "forget-pages"}); });
  });
  onConnectivity();
  render().then(showSent);
})();
