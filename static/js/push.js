/* Web Push on the settings page: subscribe or unsubscribe this browser (progressive enhancement).
   The page works without it; e-mail reminders need no JavaScript. */
(function () {
  "use strict";
  var panel = document.getElementById("push-panel");
  if (!panel) { return; }
  var status = panel.querySelector(".push-status");
  var onButton = panel.querySelector('[data-push-action="on"]');
  var offButton = panel.querySelector('[data-push-action="off"]');
  var data = panel.dataset;

  function say(text) { if (status) { status.textContent = text; } }

  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    say(data.msgUnsupported);
    return;
  }

  function keyBytes(base64url) {
    var padded = base64url + "===".slice((base64url.length + 3) % 4);
    var raw = atob(padded.replace(/-/g, "+").replace(/_/g, "/"));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  /* The app's own service worker (offline, issue 8) imports push-sw.js; until one controls
     this page, a worker holding only the push handlers is registered (its own scope). */
  function active(reg) {
    if (reg.active) { return Promise.resolve(reg); }
    var worker = reg.installing || reg.waiting;
    return new Promise(function (resolve) {
      worker.addEventListener("statechange", function () {
        if (worker.state === "activated") { resolve(reg); }
      });
    });
  }

  function registration() {
    return navigator.serviceWorker.getRegistration().then(function (reg) {
      return reg || navigator.serviceWorker.getRegistration(data.workerUrl);
    }).then(function (reg) {
      return reg || navigator.serviceWorker.register(data.workerUrl);
    }).then(active);
  }

  function send(method, body) {
    return fetch(data.subscriptionsUrl, {
      method: method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": data.csrf},
      body: JSON.stringify(body)
    }).then(function (resp) {
      if (!resp.ok && resp.status !== 404) { throw new Error("HTTP " + resp.status); }
    });
  }

  function show(subscribed) {
    onButton.hidden = subscribed;
    offButton.hidden = !subscribed;
  }

  function refresh() {
    return registration().then(function (reg) { return reg.pushManager.getSubscription(); })
      .then(function (sub) {
        if (Notification.permission === "denied") { say(data.msgDenied); }
        show(Boolean(sub));
        if (sub) { return send("POST", sub.toJSON()); }  /* keep the server's copy current */
      });
  }

  onButton.addEventListener("click", function () {
    onButton.disabled = true;
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") { say(data.msgDenied); return null; }
      return registration().then(function (reg) {
        return reg.pushManager.subscribe({userVisibleOnly: true,
                                          applicationServerKey: keyBytes(data.publicKey)});
      }).then(function (sub) {
        return send("POST", sub.toJSON()).then(function () { show(true); say(data.msgOn); });
      });
    }).catch(function () { say(data.msgFailed); }).then(function () { onButton.disabled = false; });
  });

  offButton.addEventListener("click", function () {
    offButton.disabled = true;
    registration().then(function (reg) { return reg.pushManager.getSubscription(); })
      .then(function (sub) {
        if (!sub) { return null; }
        var endpoint = sub.endpoint;
        return sub.unsubscribe().then(function () { return send("DELETE", {endpoint: endpoint}); });
      }).then(function () { show(false); say(data.msgOff); })
      .catch(function () { say(data.msgFailed); })
      .then(function () { offButton.disabled = false; });
  });

  refresh().catch(function () { show(false); });
})();
