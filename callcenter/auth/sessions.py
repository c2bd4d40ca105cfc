"""Signed, stateless session cookies: who is logged in, until when, and their CSRF token.

The cookie is ``base64url(json payload) + "." + base64url(HMAC-SHA256)``. It is
signed, not encrypted: it holds only ids, a version and a random CSRF token.
A cookie whose signature, format or expiry is wrong is treated as no cookie.
``session_version`` ties a cookie to the user's current password and role:
changing either (or logging out) bumps the version, and every older cookie
stops working on every device.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

COOKIE_NAME = "cc_session"
#: How long a login lasts: a long shift plus overtime; after that, log in again.
SESSION_LIFETIME = timedelta(hours=12)
#: A visitor's cookie (CSRF token for the login form, language choice) lives this long.
ANONYMOUS_LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class Session:
    """What the cookie says. ``user_id`` is None for a visitor who has not logged in."""

    csrf: str
    expires: datetime
    user_id: int | None = None
    version: int = 0
    language: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def with_language(self, language: str) -> Session:
        return replace(self, language=language)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def anonymous(now: datetime, *, language: str = "") -> Session:
    return Session(csrf=new_csrf_token(), expires=now + ANONYMOUS_LIFETIME, language=language)


def logged_in(now: datetime, user_id: int, version: int, *, language: str = "") -> Session:
    """A fresh session for a login: a NEW CSRF token, so one planted before login is useless."""
    return Session(
        csrf=new_csrf_token(),
        expires=now + SESSION_LIFETIME,
        user_id=user_id,
        version=version,
        language=language,
    )


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    """Signs and checks cookie values with one secret."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 32:
            raise ValueError("session secret must be at least 32 characters")
        self._key = hashlib.sha256(b"callcenter-session\0" + secret.encode("utf-8")).digest()

    def _sign(self, payload: str) -> str:
        mac = hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest()
        return _b64encode(mac)

    def dumps(self, session: Session) -> str:
        data = {
            "c": session.csrf,
            "e": int(session.expires.timestamp()),
            "u": session.user_id,
            "v": session.version,
            "l": session.language,
        }
        if session.extra:
            data["x"] = session.extra
        payload = _b64encode(json.dumps(data, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._sign(payload)}"

    def loads(self, value: str, now: datetime) -> Session | None:
        """The session in ``value``, or None if it is forged, malformed or expired."""
        payload, _, signature = value.partition(".")
        if not payload or not signature:
            return None
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            data = json.loads(_b64decode(payload))
            expires = datetime.fromtimestamp(int(data["e"]), tz=now.tzinfo)
            session = Session(
                csrf=str(data["c"]),
                expires=expires,
                user_id=None if data.get("u") is None else int(data["u"]),
                version=int(data.get("v", 0)),
                language=str(data.get("l", "")),
                extra={str(k): str(v) for k, v in dict(data.get("x", {})).items()},
            )
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
            return None
        if session.expires <= now or not session.csrf:
            return None
        return session


def peek_csrf(value: str) -> str:
    """The CSRF token inside a cookie value, WITHOUT checking it (for test clients and scripts)."""
    payload = value.partition(".")[0]
    return str(json.loads(_b64decode(payload))["c"])
