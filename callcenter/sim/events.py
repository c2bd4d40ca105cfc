"""Event shapes of a real Asterisk that the simulator raises at a channel's end and on
AMI replies: chan_pjsip's RTP statistics, the CDR, Originate's response.

The primitives (``Pbx.emit``, ``chan_event``, ``set_var``) stay on the façade; the
blocks here are long header lists kept in one place so that conformance differences
(``tests/sim/test_conformance.py``) point at one file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from callcenter.sim.channels import Channel

if TYPE_CHECKING:
    from callcenter.sim.pbx import Pbx

Headers = list[tuple[str, str]]
Listener = Callable[[Headers], None]


def rtp_qos(pbx: Pbx, chan: Channel) -> None:
    """chan_pjsip's RTP statistics variables when a media session ends (once per channel)."""
    if chan.extra.get("qos_done"):
        return
    chan.extra["qos_done"] = True
    ssrc = pbx.rng.getrandbits(31)
    seconds = pbx.clock.monotonic() - (chan.answered_at or pbx.clock.monotonic())
    packets = int(seconds * 50)
    values = {
        "RTPAUDIOQOS": (
            f"ssrc={ssrc};themssrc=0;lp=0;rxjitter=0.000000;rxcount=0;txjitter=0.000000;"
            f"txcount={packets};rlp=0;rtt=0.000000;rxmes=0.000000;txmes=0.000000"
        ),
        "RTPAUDIOQOSJITTER": "minrxjitter=0.000000;maxrxjitter=0.000000;avgrxjitter=0.000000;stdevrxjitter=0.000000;",
        "RTPAUDIOQOSLOSS": "minrxlost=0.000000;maxrxlost=0.000000;avgrxlost=0.000000;stdevrxlost=0.000000;",
        "RTPAUDIOQOSRTT": "minrtt=0.000000;maxrtt=0.000000;avgrtt=0.000000;stdevrtt=0.000000;",
        "RTPAUDIOQOSMES": "minmes=0.000000;maxmes=0.000000;avgmes=0.000000;stdevmes=0.000000;",
    }
    peer = None
    if chan.bridge is not None:
        peer = next((c for c in chan.bridge.channels if c is not chan and c.tech == "PJSIP"), None)
    for name, value in values.items():
        pbx.set_var(chan, name, value)
    if peer is not None:
        for name, value in values.items():
            pbx.set_var(peer, name + "BRIDGED", value)


def originate_response(
    pbx: Pbx,
    chan: Channel | None,
    action_id: str,
    context: str,
    exten: str,
    response: str,
    reason: int,
    num: str,
    name: str,
) -> Headers:
    return [
        ("Event", "OriginateResponse"),
        ("Privilege", "call,all"),
        ("Timestamp", f"{pbx.clock.now().timestamp():.6f}"),
        ("ActionID", action_id),
        ("Response", response),
        ("Channel", chan.name if chan else ""),
        ("Context", context),
        ("Exten", exten),
        ("Reason", str(reason)),
        ("Uniqueid", chan.uniqueid if chan else "<null>"),
        ("CallerIDNum", num or "<unknown>"),
        ("CallerIDName", name or "<unknown>"),
    ]
