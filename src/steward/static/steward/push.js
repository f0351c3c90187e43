// Web Push on the parent portal's account page: only shown where the browser supports it.
// Subscribes through the service worker and sends the subscription to the portal.
const button = document.querySelector(".steward-push-button");
const status = document.querySelector(".steward-push-status");

function urlBase64ToUint8Array(text) {
  const padded = (text + "=".repeat((4 - (text.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

async function subscribe() {
  const registration = await navigator.serviceWorker.register("/portal/sw.js", { scope: "/portal/" });
  const { publicKey } = await (await fetch(button.dataset.keyUrl, { credentials: "same-origin" })).json();
  const subscription = await registration.pushManager.subscribe({
    userVisibleOnly: true,
    applicationServerKey: urlBase64ToUint8Array(publicKey),
  });
  const response = await fetch(button.dataset.subscribeUrl, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": button.dataset.csrf },
    body: JSON.stringify(subscription.toJSON()),
  });
  status.textContent = response.ok ? "Notifications are on for this device." : "Notifications could not be turned on.";
}

if (button && "serviceWorker" in navigator && "PushManager" in window) {
  button.hidden = false;
  button.addEventListener("click", () => {
    subscribe().catch(() => {
      status.textContent = "Notifications could not be turned on. Check this browser allows notifications.";
    });
  });
}
