"""Replay a production reference trace (``reference/production/``) on the simulator.

The real Asterisk ran the project's ``asterisk/*.conf`` plus the tier's test-only
dialplan (``tests/real_asterisk/asterisk.py``: agents' phones ``[tier-agents]``, the
customer's side ``[tier-caller]``, an outside phone). The simulator runs the same
files, with what the recording says Asterisk was given:

* the harness's AMI actions (the ``# >>`` lines: global ``Setvar``, ``Originate``), at
  the same moment of the run (scaled);
* the daemon's FastAGI answers, taken from the ``.agi.txt`` transcript, session by
  session (matched by route and caller number);
* the daemon's own AMI actions, which the unfiltered recording session does not see
  as actions: inferred from their effects (see :data:`DAEMON_ACTIONS`), sent at the
  moment the effect was recorded;
* the agents' phone settings (the AstDB values ``[tier-agents]`` read: the trace's
  ``DB_RESULT`` variables) and the prompts' lengths (Playback → ``PLAYBACKSTATUS``).

The customer over SIP is, in the rig, a call from Asterisk to its own trunk; the
provider's leg (``PJSIP/tier-provider-…``) would live on the provider's PBX in
production, so the simulator only plays the trunk leg (``place_call``) with the
customer's recorded patience and digits.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from callcenter.clock import ScaledClock
from callcenter.sim.ami import AmiUser, parse_manager_conf
from callcenter.sim.pbx import Pbx, PbxConfig
from tests.real_asterisk.asterisk import TIER_DIALPLAN
from tests.sim.agi_responder import Responder, Session
from tests.sim.traces import REFERENCE, Block, read_trace

PRODUCTION = REFERENCE / "production"
ASTERISK = Path(__file__).resolve().parents[2] / "asterisk"
SCALE = 4.0

#: The provider's side of a SIP test call (another PBX in production).
PROVIDER_LEG = "PJSIP/tier-provider-"


@dataclass(frozen=True)
class DaemonAction:
    """An AMI action the daemon sent, found by its effect in the trace.

    ``marker`` is (event, channel key, header, value) of the first event it caused;
    the action is sent at that event's time, to the simulator's channel of that key.
    """

    marker: tuple[str, str, str, str]
    action: dict[str, str]


#: The daemon's AMI actions per scenario (the daemon's own AMI session is not recorded).
DAEMON_ACTIONS: dict[str, list[DaemonAction]] = {
    # An frees up: Setvar the route on the waiting caller, then Redirect it to cc-dial.
    "wait-moh-redirect": [
        DaemonAction(
            ("VarSet", "PJSIP/trunk#2", "Variable", "CC_AGENT_CHANNEL"),
            {"Action": "Setvar", "Variable": "CC_AGENT_CHANNEL", "Value": "Local/101@tier-agents"},
        ),
        DaemonAction(
            ("VarSet", "PJSIP/trunk#2", "Variable", "CC_AGENT_CHANNEL"),
            {"Action": "Setvar", "Variable": "CC_AGENT_ID", "Value": "1"},
        ),
        DaemonAction(
            ("VarSet", "PJSIP/trunk#2", "Variable", "CC_AGENT_CHANNEL"),
            {"Action": "Setvar", "Variable": "CC_RING_TIMEOUT", "Value": "6"},
        ),
        DaemonAction(
            ("VarSet", "PJSIP/trunk#2", "Variable", "CC_AGENT_CHANNEL"),
            {"Action": "Setvar", "Variable": "CC_ACTION", "Value": "dial"},
        ),
        DaemonAction(
            ("VarSet", "PJSIP/trunk#2", "Variable", "CC_AGENT_CHANNEL"),
            {"Action": "Redirect", "Context": "cc-dial", "Exten": "s", "Priority": "1"},
        ),
    ],
    # The agent page's blind transfer: AMI BlindTransfer on the agent's channel.
    "blind-transfer-external": [
        DaemonAction(
            ("BlindTransfer", "Local/101@tier-agents;1#1", "Event", "BlindTransfer"),
            {"Action": "BlindTransfer", "Context": "agents", "Exten": "0988000001"},
        ),
    ],
}


# --------------------------------------------------------------------------- channel names


def channel_base(name: str) -> str:
    """PJSIP/trunk-0000000f → PJSIP/trunk; Local/101@tier-agents-00000009;1 → …;1."""
    return re.sub(r"-[0-9a-f]{8}(;\d)?$", lambda m: m.group(1) or "", name)


class ChannelNames:
    """Names channels by kind and order of appearance: ``PJSIP/trunk#2`` is the second
    trunk channel of the run (a trace has several with the same normalised name)."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.counts: dict[str, int] = defaultdict(int)

    def key(self, name: str) -> str:
        if name not in self.keys:
            base = channel_base(name)
            self.counts[base] += 1
            self.keys[name] = f"{base}#{self.counts[base]}"
        return self.keys[name]


def event_channel(block: Block) -> str:
    data = dict(block)
    return data.get("Channel") or data.get("DestChannel") or ""


# --------------------------------------------------------------------------- inputs from a trace


def agi_scripts(name: str) -> dict[tuple[str, str], list[list[str]]]:
    """(route, caller number) → the commands the daemon sent, one list per session."""
    path = PRODUCTION / f"{name}.agi.txt"
    scripts: dict[tuple[str, str], list[list[str]]] = defaultdict(list)
    route = caller = ""
    commands: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# ===== FastAGI session"):
            if commands is not None:
                scripts[(route, caller)].append(commands)
            commands, route, caller = [], "", ""
            match = re.search(r"agi_network_script=(\S+)", line)
            route = match.group(1) if match else ""
            continue
        match = re.match(r"\S+ << agi_callerid: (.*)$", line)
        if match:
            caller = match.group(1)
        match = re.match(r"\S+ >> (.*)$", line)
        if match and commands is not None:
            commands.append(match.group(1))
    if commands is not None:
        scripts[(route, caller)].append(commands)
    return scripts


#: FastAGI environment lines that name ids or this run's ports and threads, not the call.
AGI_RUN_SPECIFIC = {"agi_uniqueid", "agi_threadid", "agi_request"}


def agi_environments(name: str) -> list[dict[str, str]]:
    """The ``agi_*`` environment Asterisk sent in each recorded FastAGI session, with the
    run-specific lines left out and the channel name normalised."""
    sessions: list[dict[str, str]] = []
    path = PRODUCTION / f"{name}.agi.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# ===== FastAGI session"):
            sessions.append({})
        match = re.match(r"\S+ << (agi_\w+): (.*)$", line)
        if match and sessions:
            sessions[-1][match.group(1)] = match.group(2)
    return [comparable_environment(env) for env in sessions]


def comparable_environment(env: dict[str, str]) -> dict[str, str]:
    out = {k: v for k, v in env.items() if k not in AGI_RUN_SPECIFIC}
    if "agi_channel" in out:
        out["agi_channel"] = channel_base(out["agi_channel"])
    return out


class ProductionResponder(Responder):
    """Answers each FastAGI session with the recorded daemon's commands for that route
    and caller (two callers' sessions interleave, so order alone would not do)."""

    def __init__(self, scripts: dict[tuple[str, str], list[list[str]]]) -> None:
        super().__init__()
        self.by_key = {key: list(lists) for key, lists in scripts.items()}
        self.unmatched: list[tuple[str, str]] = []

    def script_for(self, session: Session) -> list[str]:
        key = (session.env.get("agi_network_script", ""), session.env.get("agi_callerid", ""))
        queue = self.by_key.get(key)
        if not queue:
            self.unmatched.append(key)
            return []
        return queue.pop(0)


def astdb(events: list[Block]) -> dict[tuple[str, str], str]:
    """The agents' phone settings [tier-agents] read (DB_RESULT at priorities 1, 6, 9)."""
    keys = {"1": "mode", "5": "ring", "6": "ring", "8": "talk", "9": "talk"}
    out: dict[tuple[str, str], str] = {}
    for block in events:
        data = dict(block)
        if data.get("Event") != "VarSet" or data.get("Variable") != "DB_RESULT":
            continue
        if data.get("Context") != "tier-agents" or data.get("Priority") not in keys:
            continue
        ext = data.get("Exten", "")
        out.setdefault(("tier", f"{ext}/{keys[data['Priority']]}"), data.get("Value", ""))
    return out


def prompt_seconds() -> dict[str, float]:
    """How long each prompt plays: the lengths of the files the recording installed
    (``prompts.json``, written by the recorder)."""
    lengths: dict[str, float] = json.loads((PRODUCTION / "prompts.json").read_text("utf-8"))
    return lengths


def marker_times(name: str, events: list[Block]) -> dict[tuple[str, str, str, str], float]:
    names = ChannelNames()
    times: dict[tuple[str, str, str, str], float] = {}
    for block in events:
        data = dict(block)
        chan = event_channel(block) or data.get("TransfererChannel", "")
        if not chan:
            continue
        key = names.key(chan)
        for action in DAEMON_ACTIONS.get(name, []):
            event, chan_key, header, value = action.marker
            if data["Event"] == event and key == chan_key and data.get(header) == value:
                times.setdefault(action.marker, float(data["Timestamp"]))
    return times


# --------------------------------------------------------------------------- the run


def _setup(work: Path, name: str) -> Path:
    """The project's asterisk/*.conf with the tier's test dialplan appended (as the rig did),
    and the include files ``callcenter asterisk sync`` generated for the recording."""
    for conf in ASTERISK.glob("*.conf"):
        shutil.copy(conf, work / conf.name)
    for generated in PRODUCTION.glob(f"{name}.*.conf"):
        shutil.copy(generated, work / generated.name.removeprefix(f"{name}."))
    extensions = work / "extensions.conf"
    extensions.write_text(extensions.read_text(encoding="utf-8") + TIER_DIALPLAN, "utf-8")
    return extensions


def _parse_callerid(text: str) -> tuple[str, str]:
    name, _, rest = text.rpartition("<")
    return name.strip().strip('"'), rest.rstrip(">").strip()


async def run_production(name: str, scale: float = SCALE) -> tuple[list[Block], Responder]:
    """Play scenario ``name`` on the simulator; return every event it raised."""
    trace = read_trace(f"production/{name}")
    scripts = agi_scripts(name)
    markers = marker_times(name, trace.events)
    sends: list[tuple[float, Block | DaemonAction]] = list(
        zip(trace.sent_at, trace.actions, strict=True)
    )
    origin = next(at for at, a in sends if isinstance(a, list) and dict(a)["Action"] == "Originate")
    sends += [(markers[action.marker], action) for action in DAEMON_ACTIONS.get(name, [])]
    sends.sort(key=lambda item: item[0])
    responder = ProductionResponder(scripts)
    # No session in the transcript: nothing listened (Asterisk's connect was refused).
    agi_up = bool(scripts)
    port = await responder.start()
    if not agi_up:
        await responder.close()
    work = Path(tempfile.mkdtemp(prefix="cc-conform-"))
    events: list[Block] = []
    pbx: Pbx | None = None
    try:
        pbx = Pbx(
            PbxConfig(
                dialplan=_setup(work, name),
                queues=work / "queues.conf",
                globals={
                    "CC_AGI": f"agi://127.0.0.1:{port}",
                    "CC_RECORDINGS": str(work / "rec"),
                },
                sounds=prompt_seconds(),
                write_recordings=False,
                provider_loopback=True,
            ),
            ScaledClock(scale),
        )
        pbx.astdb.update(astdb(trace.events))
        pbx.listeners.append(events.append)
        loop = asyncio.get_running_loop()
        wall0 = loop.time()
        for at, item in sends:
            due = wall0 + max(0.0, at - origin) / scale
            await asyncio.sleep(max(0.0, due - loop.time()))
            if isinstance(item, DaemonAction):
                _daemon_action(pbx, item, events)
            else:
                await _harness_action(pbx, dict(item))
        await asyncio.sleep(0.2)
        await asyncio.wait_for(pbx.idle.wait(), 120 / scale + 30)
        await asyncio.sleep(0.1)
    finally:
        if pbx is not None:
            await pbx.close()
        if agi_up:
            await responder.close()
        shutil.rmtree(work, ignore_errors=True)
    return events, responder


async def _harness_action(pbx: Pbx, action: dict[str, str]) -> None:
    kind = action.get("Action")
    if kind == "Setvar" and "Channel" not in action:
        pbx.globals[action["Variable"]] = action["Value"]
        pbx.emit(
            "VarSet",
            "dialplan",
            [
                ("Channel", "none"),
                ("Uniqueid", "none"),
                ("Variable", action["Variable"]),
                ("Value", action["Value"]),
            ],
        )
    elif kind == "Originate":
        variables = dict(
            item.partition("=")[::2] for item in action.get("Variable", "").split(",") if item
        )
        channel = action["Channel"]
        number_name = _parse_callerid(action.get("CallerID", ""))
        if channel.startswith("PJSIP/") and channel.endswith("@tier-provider"):
            did = channel.split("/", 1)[1].split("@", 1)[0]
            await pbx.place_call(
                did,
                number_name[1],
                number_name[0],
                digits=variables.get("TIER_DIGITS", ""),
                digit_delay=float(variables.get("TIER_DIGITS_AFTER") or 0),
                patience=float(variables.get("TIER_PATIENCE") or 90),
            )
        else:
            await pbx.originate(
                channel,
                context=action.get("Context", ""),
                exten=action.get("Exten", ""),
                priority=int(action.get("Priority", "1")),
                callerid=action.get("CallerID", ""),
                variables=variables,
                ring_seconds=float(action.get("Timeout", "30000")) / 1000,
                action_id=action.get("ActionID", ""),
            )


def _daemon_action(pbx: Pbx, item: DaemonAction, events: list[Block]) -> None:
    """Send the daemon's action to the simulator's channel playing the marker's channel."""
    names = ChannelNames()
    for block in events:
        if event_channel(block):
            names.key(event_channel(block))
    wanted = item.marker[1]
    chan = next(
        (c for real, key in names.keys.items() if key == wanted and (c := pbx.find(real))),
        None,
    )
    assert chan is not None, f"no live channel {wanted} for {item.action}"
    action = item.action
    if action["Action"] == "Setvar":
        pbx.set_var(chan, action["Variable"], action["Value"])
    elif action["Action"] == "Redirect":
        pbx.redirect(chan, action["Context"], action["Exten"], int(action["Priority"]))
    elif action["Action"] == "BlindTransfer":
        from callcenter.sim.transfers import blind_transfer

        assert blind_transfer(pbx, chan, action["Context"], action["Exten"])


# --------------------------------------------------------------------------- comparison


def daemon_user() -> AmiUser:
    """The daemon's AMI user with manager.conf's event filters: what the daemon sees."""
    return parse_manager_conf((ASTERISK / "manager.conf").read_text(encoding="utf-8"))["callcenter"]


_PROGRESS_VARIABLES = re.compile(r"^(CC_.*|MIXMONITOR_FILENAME|DIALSTATUS|QUEUESTATUS|AGISTATUS)$")


def _dialplan_progress(data: dict[str, str]) -> bool:
    name = data.get("Event")
    return name == "Newexten" or (
        name == "VarSet" and bool(_PROGRESS_VARIABLES.match(data.get("Variable", "")))
    )


def daemon_view(
    events: list[Block],
    key_headers: dict[str, tuple[str, ...]],
    ignore: set[str],
) -> dict[str, list[str]]:
    """Per channel (named by order of appearance), the events the daemon's filter lets
    through, each with its key headers; the provider's leg and ``ignore`` left out.

    Also the dialplan's own progress, which the daemon no longer subscribes to (issue 19:
    half of all AMI events) but which proves the simulator runs the dialplan as Asterisk
    does: every step (Newexten) and the variables the dialplan and FastAGI set."""
    user = daemon_user()
    names = ChannelNames()
    out: dict[str, list[str]] = defaultdict(list)
    for block in events:
        data = dict(block)
        chan = event_channel(block)
        if not chan or chan.startswith(PROVIDER_LEG) or chan == "none":
            continue
        key = names.key(chan)
        if not (user.wants(block) or _dialplan_progress(data)):
            continue
        name = data["Event"]
        if name in ignore or f"{name} {data.get('Variable', '')}" in ignore:
            continue
        parts = [name, *(f"{h}={data.get(h, '')}" for h in key_headers.get(name, ()))]
        out[key].append(" ".join(parts))
    return dict(out)
