"""ICE servers for a browser phone: STUN as configured, TURN with short-lived credentials.

A TURN relay must not hand its bandwidth to anyone who reads the page's source, so no
long-lived TURN password is ever sent to a browser. The relay (coturn with
``use-auth-secret``) and the daemon share one secret; each agent gets a username that
carries its expiry and a password that is the secret's HMAC-SHA1 of that username — the
"TURN REST API" credentials of draft-uberti-behave-turn-rest, which coturn checks itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any


def turn_credential(secret: str, user: str, expires_at: datetime) -> tuple[str, str]:
    """(username, password) valid until ``expires_at`` for the relay sharing ``secret``."""
    username = f"{int(expires_at.timestamp())}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(
    stun_urls: list[str],
    turn_urls: list[str],
    turn_secret: str,
    *,
    user: str,
    expires_at: datetime,
) -> list[dict[str, Any]]:
    """``RTCPeerConnection``'s ``iceServers`` for one agent's browser phone."""
    servers: list[dict[str, Any]] = []
    if stun_urls:
        servers.append({"urls": list(stun_urls)})
    if turn_urls and turn_secret:
        username, credential = turn_credential(turn_secret, user, expires_at)
        servers.append({"urls": list(turn_urls), "username": username, "credential": credential})
    return servers
