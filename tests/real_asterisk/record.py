"""Record reference traces of the production dialplan from a real Asterisk.

    python -m tests.real_asterisk.record            # every scenario
    python -m tests.real_asterisk.record answered-sip noanswer-reroute

Boots the tier's private Asterisk from ``asterisk/*.conf``, runs the daemon unchanged
against it, plays each scenario, and writes into ``tests/sim/reference/production/``:
``<scenario>.txt`` — the raw AMI stream as received by an unfiltered session (CRLF kept,
the format of ``tests/sim/reference/TRACES.md``) — and ``<scenario>.agi.txt`` — every
FastAGI session, through a transcribing proxy between Asterisk and the daemon.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.real_asterisk.agi_proxy import AgiProxy
from tests.real_asterisk.asterisk import Asterisk, Ports, find_asterisk, free_port, make_root
from tests.real_asterisk.daemon import MENU_HOTLINE
from tests.real_asterisk.media import install_media
from tests.real_asterisk.tier import Tier, caller_number, open_tier

OUT = Path(__file__).resolve().parents[1] / "sim" / "reference" / "production"


@dataclass
class Scenario:
    description: str
    play: Callable[[Tier], Awaitable[None]]
    calls: int = 1
    seed: dict[str, Any] = field(default_factory=dict)
    daemon_down: bool = False


async def _answered_sip(tier: Tier) -> None:
    await tier.open_pages("an")
    await tier.call_sip(caller_number(900))


async def _answered_local(tier: Tier) -> None:
    await tier.open_pages("an")
    await tier.call_local(caller_number(901))


async def _noanswer_reroute(tier: Tier) -> None:
    tier.pbx.set_agent("101", mode="noanswer")
    await tier.open_pages("an", "binh")
    await tier.call_sip(caller_number(902))


async def _abandon_ringing(tier: Tier) -> None:
    tier.pbx.set_agent("101", mode="noanswer")
    await tier.open_pages("an")
    await tier.call_sip(caller_number(903), patience=8)


async def _wait_moh_redirect(tier: Tier) -> None:
    await tier.ami.action({"Action": "Setvar", "Variable": "CC_ANNOUNCE_EVERY", "Value": "3"})
    tier.pbx.set_agent("101", talk=14)
    await tier.open_pages("an")
    await tier.call_sip(caller_number(904))
    await asyncio.sleep(2)
    await tier.call_sip(caller_number(905))


async def _menu(tier: Tier) -> None:
    await tier.open_pages()
    await tier.call_sip(caller_number(906), did=MENU_HOTLINE, digits="1", digits_after=1.5)


async def _closed_callback(tier: Tier) -> None:
    await tier.call_sip(caller_number(907), digits="1", digits_after=6)


async def _blind_transfer_external(tier: Tier) -> None:
    tier.pbx.set_agent("101", talk=10)
    await tier.open_pages("an")
    page = tier.pages["an"]
    await tier.call_sip(caller_number(908))

    def talking() -> list[str]:
        return [
            str(d["call"]["linkedid"])
            for _, d in page.messages
            if d.get("type") == "call" and (d.get("call") or {}).get("phase") == "talking"
        ]

    await tier.until(lambda: bool(talking()), within=30, what="an talking")
    status, body = await page.post(
        f"/api/agent/calls/{talking()[0]}/transfer",
        {"kind": "external", "target": "0988000001", "mode": "blind"},
    )
    assert status == 200, body


async def _daemon_down_fallback(tier: Tier) -> None:
    # The agents are at work when the daemon goes (pages open, so the daemon has unpaused
    # them in cc-fallback); with nobody logged in the queue is empty (JOINEMPTY).
    await tier.open_pages()
    await tier.until(
        lambda: _unpaused_members(tier) == len(tier.pages),
        within=15,
        what="the agents unpaused in cc-fallback",
    )
    tier.daemon.stop()
    await tier.call_sip(caller_number(909), patience=12)
    await asyncio.sleep(14)


def _unpaused_members(tier: Tier) -> int:
    lines = tier.pbx.cli("queue show cc-fallback").splitlines()
    return sum(1 for line in lines if "@tier-agents" in line and "(paused" not in line)


SCENARIOS: dict[str, Scenario] = {
    "answered-sip": Scenario(
        "A customer over the SIP trunk; agent an answers after 1 s, "
        "speaks, hangs up; the page saves the wrap-up.",
        _answered_sip,
    ),
    "answered-local": Scenario(
        "The same through a Local channel (Local/19006868@from-trunk;"
        " the customer is the ;1 half).",
        _answered_local,
    ),
    "noanswer-reroute": Scenario(
        "An's phone rings out (6 s ring timeout); the daemon re-routes to binh, who answers.",
        _noanswer_reroute,
    ),
    "abandon-ringing": Scenario("The caller hangs up while an's phone rings.", _abandon_ringing),
    "wait-moh-redirect": Scenario(
        "One agent, two callers: the second waits in [cc-wait] with "
        "music and announcements every 3 s, then is Redirected to "
        "cc-dial when an frees up.",
        _wait_moh_redirect,
        calls=2,
    ),
    "menu": Scenario("The menu hotline 19001080: the caller presses 1 (sales: chi).", _menu),
    "closed-callback": Scenario(
        "Out of hours: closed prompt, 'press 1', the caller presses 1.",
        _closed_callback,
        seed={"closed_now": True},
    ),
    "blind-transfer-external": Scenario(
        "An answers, then blind-transfers the caller to the "
        "outside number 0988000001 from the agent page.",
        _blind_transfer_external,
    ),
    "daemon-down-fallback": Scenario(
        "The daemon is down: FastAGI fails, [cc-fallback] queues "
        "the caller (the agents were at work: unpaused); an agent answers.",
        _daemon_down_fallback,
        daemon_down=True,
    ),
}


def _stamp(at: float) -> str:
    moment = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
    return f"# t={moment.replace('+00:00', 'Z')} epoch={at:.3f}"


def ami_trace(name: str, scenario: Scenario, raw: list[tuple[float, str, bytes]]) -> bytes:
    header = [
        "# Real Asterisk 22 running the project's asterisk/*.conf (tests/real_asterisk),",
        "# AMI user 'tier' (read=all, no event filters), Events: on. Recorded by",
        "# python -m tests.real_asterisk.record; format as in tests/sim/reference/TRACES.md.",
        f"# Scenario {name}: {scenario.description}",
    ]
    out = bytearray("\r\n".join(header).encode() + b"\r\n")
    for at, kind, data in raw:
        if kind == "banner":
            out += f"{_stamp(at)} banner line (no blank line follows on the wire)\r\n".encode()
            out += data + b"\r\n"
        elif kind == "sent":
            out += f"{_stamp(at)} SENT (shown as comments, not received data):\r\n".encode()
            out += b"".join(b"# >> " + line + b"\r\n" for line in data.split(b"\r\n")) + b"\r\n"
        else:
            out += f"{_stamp(at)}\r\n".encode() + data
    return bytes(out)


def prompt_lengths(data_dir: Path) -> dict[str, float]:
    """Seconds each installed prompt plays (``callcenter/…``, ``tier/…``): a replay on the
    simulator needs the lengths, not the audio (written as ``prompts.json``)."""
    sounds = data_dir / "sounds"
    lengths: dict[str, float] = {}
    for folder in ("callcenter", "tier"):
        for path in sorted((sounds / folder).rglob("*.wav")):
            with wave.open(str(path)) as audio:
                seconds = audio.getnframes() / audio.getframerate()
            lengths[path.relative_to(sounds).with_suffix("").as_posix()] = round(seconds, 3)
    return lengths


def boot(work: Path) -> Asterisk:
    binary = find_asterisk()
    if binary is None:
        raise SystemExit("no asterisk binary (set ASTERISK_BIN or put it on PATH)")
    root = make_root()
    pbx = Asterisk(binary, root, Ports(), root / "recordings")
    pbx.prepare()
    install_media(work / "media", pbx.root / "data")
    pbx.start()
    return pbx


#: The include files ``callcenter asterisk sync`` generated from the tier's database: kept
#: with each trace, so a replay (tests/sim/production.py) runs the very same dialplan.
GENERATED = ("extensions_callcenter.conf", "queues_callcenter.conf")


async def record(
    pbx: Asterisk, work: Path, names: list[str]
) -> dict[str, tuple[bytes, str, dict[str, str]]]:
    """Play each scenario; return name → (AMI trace, FastAGI transcript, generated config)."""
    traces: dict[str, tuple[bytes, str, dict[str, str]]] = {}
    for name in names:
        scenario = SCENARIOS[name]
        proxy = AgiProxy(pbx.ports.agi, free_port())
        await proxy.start()
        try:
            async with open_tier(
                pbx, work / name, scenario.seed, daemon_agi_port=proxy.target_port
            ) as tier:
                generated = {f: (pbx.etc / f).read_text(encoding="utf-8") for f in GENERATED}
                if scenario.daemon_down:
                    await proxy.close()  # nothing listens: Asterisk's connect is refused
                await scenario.play(tier)
                if not scenario.daemon_down:
                    await tier.wait_calls_ended(scenario.calls, within=90)
                await asyncio.sleep(1)  # the last Cdr and Hangup events
                traces[name] = (
                    ami_trace(name, scenario, tier.ami.raw),
                    proxy.transcript(name),
                    generated,
                )
        finally:
            await proxy.close()
        print(f"recorded {name}", file=sys.stderr)
    return traces


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # No ``choices=``: with nargs="*" argparse rejects the empty default (all scenarios).
    parser.add_argument("scenarios", nargs="*", help=f"any of {', '.join(SCENARIOS)}")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(
            f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}"
        )
    names = args.scenarios or list(SCENARIOS)
    work = Path(tempfile.mkdtemp(prefix="cc-rec-"))
    for name in names:
        (work / name).mkdir()
    pbx = boot(work)
    args.out.mkdir(parents=True, exist_ok=True)
    lengths = json.dumps(prompt_lengths(pbx.root / "data"), indent=1, sort_keys=True)
    (args.out / "prompts.json").write_text(lengths + "\n", encoding="utf-8")
    try:
        traces = asyncio.run(record(pbx, work, names))
    finally:
        pbx.stop()
        shutil.rmtree(pbx.root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (ami, agi, generated) in traces.items():
        (args.out / f"{name}.txt").write_bytes(ami)
        (args.out / f"{name}.agi.txt").write_text(agi + "\n", encoding="utf-8")
        for conf, text in generated.items():
            (args.out / f"{name}.{conf}").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
