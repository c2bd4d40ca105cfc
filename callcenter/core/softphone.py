"""The browser softphone's names: one SIP endpoint per user, named from the user's id.

The id (not the username, which an admin may rename) keeps the endpoint stable; the
same name is the SIP user name the page registers with and the AMI dial string the
ACD rings (``PJSIP/webrtc-<id>``).
"""

from __future__ import annotations

import secrets
from enum import StrEnum


class PhoneKind(StrEnum):
    DESK = "desk"  # a SIP desk phone or softphone, dialled at the user's interface
    BROWSER = "browser"  # the agent page itself (WebRTC)


ENDPOINT_PREFIX = "webrtc-"
#: Length in bytes of a generated SIP password's randomness (32 URL-safe characters).
SECRET_BYTES = 24


def browser_endpoint(user_id: int) -> str:
    """The chan_pjsip endpoint, AOR and SIP user name of ``user_id``'s browser phone."""
    return f"{ENDPOINT_PREFIX}{user_id}"


def browser_interface(user_id: int) -> str:
    """What the daemon dials to ring ``user_id``'s browser phone."""
    return f"PJSIP/{browser_endpoint(user_id)}"


def is_browser_interface(interface: str) -> bool:
    return interface.strip().lower().startswith(f"pjsip/{ENDPOINT_PREFIX}")


def new_sip_secret() -> str:
    """A fresh SIP password: random, URL-safe (no quoting needed in pjsip.conf)."""
    return secrets.token_urlsafe(SECRET_BYTES)
