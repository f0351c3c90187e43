"""A Django email backend that sends through GOV.UK Notify.

Notify sends only from templates, so the service keeps one generic email template whose
subject is `((subject))` and whose body is `((body))`; every EmailMessage fills it. That keeps
`send_email` the one interface whatever the backend. Settings: `NOTIFY_API_KEY` (the key as
Notify shows it, `{key_name}-{service_id}-{secret}`), `NOTIFY_TEMPLATE_ID`, `NOTIFY_BASE_URL`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from notifications_python_client.errors import APIError
from notifications_python_client.notifications import NotificationsAPIClient


class NotifyEmailBackend(BaseEmailBackend):
    """Sends each message to each of its recipients as one Notify email notification."""

    def __init__(
        self,
        fail_silently: bool = False,
        *,
        api_key: str | None = None,
        template_id: str | None = None,
        base_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        self.api_key = api_key or settings.NOTIFY_API_KEY
        self.template_id = template_id or settings.NOTIFY_TEMPLATE_ID
        self.base_url = base_url or settings.NOTIFY_BASE_URL
        if not self.api_key or not self.template_id:
            raise ImproperlyConfigured("NotifyEmailBackend needs STEWARD_NOTIFY_API_KEY and STEWARD_NOTIFY_TEMPLATE_ID")

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        """Return how many messages reached Notify for every recipient.

        Notify addresses one person per notification, so cc and bcc become their own
        notifications; the sender is the Notify service's own, not `from_email`.
        """
        # The client holds a requests session and is not thread-safe: one per call. The library
        # ships py.typed without annotations, hence the ignores.
        client = NotificationsAPIClient(self.api_key, base_url=self.base_url, timeout=30)  # type: ignore[no-untyped-call]
        try:
            return self._send_all(client, email_messages)
        finally:
            client.request_session.close()

    def _send_all(self, client: NotificationsAPIClient, email_messages: Sequence[EmailMessage]) -> int:
        sent = 0
        for message in email_messages:
            personalisation = {"subject": str(message.subject), "body": str(message.body)}
            try:
                for address in message.recipients():
                    client.send_email_notification(  # type: ignore[no-untyped-call]
                        email_address=address, template_id=self.template_id, personalisation=personalisation
                    )
            except (APIError, requests.RequestException):
                if not self.fail_silently:
                    raise
                continue
            sent += 1
        return sent
