/* Web Push handlers of the service worker. The app's service worker (static/sw.js, issue 8)
   loads them with importScripts("/static/js/push-sw.js"); registered alone, this file is a
   complete worker for reminders. A reminder carries no health data: a title, a line, a link. */
self.addEventListener("push", function (event) {
  var message = {title: "IL-2 diary", body: "", url: "/"};
  if (event.data) {
    try { message = Object.assign(message, event.data.json()); }
    catch (e) { message.body = event.data.text(); }
  }
  event.waitUntil(self.registration.showNotification(message.title, {
    body: message.body, tag: message.tag || "diary-reminder", renotify: true,
    icon: "/static/icons/icon-192.png", data: {url: message.url}
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(self.clients.matchAll({type: "window", includeUncontrolled: true})
    .then(function (windows) {
      for (var i = 0; i < windows.length; i++) {
        if (new URL(windows[i].url).origin === self.location.origin && "focus" in windows[i]) {
          windows[i].navigate(target);
          return windows[i].focus();
        }
      }
      return self.clients.openWindow(target);
    }));
});
