"""JSON shapes of the softphone's API (with their OpenAPI schemas)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class IceServer(BaseModel):
    """One entry of ``RTCPeerConnection``'s ``iceServers``."""

    urls: list[str]
    username: str | None = Field(default=None, description="TURN only: expiry:user")
    credential: str | None = Field(default=None, description="TURN only: HMAC of the username")


class CredentialsOut(BaseModel):
    """What the page's SIP user agent registers with. Only ever sent to its owner."""

    enabled: bool = Field(description="false: this user's phone is not the browser")
    interface: str = Field(default="", description="what the daemon dials (PJSIP/webrtc-<id>)")
    username: str = Field(default="", description="SIP user and authorization name")
    password: str = Field(default="", description="the generated SIP password")
    display_name: str = ""
    ws_url: str = Field(
        default="", description="Asterisk's SIP websocket; empty: /ws on the page's origin"
    )
    sip_domain: str = Field(default="", description="empty: the page's host name")
    ice_servers: list[IceServer] = Field(
        default_factory=list,
        description="STUN and TURN (credentials valid for turn_ttl_seconds); empty: LAN only",
    )
