"""One rule for matching a channel to the phone (interface) it belongs to.

Asterisk names a phone in several ways: the dial string an agent's phone is
configured with (``PJSIP/101``, ``Local/201@agents/n``), the channels it makes
(``PJSIP/101-0000002a``, ``Local/201@agents-0000001f;1`` and its ``;2`` half),
``DIALEDPEERNAME`` / ``DestChannel`` (a channel name) and device states
(``PJSIP/101``). Everything that asks "which phone, which agent?" goes
through :func:`interface_key`, so they can never disagree.
"""

from __future__ import annotations

import functools
import re

# channel sequence suffix (8 hex digits, either case), then a Local half's ;1/;2
_CHANNEL_SUFFIX = re.compile(r"^(?P<base>.+?)(?:-[0-9a-fA-F]{8})?(?:;[12])?$")


def interface_of(name: str) -> str:
    """The phone a channel or dial string names, spelled as Asterisk spells it:
    ``PJSIP/101-0000002a`` → ``PJSIP/101``; ``Local/201@agents-0000001f;1`` and
    ``Local/201@agents/n`` → ``Local/201@agents``."""
    name = name.strip()
    if name.lower().startswith("local/") and name.lower().endswith("/n"):
        name = name[:-2]  # the dial string's "no optimisation" option
    match = _CHANNEL_SUFFIX.match(name)
    return match.group("base") if match else name


@functools.lru_cache(maxsize=8192)
def interface_key(name: str) -> str:
    """The comparable key of a channel, dial string or device: :func:`interface_of`,
    case-folded (``PJSIP/Agent1`` and ``pjsip/agent1-0000ABCD`` are one phone).

    Cached: every AMI device event compares its phone with each agent's (300 agents, a
    regular expression each, was the ACD's largest own cost in the screen-pop bench)."""
    return interface_of(name).lower()


def local_partner_name(channel_name: str) -> str:
    """The other half of a Local channel pair, or "" for any other technology."""
    if channel_name.startswith("Local/") and channel_name[-2:] in (";1", ";2"):
        return channel_name[:-1] + ("2" if channel_name.endswith("1") else "1")
    return ""
