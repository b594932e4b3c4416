/* The offline queue: check-ins and dose records entered while the phone was
   offline, kept in IndexedDB until the JSON API has them. Loaded by the pages
   and by the service worker (importScripts), so both serialise and replay the
   same way. An entry is removed only after a 201 or a 200 (the server already
   had that client_id); a 4xx keeps it with the server's message. */
(function (scope) {
  "use strict";
  var DB = "diary-offline", QUEUE = "queue", META = "meta";

  function open() {
    return new Promise(function (resolve, reject) {
      var req = scope.indexedDB.open(DB, 1);
      req.onupgradeneeded = function () {
        req.result.createObjectStore(QUEUE, {keyPath: "client_id"});
        req.result.createObjectStore(META);
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function run(store, mode, action) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(store, mode), req = action(t.objectStore(store));
        t.oncomplete = function () { db.close(); resolve(req ? req.result : undefined); };
        t.onerror = t.onabort = function () { db.close(); reject(t.error); };
      });
    });
  }

  function put(entry) { return run(QUEUE, "readwrite", function (s) { return s.put(entry); }); }
  function remove(id) { return run(QUEUE, "readwrite", function (s) { return s.delete(id); }); }
  function all() {
    return run(QUEUE, "readonly", function (s) { return s.getAll(); }).then(function (rows) {
      return (rows || []).sort(function (a, b) { return a.created - b.created; });
    });
  }
  function saveConfig(cfg) { return run(META, "readwrite", function (s) { return s.put(cfg, "config"); }); }
  function loadConfig() { return run(META, "readonly", function (s) { return s.get("config"); }); }

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  /* ISO 8601 in the phone's local time, with its UTC offset: 2026-11-25T20:05:00+01:00 */
  function isoLocal(d) {
    var off = -d.getTimezoneOffset(), sign = off >= 0 ? "+" : "-";
    off = Math.abs(off);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) +
      sign + pad(Math.floor(off / 60)) + ":" + pad(off % 60);
  }
  /* a datetime-local value ("2026-11-25T08:10") read as the phone's local time */
  function fromLocalInput(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
    if (!m) { return value || null; }  // the server names what is wrong
    return isoLocal(new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]));
  }
  function number(raw) {
    raw = (raw || "").trim().replace(",", ".");
    if (raw === "") { return null; }
    var n = Number(raw);
    return isNaN(n) ? raw : n;
  }
  function uuid() {
    if (scope.crypto && scope.crypto.randomUUID) { return scope.crypto.randomUUID(); }
    var b = scope.crypto.getRandomValues(new Uint8Array(16)), h = [];
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    for (var i = 0; i < 16; i++) { h.push((b[i] + 256).toString(16).slice(1)); }
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") +
      "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  /* The API body (api.md) from a form's fields: {name: [values]}. null: nothing to queue. */
  function bodyFrom(kind, fields, match, now) {
    function one(name) { return (fields[name] || [""])[0]; }
    if (kind === "checkin") {
      var symptoms = {};
      Object.keys(fields).forEach(function (name) {
        if (name.indexOf("symptom-") === 0 && one(name) !== "") {
          symptoms[name.slice(8)] = parseInt(one(name), 10);
        }
      });
      var ulc = one("site_ulceration");
      return {client_id: one("client_id") || uuid(), diary_date: one("diary_date") || null,
              device_recorded_at: isoLocal(now), temperature_c: number(one("temperature_c")),
              symptoms: symptoms, new_or_worse: fields.new_or_worse || [],
              warning_signs: fields.warning_signs || [],
              injection_site: {diameter_cm: number(one("site_diameter_cm")),
                               ulceration: ulc === "yes" ? true : (ulc === "no" ? false : null)},
              note: one("note")};
    }
    if (kind === "checkin-review") {  // the review step already holds the API body
      if (one("action") === "change") { return null; }
      var body = JSON.parse(one("payload") || "null");
      if (!body || typeof body !== "object") { return null; }
      body.device_recorded_at = body.device_recorded_at || isoLocal(now);
      return body;
    }
    if (kind === "injection") {
      var taken = one("action") !== "not_taken";
      var out = {client_id: one("client_id") || uuid(), scheduled_dose_id: parseInt(match[1], 10),
                 taken: taken, lot: one("lot"), note: one("note")};
      if (taken) {
        out.taken_at = fromLocalInput(one("taken_at"));
        out.dose_miu = number(one("dose_miu"));
        out.site = one("site") || null;
        out.administered_by = one("administered_by") || "self";
        out.not_taken_reason = null;
      } else {
        out.not_taken_reason = one("not_taken_reason") || null;
      }
      return out;
    }
    return null;
  }

  /* The advice the phone can work out alone: every urgent rule (U1-U5) and the
     within-24-h rules that need no history (D2 when marked, D3, D4, D5, D7).
     The server evaluates everything again when the entry arrives. */
  function advice(body, rules) {
    if (!body || !rules) { return "none"; }
    var g = body.symptoms || {}, signs = body.warning_signs || [], marked = body.new_or_worse || [];
    var site = body.injection_site || {}, t = typeof body.temperature_c === "number" ? body.temperature_c : null;
    function any(list, pred) { return (list || []).some(pred); }
    function has(list) { return any(list, function (s) { return signs.indexOf(s) !== -1; }); }
    var fever = t !== null && t >= rules.fever_c;
    var urgent = (t !== null && t >= rules.high_fever_c) ||
      (fever && ((g.chills || 0) >= rules.chills_with_fever_grade || has(rules.fever_companion_warning_signs))) ||
      has(rules.urgent_warning_signs) ||
      any(rules.severe_organ_items, function (c) { return (g[c] || 0) >= rules.severe_grade; }) ||
      site.ulceration === true;
    if (urgent) { return "call_team_now"; }
    var today = ((g.purpura || 0) >= 1 && marked.indexOf("purpura") !== -1) ||
      has(rules.within_24h_warning_signs) ||
      any(rules.new_or_worse_items, function (c) { return (g[c] || 0) >= 1 && marked.indexOf(c) !== -1; }) ||
      Object.keys(g).some(function (c) { return g[c] >= rules.severe_grade; }) ||
      (typeof site.diameter_cm === "number" && site.diameter_cm >= rules.site_reaction_alert_cm);
    return today ? "contact_team_today" : "none";
  }

  /* Build and store an entry; resolves with it (or null when there is nothing to queue). */
  function enqueue(cfg, path, fields, now) {
    var form = null, match = null;
    (cfg.forms || []).some(function (f) {
      match = new RegExp(f.pattern).exec(path);
      if (match) { form = f; }
      return !!match;
    });
    if (!form) { return Promise.resolve(null); }
    var body = bodyFrom(form.kind, fields, match, now || new Date());
    if (!body) { return Promise.resolve(null); }
    var kind = form.kind === "checkin-review" ? "checkin" : form.kind;
    var entry = {client_id: body.client_id, kind: kind, api: form.api, session: cfg.session,
                 user: cfg.user, body: body, created: Date.now(), error: null,
                 advice: kind === "checkin" ? advice(body, cfg.rules) : "none"};
    return put(entry).then(function () { notify({type: "queued"}); return entry; });
  }

  function notify(message) {
    if (scope.BroadcastChannel) {
      var ch = new scope.BroadcastChannel("diary-offline");
      ch.postMessage(message);
      ch.close();
    }
  }

  function errorText(resp) {
    return resp.json().then(function (b) {
      var e = (b && b.error) || {}, parts = [e.message || resp.status];
      Object.keys(e.fields || {}).forEach(function (k) { parts.push(k + ": " + e.fields[k]); });
      return parts.join(" ");
    }, function () { return String(resp.status); });
  }

  /* Send what is waiting, oldest first, as the logged-in patient. Stops at the
     first network or server failure (tried again later). */
  function sendAll() {
    var result = {sent: [], kept: 0, login: false};
    return all().then(function (entries) {
      if (!entries.length) { return result; }
      return fetch(entries[0].session, {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (resp) {
          if (resp.status === 401) { result.login = true; return null; }
          if (!resp.ok) { throw new Error("session " + resp.status); }
          return resp.json();
        })
        .then(function (session) {
          if (!session) { result.kept = entries.length; return result; }
          var chain = Promise.resolve();
          entries.forEach(function (entry) {
            chain = chain.then(function () {
              if (entry.user !== session.user.id) { return null; }  // another account's entry
              return fetch(entry.api, {
                method: "POST", credentials: "same-origin",
                headers: {"Content-Type": "application/json", Accept: "application/json",
                          "X-CSRFToken": session.csrf_token},
                body: JSON.stringify(entry.body)
              }).then(function (resp) {
                if (resp.status === 200 || resp.status === 201) {
                  return resp.json().catch(function () { return {}; }).then(function (saved) {
                    result.sent.push({kind: entry.kind, advice: saved.advice || "none"});
                    return remove(entry.client_id);
                  });
                }
                if (resp.status >= 400 && resp.status < 500 && [401, 408, 429].indexOf(resp.status) === -1) {
                  return errorText(resp).then(function (text) {
                    entry.error = text;
                    result.kept += 1;
                    return put(entry);
                  });
                }
                throw new Error("server " + resp.status);
              });
            });
          });
          return chain.then(function () { return result; });
        });
    });
  }

  /* What was sent, kept until a page shows it (the worker may send with no page open). */
  function noteSent(result) {
    if (!result.sent.length) { return result; }
    return run(META, "readonly", function (s) { return s.get("sent"); }).then(function (old) {
      var sent = (old || []).concat(result.sent);
      return run(META, "readwrite", function (s) { return s.put(sent, "sent"); });
    }).then(function () { return result; });
  }
  function takeSent() {
    return run(META, "readonly", function (s) { return s.get("sent"); }).then(function (sent) {
      if (!sent || !sent.length) { return []; }
      return run(META, "readwrite", function (s) { return s.delete("sent"); }).then(function () { return sent; });
    });
  }

  function replay() {
    var locks = scope.navigator && scope.navigator.locks;
    var job = locks ? locks.request("diary-replay", function () { return sendAll().then(noteSent); })
      : sendAll().then(noteSent);
    return job.then(function (result) {
      notify({type: "replayed", result: result});
      return result;
    }, function () {
      return {sent: [], kept: 0, login: false, failed: true};  // offline or server down: later
    });
  }

  scope.DiaryQueue = {all: all, remove: remove, enqueue: enqueue, replay: replay, takeSent: takeSent, advice: advice, bodyFrom: bodyFrom,
                      saveConfig: saveConfig, loadConfig: loadConfig, uuid: uuid, isoLocal: isoLocal};
})(self);
