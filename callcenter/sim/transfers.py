"""AMI BlindTransfer and Atxfer on a bridged channel (simplified Asterisk behaviour)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from callcenter.sim.channels import Channel

if TYPE_CHECKING:
    from callcenter.sim.bridges import Bridge
    from callcenter.sim.pbx import Pbx


def _bridged_peer(chan: Channel) -> Channel | None:
    if chan.bridge is None:
        return None
    return next((c for c in chan.bridge.channels if c is not chan), None)


def blind_transfer(pbx: Pbx, chan: Channel, context: str, exten: str) -> bool:
    """The transferer's peer continues at context,exten; the transferer leaves and hangs up.

    Event order as in trace e2-blindtransfer: Unhold and BLINDTRANSFER on the
    transferer, BLINDTRANSFER on the transferee, BlindTransfer, then the transferee
    is moved like an AMI Redirect of a bridged channel.
    """
    peer = _bridged_peer(chan)
    if peer is None or chan.bridge is None or pbx.dialplan.locate(context, exten) is None:
        return False
    bridge = chan.bridge
    pbx.chan_event("Unhold", chan)
    pbx.set_var(chan, "BLINDTRANSFER", peer.name)
    pbx.set_var(peer, "BLINDTRANSFER", chan.name)
    pbx.emit(
        "BlindTransfer",
        "call",
        [
            ("Result", "Success"),
            *chan.headers("Transferer"),
            *peer.headers("Transferee"),
            *bridge.headers(),
            ("IsExternal", "Yes"),
            ("Context", context),
            ("Extension", exten),
        ],
    )
    pbx.redirect(peer, context, exten, 1)
    if chan.running_pbx:
        pbx.request_hangup(chan, 16)
    return True


def attended_transfer(pbx: Pbx, chan: Channel, context: str, exten: str) -> None:
    """AMI Atxfer: the transferer dials the target while the caller hears music on hold.

    Modelled on trace e3-atxfer (Asterisk's features "*2" emulated with DTMF): the
    caller's bridge is held open, a Local consultation pair ``Local/<exten>@<context>``
    joins the transferer in a second bridge, and when the transferer hangs up the
    bridges merge (AttendedTransfer) and the Local pair optimises itself away.
    """
    peer = _bridged_peer(chan)
    if peer is None or chan.bridge is None:
        return
    pbx.spawn(_attended(pbx, chan, peer, context, exten))


def _dtmf(pbx: Pbx, chan: Channel, digit: str) -> None:
    pbx.emit(
        "DTMFEnd",
        "dtmf",
        [*chan.headers(), ("Digit", digit), ("DurationMs", "0"), ("Direction", "Received")],
    )


async def _until(pbx: Pbx, condition: Callable[[], bool], limit: float = 120.0) -> None:
    waited = 0.0
    while not condition() and waited < limit:
        await pbx.clock.sleep(0.05)
        waited += 0.05


async def _attended(
    pbx: Pbx, transferer: Channel, caller: Channel, context: str, exten: str
) -> None:
    from callcenter.sim.bridges import Bridge

    held = transferer.bridge
    assert held is not None
    pbx.set_var(transferer, "TRANSFER_CONTEXT", context)
    _dtmf(pbx, transferer, "*")
    await pbx.clock.sleep(0.15)
    _dtmf(pbx, transferer, "2")
    pbx.chan_event("Hold", transferer)
    pbx.chan_event("MusicOnHoldStart", caller, [("Class", "default")])
    for digit in exten:
        await pbx.clock.sleep(0.06)
        _dtmf(pbx, transferer, digit)
    await pbx.clock.sleep(3.0)  # features.conf transferdigittimeout
    if transferer.hungup or caller.hungup:
        return
    one, two = pbx.local_pair(f"Local/{exten}@{context}", transferer.linkedid)
    inherit = transferer.extra.get("inherit", {})
    inherited = {name: transferer.vars[name.lstrip("_")] for name in inherit.values()}
    pbx.set_var(one, "TRANSFERERNAME", transferer.name)
    pbx.set_var(one, "ATTENDEDTRANSFER", transferer.name)
    for name, value in inherited.items():
        pbx.set_var(one, name, value)
    pbx.set_var(two, "ATTENDEDTRANSFER", transferer.name)
    pbx.set_var(two, "TRANSFERERNAME", transferer.name)
    for name, value in inherited.items():
        pbx.set_var(two, name, value)
    two.extra["inherit"] = dict(inherit)
    two.cid_num, two.cid_name = transferer.cid_num, transferer.cid_name
    consult = Bridge(pbx)
    pbx.emit("BridgeCreate", "call", consult.headers())
    consult.created = True
    pbx.chan_event(
        "NewCallerid", two, [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]
    )
    pbx.local_bridge_event(one, two)
    one.extra["owned"] = True
    pbx.spawn(pbx.run_pbx(two))
    pbx.chan_event("NewConnectedLine", one)
    consult.enter(one)
    await _until(pbx, lambda: one.state >= 5 or one.hungup)
    if one.hungup:
        return
    pbx.emit("DialState", "call", [*one.headers("Dest"), ("DialStatus", "RINGING")])
    held.leave(transferer, keep=True)
    consult.enter(transferer)
    consult.set_peers()
    await _until(pbx, lambda: one.state == 6 or one.hungup)
    if one.hungup:
        return
    pbx.emit("DialEnd", "call", [*one.headers("Dest"), ("DialStatus", "ANSWER")])

    def complete() -> None:
        _complete(pbx, transferer, caller, held, consult, one, two)

    transferer.extra["on_transferer_hangup"] = complete


def _complete(
    pbx: Pbx,
    transferer: Channel,
    caller: Channel,
    held: Bridge,
    consult: Bridge,
    one: Channel,
    two: Channel,
) -> None:
    """The transferer hung up: merge the consultation into the caller's bridge."""
    pbx.emit(
        "BridgeMerge",
        "call",
        [(f"To{k}", v) for k, v in held.headers()]
        + [(f"From{k}", v) for k, v in consult.headers()],
    )
    consult.leave(one, keep=True)
    pbx.chan_event("MusicOnHoldStop", caller)
    held.enter(one)
    pbx.emit(
        "AttendedTransfer",
        "call",
        [
            ("Result", "Success"),
            *transferer.headers("OrigTransferer"),
            *[(f"Orig{k}", v) for k, v in held.headers()],
            *transferer.headers("SecondTransferer"),
            *[(f"Second{k}", v) for k, v in consult.headers()],
            *caller.headers("Transferee"),
            *one.headers("TransferTarget"),
            ("IsExternal", "No"),
            ("DestType", "Bridge"),
            ("DestBridgeUniqueid", held.id),
        ],
    )
    held.set_peers()
    # Connected-line updates run through each Local pair to the far halves.
    cid = [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]
    for far in (caller.peer, transferer.peer):
        if far is not None and not far.hungup:
            pbx.chan_event("NewCallerid", far, cid)
    transferer.extra["owned"] = False
    consult.leave(transferer, keep=True)
    pbx.destroy(transferer)
    # The Local consultation pair is now a pipe between two bridges: optimise it away.
    target = two.bridge
    agent = next((c for c in target.channels if c is not two), None) if target else None
    if target is None or agent is None:
        return
    pair = [(f"LocalOne{k}", v) for k, v in one.headers()]
    pair += [(f"LocalTwo{k}", v) for k, v in two.headers()]
    pbx.emit(
        "LocalOptimizationBegin",
        "call",
        [*pair, *agent.headers("Source"), ("DestUniqueId", two.uniqueid), ("Id", "0")],
    )
    target.leave(agent, keep=True)
    held.leave(one, keep=True)
    one.extra["owned"] = False  # gone with its ;2 half
    held.enter(agent)
    held.set_peers()
    # Asterisk 22.10.1 reported "Success: No" here although the swap happened (trace e3).
    pbx.emit("LocalOptimizationEnd", "call", [*pair, ("Success", "No"), ("Id", "0")])
    for far in (two, agent.peer):
        if far is not None and not far.hungup:
            pbx.chan_event("NewCallerid", far, cid)
    target.leave(two)
