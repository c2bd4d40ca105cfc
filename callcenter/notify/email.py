"""Email through SMTP (aiosmtplib): plain text and HTML, the outbox's Message-ID."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from callcenter.clock import Clock, SystemClock
from callcenter.config import SmtpSettings
from callcenter.notify.outbox import DeliveryError, OutgoingMessage


def build_email(message: OutgoingMessage, *, sender: str, clock: Clock) -> EmailMessage:
    """The MIME message: text/plain first, text/html as the alternative when present."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Message-ID"] = message.message_id
    email["Date"] = format_datetime(clock.now())
    email.set_content(message.body_text or message.subject)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html")
    return email


class SmtpSender:
    """Sends one message per connection (notifications are few; a pooled connection would
    only add a failure mode). 5xx replies are permanent; everything else is retried."""

    def __init__(
        self, settings: SmtpSettings, *, timeout: float = 30.0, clock: Clock | None = None
    ):
        self.settings = settings
        self.timeout = timeout
        self.clock = clock or SystemClock()

    async def send(self, message: OutgoingMessage) -> None:
        s = self.settings
        email = build_email(message, sender=s.sender, clock=self.clock)
        try:
            await aiosmtplib.send(
                email,
                hostname=s.host,
                port=s.port,
                username=s.username or None,
                password=s.password.get_secret_value() or None,
                use_tls=s.use_tls,
                start_tls=s.start_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            permanent = all(500 <= r.code < 600 for r in error.recipients)
            raise DeliveryError(str(error), permanent=permanent) from error
        except aiosmtplib.SMTPResponseException as error:
            raise DeliveryError(
                f"{error.code} {error.message}", permanent=500 <= error.code < 600
            ) from error
