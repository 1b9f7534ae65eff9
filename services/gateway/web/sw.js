// Tawny's service worker: shows each alert dispatch pushes as a notification, and opens the
// alert in the inbox when it is clicked. Registered by js/push.js with the scope /app.
// The payload (services/dispatch/channels/webpush.py) is JSON: title, body, alert_id, url,
// severity.

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function inboxUrl(alertId) {
  return new URL(alertId ? `/app#/inbox/${alertId}` : "/app#/inbox", self.location.origin).href;
}

self.addEventListener("push", (event) => {
  let message;
  try {
    message = event.data ? event.data.json() : {};
  } catch {
    message = { body: event.data.text() };
  }
  const alertId = typeof message.alert_id === "string" ? message.alert_id : "";
  event.waitUntil(
    self.registration.showNotification(message.title || "Tawny alert", {
      body: message.body || "",
      // One notification per alert: a repeat replaces it rather than stacking up.
      tag: alertId || undefined,
      lang: "en-GB",
      data: { url: inboxUrl(alertId) },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = (event.notification.data && event.notification.data.url) || inboxUrl("");
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const open = windows.find((client) => new URL(client.url).pathname === "/app");
      if (open) {
        await open.focus();
        return open.navigate(target);
      }
      return self.clients.openWindow(target);
    })(),
  );
});
