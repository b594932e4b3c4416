/* The diary's service worker (served at /sw.js, scope "/").

   What it keeps, and why:
   - the app shell (CSS, JS, icons, manifest, the /offline page): no patient
     data; cache first, renewed whenever this file changes (its version is a
     hash of the shell files);
   - copies of the patient pages the server marks with `X-Diary-Offline: page`
     (Today, the check-in form, the dose-record forms): network first, the copy
     only when the network fails, so the diary opens offline. Staff pages never
     carry the mark and are never stored; the copies are deleted at logout;
   - never an API response.
   A form posted while the network fails is kept in the offline queue
   (queue.js, IndexedDB) and sent through the JSON API later. */
"use strict";
var VERSION = "__SHELL_VERSION__";
var SHELL = ["__SHELL_URLS__"];
var SHELL_CACHE = "diary-shell-" + VERSION;
var PAGES_CACHE = "diary-pages";
var OFFLINE_URL = SHELL[SHELL.length - 1];
var WARM_AFTER_MS = 10 * 60 * 1000;  // a page copy younger than this is not fetched again

// the offline queue, and the reminders' push handlers (static/js/push-sw.js) when present
importScripts.apply(self, ["__IMPORTS__"]);

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL_CACHE).then(function (cache) {
    return cache.addAll(SHELL.map(function (u) { return new Request(u, {credentials: "omit"}); }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) {
      return n.indexOf("diary-shell-") === 0 && n !== SHELL_CACHE;
    }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

/* Copies being written, by URL: Chrome drops the old copy while it writes the new one,
   so a page asked for meanwhile waits for the write instead of missing it. */
var writing = {};

function track(url, job) {
  var settled = job.catch(function () {}).then(function () {
    if (writing[url] === settled) { delete writing[url]; }
  });
  writing[url] = settled;
  return job;
}

/* A clean copy of a page: a redirected response may not answer a navigation. */
function keep(url, resp) {
  return resp.blob().then(function (body) {
    var headers = new Headers(resp.headers);
    headers.set("X-Diary-Saved-At", new Date().toISOString());
    var copy = new Response(body, {status: 200, headers: headers});
    return caches.open(PAGES_CACHE).then(function (cache) {
      var puts = [cache.put(url, copy.clone())];
      if (resp.url && resp.url !== url) { puts.push(cache.put(resp.url, copy)); }
      return Promise.all(puts);
    });
  });
}

function match(url) {
  // ignoreVary: pages vary on the cookie, and the copies belong to this phone's patient
  return (writing[url] || Promise.resolve()).then(function () {
    return caches.open(PAGES_CACHE);
  }).then(function (cache) { return cache.match(url, {ignoreSearch: true, ignoreVary: true}); });
}

function cachedPage(url) {
  return match(url).then(function (hit) {
    if (hit) { return hit; }
    // the home page ("/") redirects to Today: offline, show Today's copy
    return DiaryQueue.loadConfig().then(function (cfg) {
      if (cfg && cfg.home === new URL(url).pathname && cfg.pages && cfg.pages.length) {
        return match(new URL(cfg.pages[0], url).href);
      }
      return undefined;
    }, function () { return undefined; });
  }).then(function (hit) { return hit || caches.match(OFFLINE_URL); });
}

function page(event) {
  return fetch(event.request).then(function (resp) {
    if (resp.ok && resp.headers.get("X-Diary-Offline") === "page") {
      event.waitUntil(track(event.request.url, keep(event.request.url, resp.clone())));
    }
    return resp;
  }, function () { return cachedPage(event.request.url); });
}

/* A form posted while the network fails: queue it, then show the Today page. */
function postOrQueue(event) {
  var copy = event.request.clone();
  return fetch(event.request).catch(function () {
    return Promise.all([copy.formData(), DiaryQueue.loadConfig()]).then(function (got) {
      var data = got[0], cfg = got[1], fields = {};
      if (!cfg) { return null; }
      data.forEach(function (value, name) {
        if (typeof value === "string") { (fields[name] = fields[name] || []).push(value); }
      });
      return DiaryQueue.enqueue(cfg, new URL(event.request.url).pathname, fields, new Date())
        .then(function (entry) {
          if (!entry) { return null; }
          if (self.registration.sync) { self.registration.sync.register("diary-queue").catch(function () {}); }
          var target = new URL(cfg.pages[0] || cfg.home, event.request.url);
          target.searchParams.set("queued", entry.client_id);
          return Response.redirect(target.href, 303);
        });
    }).then(function (resp) { return resp || caches.match(OFFLINE_URL); },
            function () { return caches.match(OFFLINE_URL); });
  });
}

self.addEventListener("fetch", function (event) {
  var req = event.request, url = new URL(req.url);
  if (url.origin !== self.location.origin || url.pathname.indexOf("/api/") === 0) { return; }
  if (req.mode === "navigate" && req.method === "POST") { event.respondWith(postOrQueue(event)); return; }
  if (req.method !== "GET") { return; }
  if (req.mode === "navigate") { event.respondWith(page(event)); return; }
  if (SHELL.indexOf(url.pathname) !== -1) {
    event.respondWith(caches.open(SHELL_CACHE).then(function (cache) {
      return cache.match(url.pathname).then(function (hit) { return hit || fetch(req); });
    }));
  }
});

/* Fetch the patient's offline pages ahead of need (the page sends their URLs). */
function warm(urls) {
  return caches.open(PAGES_CACHE).then(function (cache) {
    return Promise.all(urls.map(function (u) {
      if (writing[u]) { return null; }  // being fetched already
      return track(u, cache.match(u, {ignoreVary: true}).then(function (hit) {
        var saved = hit && Date.parse(hit.headers.get("X-Diary-Saved-At") || "");
        if (saved && Date.now() - saved < WARM_AFTER_MS) { return null; }
        return fetch(u, {credentials: "same-origin"}).then(function (resp) {
          if (resp.ok && resp.headers.get("X-Diary-Offline") === "page") { return keep(u, resp); }
          return null;
        }, function () { return null; });
      }));
    }));
  });
}

self.addEventListener("message", function (event) {
  var msg = event.data || {};
  if (msg.type === "warm" && Array.isArray(msg.urls)) {
    event.waitUntil(warm(msg.urls.map(function (u) { return new URL(u, self.location.href).href; })));
  } else if (msg.type === "forget-pages") {  // logout: no copy of patient pages stays on the phone
    event.waitUntil(caches.delete(PAGES_CACHE));
  } else if (msg.type === "replay") {
    event.waitUntil(DiaryQueue.replay());
  }
});

self.addEventListener("sync", function (event) {
  if (event.tag === "diary-queue") { event.waitUntil(DiaryQueue.replay()); }
});
