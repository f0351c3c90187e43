// The parent portal's service worker: shows the summary a push message carries, and opens the
// portal when the notification is clicked. The message never carries more than the summary.
self.addEventListener("push", (event) => {
  const data = event.data ? event.data.json() : { title: "Parent portal", body: "" };
  event.waitUntil(self.registration.showNotification(data.title, { body: data.body, data: { url: data.url } }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(clients.openWindow((event.notification.data && event.notification.data.url) || "/portal/"));
});
