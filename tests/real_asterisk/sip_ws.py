"""A minimal SIP-over-WebSocket REGISTER (RFC 7118), as a browser sends it: what tells
whether a set of credentials can register to the tier's Asterisk right now.

Only what a REGISTER with digest authentication needs (RFC 3261 §22, MD5, qop=auth);
the page itself uses JsSIP. Used to prove that an old password or a removed user is
refused, without a browser per attempt.
"""

from __future__ import annotations

import hashlib
import re
import secrets

import aiohttp

_CHALLENGE = re.compile(r'(\w+)="?([^",]*)"?')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # SIP digest authentication is MD5


def _status(message: str) -> int:
    first = message.split("\r\n", 1)[0]
    return int(first.split(" ")[1])


def _header(message: str, name: str) -> str:
    for line in message.split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return ""


async def register(ws_url: str, user: str, password: str, domain: str = "127.0.0.1") -> int:
    """REGISTER ``user`` over ``ws_url``; the final status (200 registered, 401/403 refused).

    A successful registration is removed again at once (``Expires: 0``), so the
    endpoint's contact is the page's, not this probe's."""
    call_id = secrets.token_hex(8)
    tag = secrets.token_hex(4)
    uri = f"sip:{domain}"
    cseq = 0
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(ws_url, protocols=("sip",)) as ws,
    ):

        async def send(expires: int, authorization: str = "") -> str:
            nonlocal cseq
            cseq += 1
            lines = [
                f"REGISTER {uri} SIP/2.0",
                f"Via: SIP/2.0/WS {tag}.invalid;branch=z9hG4bK{secrets.token_hex(6)}",
                "Max-Forwards: 70",
                f"To: <sip:{user}@{domain}>",
                f"From: <sip:{user}@{domain}>;tag={tag}",
                f"Call-ID: {call_id}",
                f"CSeq: {cseq} REGISTER",
                f"Contact: <sip:{user}@{tag}.invalid;transport=ws>;expires={expires}",
                f"Expires: {expires}",
            ]
            if authorization:
                lines.append(f"Authorization: {authorization}")
            lines += ["Content-Length: 0", "", ""]
            await ws.send_str("\r\n".join(lines))
            while True:
                reply = await ws.receive_str(timeout=10)
                if not reply.startswith("SIP/2.0 "):
                    continue  # a request from Asterisk (qualify OPTIONS): not our answer
                if _status(reply) >= 200:
                    return reply

        async def authenticated(expires: int) -> int:
            reply = await send(expires)
            if _status(reply) != 401:
                return _status(reply)
            challenge = dict(_CHALLENGE.findall(_header(reply, "WWW-Authenticate")))
            realm, nonce = challenge["realm"], challenge["nonce"]
            cnonce, nc = secrets.token_hex(8), "00000001"
            ha1 = _md5(f"{user}:{realm}:{password}")
            ha2 = _md5(f"REGISTER:{uri}")
            response = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            authorization = (
                f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
                f'response="{response}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"'
            )
            if "opaque" in challenge:
                authorization += f', opaque="{challenge["opaque"]}"'
            return _status(await send(expires, authorization))

        status = await authenticated(60)
        if status == 200:
            await authenticated(0)
        return status
