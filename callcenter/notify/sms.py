"""SMS: a small sender interface, a generic HTTP gateway and a log-only gateway.

The HTTP gateway is configured by a URL template (``sms.gateway_url``) with the
placeholders ``{to}``, ``{text}``, ``{sender}`` and ``{api_key}`` (URL-quoted). When the
template contains ``{text}`` it is called with GET, as most Vietnamese gateways expect
(``https://gw.example.vn/send?ApiKey={api_key}&Phone={to}&Content={text}``); otherwise the
message is POSTed as JSON ``{"to", "text", "sender"}`` with the key in ``X-API-Key``.
2xx = sent; 429 and 5xx = retried; other 4xx = refused for good.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import aiohttp

from callcenter.config import SmsSettings
from callcenter.notify.outbox import DeliveryError, OutgoingMessage

log = logging.getLogger(__name__)
MAX_SMS_TEXT = 459  # three concatenated GSM-7 parts; Vietnamese without accents fits best


def sms_text(message: OutgoingMessage) -> str:
    return (message.body_text or message.subject)[:MAX_SMS_TEXT]


class HttpSmsGateway:
    def __init__(
        self,
        settings: SmsSettings,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 20.0,
    ) -> None:
        if not settings.gateway_url:
            raise ValueError("sms.gateway_url is not set")
        self.settings = settings
        self._session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    def url_for(self, message: OutgoingMessage) -> str:
        fields = {
            "to": message.recipient,
            "text": sms_text(message),
            "sender": self.settings.sender,
            "api_key": self.settings.api_key.get_secret_value(),
        }
        return self.settings.gateway_url.format(**{k: quote(v, safe="") for k, v in fields.items()})

    async def send(self, message: OutgoingMessage) -> None:
        url = self.url_for(message)
        own = self._session is None
        session = self._session or aiohttp.ClientSession(timeout=self.timeout)
        try:
            if "{text}" in self.settings.gateway_url:
                request = session.get(url, timeout=self.timeout)
            else:
                request = session.post(
                    url,
                    json={
                        "to": message.recipient,
                        "text": sms_text(message),
                        "sender": self.settings.sender,
                    },
                    headers={"X-API-Key": self.settings.api_key.get_secret_value()},
                    timeout=self.timeout,
                )
            async with request as response:
                body = (await response.text())[:300]
                if 200 <= response.status < 300:
                    return
                permanent = 400 <= response.status < 500 and response.status != 429
                raise DeliveryError(
                    f"gateway answered {response.status}: {body}", permanent=permanent
                )
        finally:
            if own:
                await session.close()


class LogSmsGateway:
    """For the demo and tests: logs the message and keeps it in ``sent``."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> None:
        log.info("SMS to %s: %s", message.recipient, sms_text(message))
        self.sent.append(message)
