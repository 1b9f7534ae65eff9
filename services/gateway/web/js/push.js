// Browser notifications on this device: the service worker (sw.js), subscribed with the
// platform's VAPID key and registered with dispatch as one of the member's endpoints. Which
// endpoint is this browser's is kept in localStorage, as the subscription outlives the session.
import { api } from "./api.js";

export const SERVICE_WORKER = { url: "/app/sw.js", scope: "/app" };

function base64UrlToBytes(text) {
  const padded = text
    .replace(/-/g, "+")
    .replace(/_/g, "/")
    .padEnd(Math.ceil(text.length / 4) * 4, "=");
  return Uint8Array.from(atob(padded), (char) => char.charCodeAt(0));
}

// Which of the member's browsers this one is: the id dispatch gave its subscription.
const THIS_BROWSER_KEY = "tawny.webpush.endpoint_id";

// The browser's PushSubscription.toJSON(), handed to dispatch for this member: one endpoint
// beside their other browsers (registering it again only refreshes it).
export async function registerPushSubscription(subscription) {
  const registered = await api("/dispatch/endpoints/me/webpush", {
    method: "PUT",
    body: subscription,
  });
  localStorage.setItem(THIS_BROWSER_KEY, registered.id);
  return registered;
}

export function isThisBrowser(endpoint) {
  return endpoint.channel === "webpush" && endpoint.id === localStorage.getItem(THIS_BROWSER_KEY);
}

export async function registerServiceWorker() {
  if (!("serviceWorker" in navigator))
    throw new Error("This browser cannot run a service worker, so it cannot show notifications.");
  await navigator.serviceWorker.register(SERVICE_WORKER.url, { scope: SERVICE_WORKER.scope });
  return navigator.serviceWorker.ready;
}

export async function turnOnBrowserNotifications() {
  const registration = await registerServiceWorker();
  if (!("PushManager" in window)) throw new Error("This browser cannot receive push messages.");
  if ((await Notification.requestPermission()) !== "granted") {
    throw new Error(
      "Notifications are blocked for Tawny in this browser: allow them in its site settings, then try again.",
    );
  }
  const { application_server_key: key } = await api("/dispatch/webpush/vapid-public-key");
  let subscription;
  try {
    subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: base64UrlToBytes(key),
    });
  } catch (error) {
    throw new Error(`This browser's push service did not give a subscription (${error.message}).`, {
      cause: error,
    });
  }
  return registerPushSubscription(subscription.toJSON());
}

// This browser only: the member's other browsers keep their notifications.
export async function turnOffBrowserNotifications() {
  const registration =
    "serviceWorker" in navigator
      ? await navigator.serviceWorker.getRegistration(SERVICE_WORKER.scope)
      : null;
  const subscription = registration ? await registration.pushManager.getSubscription() : null;
  const endpointId = localStorage.getItem(THIS_BROWSER_KEY);
  if (endpointId) {
    await removeEndpoint({ channel: "webpush", id: endpointId });
  } else if (subscription) {
    await api(
      `/dispatch/endpoints/me/webpush?endpoint=${encodeURIComponent(subscription.endpoint)}`,
      { method: "DELETE" },
    );
  }
  if (subscription) await subscription.unsubscribe();
  localStorage.removeItem(THIS_BROWSER_KEY);
}

export async function removeEndpoint(endpoint) {
  try {
    await api(`/dispatch/endpoints/me/${endpoint.channel}/${endpoint.id}`, { method: "DELETE" });
  } catch (error) {
    // Removed already (from another device, say): what the member wanted.
    if (error.status !== 404) throw error;
  }
  if (isThisBrowser(endpoint)) localStorage.removeItem(THIS_BROWSER_KEY);
}
