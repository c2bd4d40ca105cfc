"""Conformance on the production dialplan: each scenario recorded from a real Asterisk
22.10.1 running ``asterisk/*.conf`` (``reference/production/``, re-recorded by
``python -m tests.real_asterisk.record``) is replayed on the simulator
(``tests/sim/production.py``: same dialplan and generated includes, same FastAGI
answers, same AMI actions at the same moments), and the two must show the daemon the
same thing, channel by channel (and the dialplan's own steps and variables, which the
daemon no longer subscribes to but which show the simulator runs the dialplan as Asterisk).

Compared, per channel (channels named by kind and order of appearance, e.g.
``PJSIP/trunk#2``): the sequence of every event that passes the daemon's own AMI event
filter (``asterisk/manager.conf``) with the headers the daemon uses: Newexten
context/exten/priority/application, VarSet name and value (ids, times and folders
normalised) for the variables the filter lets through (``CC_*``, ``DIALSTATUS``,
``QUEUESTATUS``, ``AGISTATUS``, ``MIXMONITOR_FILENAME``), Newstate, Dial status, Hangup
cause, MusicOnHold class, MixMonitor, bridge enter/leave, transfer and queue events.
Separately: which channel each channel's Linkedid names (the call it belongs to), the
AGI routes each channel ran, the CDRs (count per channel; the daemon checks their
chain), and the FastAGI environment of every session (ids and ports left out).

Tolerated, and why:

* Events the daemon's filter drops (``RTCPSent``/``RTCPReceived``, ``DTMFBegin``/
  ``DTMFEnd``, ``PeerStatus``, ``Registry``, ``SuccessfulAuth``,
  ``RequestNotSupported``, ``AGIExec*``, ``LocalBridge``, other ``VarSet``s such as
  ``DB_RESULT``, ``RTPAUDIOQOS*``, ``BRIDGEPEER``): the daemon never receives them in
  production (``RequestNotSupported``/``Registry`` are, besides, artefacts of the rig's
  trunk registering to the instance itself).
* The provider's leg ``PJSIP/tier-provider-…`` of a SIP test call: in production it is
  on the provider's PBX; the rig's manager.conf hides it from the daemon the same way.
* ``Cdr``: raised by the CDR engine's own thread, so its place among a channel's events
  is a race in Asterisk itself (compared per channel as a count, and as the chain of
  records: party B, application, disposition, context and extension; durations are
  times, left out).
* ``DeviceStateChange``, ``BridgeCreate``/``BridgeDestroy``: no channel; raised from the
  device-state and bridge threads (their order against channel events is a race).
* ``OriginateResponse``: raised by the originate thread when the outgoing channel
  answers, racing that channel's own Newstate/DialEnd (compared as a count per channel).
* ``HangupRequest``/``SoftHangupRequest`` on a Local channel whose peer hung up:
  raised by the peer's thread, racing the channel's own events (compared as a set per
  channel, not by position; listed in ``RACY``).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from tests.sim.production import (
    PRODUCTION,
    PROVIDER_LEG,
    ChannelNames,
    agi_environments,
    comparable_environment,
    daemon_user,
    daemon_view,
    event_channel,
    run_production,
)
from tests.sim.traces import Block, read_trace

SCENARIOS = sorted(p.name.removesuffix(".agi.txt") for p in PRODUCTION.glob("*.agi.txt"))

KEY_HEADERS = {
    "Newchannel": ("ChannelStateDesc", "Context", "Exten"),
    "Newexten": ("Context", "Exten", "Priority", "Application"),
    "Newstate": ("ChannelStateDesc",),
    "VarSet": ("Variable", "Value"),
    "DialState": ("DialStatus",),
    "DialEnd": ("DialStatus",),
    "Hangup": ("Cause",),
    "MusicOnHoldStart": ("Class",),
    "BlindTransfer": ("Result", "IsExternal", "Context", "Extension"),
    "QueueCallerJoin": ("Queue",),
    "QueueCallerLeave": ("Queue",),
    "QueueCallerAbandon": ("Queue",),
    "AgentCalled": ("Queue", "Interface"),
    "AgentConnect": ("Queue", "Interface"),
    "AgentComplete": ("Queue", "Interface", "Reason"),
    "AgentRingNoAnswer": ("Queue", "Interface"),
}

#: Compared per channel as a count / a set, not by position (see the module docstring).
RACY = {"Cdr", "HangupRequest", "SoftHangupRequest", "OriginateResponse"}


def _normalise(line: str) -> str:
    """Ids, epochs and folders differ between runs: keep what they say, not their digits."""
    head, sep, value = line.partition(" Value=")
    value = re.sub(r"^\S*/([^/\s]+)$", r"<dir>/\1", value)
    value = re.sub(r"\d{9,}\.\d+", "<uid>", value)
    return head + sep + re.sub(r"\d{9,}", "<epoch>", value)


def view(events: list[Block]) -> dict[str, list[str]]:
    return {
        chan: [_normalise(e) for e in seq]
        for chan, seq in daemon_view(events, KEY_HEADERS, RACY).items()
    }


def racy_counts(events: list[Block]) -> dict[str, Counter[str]]:
    user = daemon_user()
    names = ChannelNames()
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for block in events:
        chan = event_channel(block)
        if not chan or chan.startswith(PROVIDER_LEG) or chan == "none":
            continue
        key = names.key(chan)
        name = dict(block)["Event"]
        if name in RACY and user.wants(block):
            out[key][name] += 1
    return dict(out)


def cdr_chains(events: list[Block]) -> dict[str, list[str]]:
    """Each channel's posted CDRs in order: party B, application, disposition, where.
    (What the daemon reconciles per leg; times are left to the durations' own check.)"""
    names = ChannelNames()
    out: dict[str, list[str]] = defaultdict(list)
    for block in events:
        data = dict(block)
        chan = event_channel(block)
        if chan:
            names.key(chan)
        if data["Event"] != "Cdr" or data["Channel"].startswith(PROVIDER_LEG):
            continue
        party_b = names.key(data["DestinationChannel"]) if data["DestinationChannel"] else "-"
        out[names.key(data["Channel"])].append(
            f"{party_b} {data['LastApplication']} {data['Disposition']}"
            f" {data['DestinationContext']},{data['Destination']}"
        )
    return dict(out)


def linked(events: list[Block]) -> dict[str, str]:
    """Each channel → the channel its Linkedid names (the call's first channel)."""
    names = ChannelNames()
    by_uid: dict[str, str] = {}
    out: dict[str, str] = {}
    for block in events:
        data = dict(block)
        chan = event_channel(block)
        if not chan or chan.startswith(PROVIDER_LEG) or chan == "none" or "Uniqueid" not in data:
            continue
        key = names.key(chan)
        by_uid.setdefault(data["Uniqueid"], key)
        out.setdefault(key, data.get("Linkedid", ""))
    return {key: by_uid.get(link, "outside") for key, link in out.items()}


def agi_routes(events: list[Block]) -> dict[str, list[str]]:
    """Each channel → the FastAGI routes it ran (AGI Newexten AppData, host:port dropped)."""
    names = ChannelNames()
    out: dict[str, list[str]] = defaultdict(list)
    for block in events:
        data = dict(block)
        chan = event_channel(block)
        if not chan or chan.startswith(PROVIDER_LEG):
            continue
        key = names.key(chan)
        if data["Event"] == "Newexten" and data.get("Application") == "AGI":
            out[key].append(re.sub(r"agi://[^/]+/", "", data.get("AppData", "")))
    return dict(out)


def _diff(real: dict[str, list[str]], sim: dict[str, list[str]]) -> str:
    import difflib

    lines = []
    for chan in sorted(set(real) | set(sim)):
        if real.get(chan) != sim.get(chan):
            lines.append(f"{chan}:")
            lines += difflib.unified_diff(
                real.get(chan, []), sim.get(chan, []), "real", "sim", n=2, lineterm=""
            )
    return "\n".join(lines)


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_production_scenario_matches_the_real_asterisk(scenario: str) -> None:
    real_events = read_trace(f"production/{scenario}").events
    events, responder = await run_production(scenario)
    assert responder.unmatched == [], "FastAGI sessions the recording does not have"
    real, sim = view(real_events), view(events)
    assert sim == real, _diff(real, sim)
    assert racy_counts(events) == racy_counts(real_events)
    assert cdr_chains(events) == cdr_chains(real_events)
    assert linked(events) == linked(real_events)
    assert agi_routes(events) == agi_routes(real_events)
    # What the daemon's FastAGI server is told, session by session (in the order the
    # sessions opened; two callers' sessions may swap places, hence sorted).
    sim_envs = [comparable_environment(s.env) for s in responder.sessions]
    assert sorted(map(sorted_items, sim_envs)) == sorted(
        map(sorted_items, agi_environments(scenario))
    )


def sorted_items(env: dict[str, str]) -> list[tuple[str, str]]:
    return sorted(env.items())


def test_every_production_scenario_is_replayed() -> None:
    """A recording with no replay would silently stop being checked."""
    recorded = {p.name.removesuffix(".txt") for p in PRODUCTION.glob("*.txt")}
    recorded = {name for name in recorded if not name.endswith(".agi")}
    assert recorded == set(SCENARIOS)
    assert len(SCENARIOS) >= 9


MOVE_DIALPLAN = """
[from-trunk]
exten => 100,1,Answer()
 same => n,Dial(Local/200@phone,20,g)
 same => n,Hangup()

[phone]
exten => 200,1,Answer()
 same => n,Wait(60)

[moved]
exten => s,1,Set(MOVED=yes)
 same => n,Hangup()
"""


@pytest.mark.parametrize("how", ["redirect", "blind_transfer"])
async def test_a_caller_moved_out_of_dials_bridge_runs_priority_1_silently(
    tmp_path: Path, how: str
) -> None:
    """Asterisk 22.10.1 runs priority 1 of the target (its verbose log shows ``Executing
    [s@moved:1]``) but raises no Newexten for it; the traces only show that when priority
    1 is a NoOp, so a Set there tells "ran silently" from "skipped"."""
    from callcenter.clock import ScaledClock
    from callcenter.sim.pbx import Pbx, PbxConfig
    from callcenter.sim.transfers import blind_transfer

    (tmp_path / "extensions.conf").write_text(MOVE_DIALPLAN, encoding="utf-8")
    pbx = Pbx(PbxConfig(dialplan=tmp_path / "extensions.conf"), ScaledClock(10.0))
    events: list[Block] = []
    pbx.listeners.append(events.append)
    try:
        caller = await pbx.place_call("100", "0912345678")
        for _ in range(200):
            if caller.bridge is not None and len(caller.bridge.channels) == 2:
                break
            await asyncio.sleep(0.01)
        assert caller.bridge is not None
        if how == "redirect":
            pbx.redirect(caller, "moved", "s", 1)
        else:
            agent = next(c for c in caller.bridge.channels if c is not caller)
            assert blind_transfer(pbx, agent, "moved", "s")
        await asyncio.wait_for(pbx.idle.wait(), 10)
    finally:
        await pbx.close()
    mine = [dict(b) for b in events if dict(b).get("Channel") == caller.name]
    steps = [
        (e["Context"], e["Priority"], e["Application"])
        for e in mine
        if e["Event"] == "Newexten" and e["Context"] == "moved"
    ]
    assert steps == [("moved", "1", "Dial"), ("moved", "2", "Hangup")]
    moved = [e["Value"] for e in mine if e["Event"] == "VarSet" and e["Variable"] == "MOVED"]
    assert moved == ["yes"], "priority 1 of the target did not run"
