"""ChanSpy in the simulator, run from the production ``[cc-listen]`` context: each mode's
options, the events, and the spy ending with the spied-on call (option ``E``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from callcenter.clock import SystemClock
from callcenter.sim.pbx import Pbx, PbxConfig
from callcenter.sim.phones import PhoneBehaviour
from callcenter.sim.spy import spy_options

REPO = Path(__file__).resolve().parents[2]


def listen_section() -> str:
    """``[cc-listen]`` exactly as ``asterisk/extensions.conf`` has it."""
    text = (REPO / "asterisk" / "extensions.conf").read_text()
    start = text.index("[cc-listen]")
    end = text.find("\n[", start + 1)
    return text[start:] if end < 0 else text[start:end]


async def wait_for(condition: object, within: float = 5.0) -> None:
    for _ in range(int(within / 0.02)):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition never held")


def test_options_drop_their_arguments() -> None:
    assert spy_options("qEB") == "qEB"
    assert spy_options("qg(grp)Ew") == "qgEw"


@pytest.mark.parametrize(("exten", "options"), [("s", "qE"), ("whisper", "qEw"), ("barge", "qEB")])
async def test_listen_contexts_spy_on_the_agent_until_the_call_ends(
    tmp_path: Path, exten: str, options: str
) -> None:
    dialplan = tmp_path / "extensions.conf"
    dialplan.write_text("[hold]\nexten => s,1,Answer()\n same => n,Wait(60)\n\n" + listen_section())
    pbx = Pbx(
        PbxConfig(
            dialplan=dialplan,
            phones={
                "101": PhoneBehaviour("101", answer_delay=0.05, talk_seconds=None),
                "109": PhoneBehaviour("109", answer_delay=0.05, talk_seconds=None),
            },
        ),
        SystemClock(),
    )
    events: list[list[tuple[str, str]]] = []
    pbx.listeners.append(events.append)
    try:
        agent = await pbx.originate("PJSIP/101", context="hold", exten="s")
        assert agent is not None
        await wait_for(lambda: agent.answered_at is not None)
        spy = await pbx.originate(
            "PJSIP/109", context="cc-listen", exten=exten, variables={"CC_SPY_CHANNEL": agent.name}
        )
        assert spy is not None
        await wait_for(lambda: "spy" in spy.extra)
        assert spy.extra["spy"] == {"target": agent.name, "options": options}
        started = [dict(e) for e in events if dict(e).get("Event") == "ChanSpyStart"]
        assert started and started[0]["SpyeeChannel"] == agent.name
        assert started[0]["SpyerChannel"] == spy.name

        pbx.request_hangup(agent, 16, soft=True)  # the agent's call ends
        await wait_for(lambda: spy.hungup)  # E: the spy leaves with it
        assert any(dict(e).get("Event") == "ChanSpyStop" for e in events)
    finally:
        await pbx.close()
