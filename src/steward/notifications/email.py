"""Send one email through Django's mail API, so `EMAIL_BACKEND` chooses the route.

SMTP, GOV.UK Notify (`govuk_notify.NotifyEmailBackend`) and the demo's files under `var/mail/`
are all Django email backends: callers never know which one is configured.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage


def send_email(to: str, subject: str, body: str, *, reply_to: str = "") -> None:
    """Send a plain-text email to one address from `DEFAULT_FROM_EMAIL`.

    One recipient per message, so parents never see each other's addresses. Delivery errors
    raise (the backend's exception): the caller's task decides whether to retry. `reply_to` is for
    the service desk's reply-by-email addresses, which name one ticket and one person.
    """
    EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        reply_to=[reply_to] if reply_to else None,
    ).send(fail_silently=False)
