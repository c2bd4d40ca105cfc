"""Static checks of the production dialplan against what the daemon provides (issue 11).

- every sound the dialplan (and the fallback queue) can play is one the generator writes;
- every context the daemon sends a caller to with Redirect or a transfer starts with a
  NoOp at priority 1 (a channel taken out of a bridge resumes at priority + 1);
- every FastAGI route the dialplan names is registered by the daemon, and every
  registered route is used by the dialplan.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import wave
from pathlib import Path

import pytest
from aiohttp import web

from callcenter import daemon
from callcenter.agent_desk import services as agent_page
from callcenter.agi.plugin import AGI_SERVER
from callcenter.config import load_settings
from callcenter.provision import sounds, sync
from callcenter.services import acd as acd_service
from callcenter.sim import dialplan as dp
from callcenter.sim.pbx import parse_queues

ASTERISK = Path(__file__).resolve().parents[2] / "asterisk"
SOUND_RE = re.compile(r"\bcallcenter/[a-z0-9][a-z0-9/-]*")


def _dialplan() -> dp.Dialplan:
    return dp.load(ASTERISK / "extensions.conf")


def dialplan_sounds() -> set[str]:
    """Every sound name the dialplan, the queue and the daemon's announcements can play."""
    plan = _dialplan()
    names = {
        name
        for context in plan.contexts.values()
        for ext in context.extensions
        for step in ext.steps.values()
        for name in SOUND_RE.findall(step.data)
    }
    # Globals that name prompts (CC_*_PROMPT, CC_RECORDING_NOTICE).
    for key, value in plan.globals.items():
        if key.endswith("_PROMPT") or key == "CC_RECORDING_NOTICE":
            names.add(value)
    uses_record = any(
        step.app.lower() == "record"
        for context in plan.contexts.values()
        for ext in context.extensions
        for step in ext.steps.values()
    )
    if uses_record:
        names.add("beep")  # app_record plays Asterisk's "beep" before recording
    queues = dp.read_config(ASTERISK / "queues.conf")
    for line in queues.splitlines():
        key, _, value = line.split(";", 1)[0].partition("=")
        if key.strip() in ("periodic-announce", "announce"):
            names.update(v.strip() for v in value.split(",") if v.strip())
    # What the daemon sets in CC_WAIT_PROMPT_CALL: "please wait, you are number N".
    for position in range(1, 12):
        names.update(acd_service.position_prompt(position).split("&"))
    return names


def test_the_collection_sees_what_the_dialplan_plays() -> None:
    """Guard the collector itself: the prompts known to be played are found."""
    found = dialplan_sounds()
    assert {
        "callcenter/leave-message",
        "callcenter/please-wait",
        "callcenter/survey",
        "callcenter/digits/10",
        "callcenter/recording-notice",
        "beep",
    } <= found


def test_every_sound_the_dialplan_plays_is_generated() -> None:
    generated = set(sounds.prompt_names()) | set(sounds.core_sound_names())
    missing = sorted(dialplan_sounds() - generated)
    assert missing == [], f"played but never generated: {missing}"


def _moh_folder() -> str:
    text = (ASTERISK / "musiconhold.conf").read_text(encoding="utf-8")
    section = text.split("[callcenter]", 1)[1]
    return re.search(r"^directory\s*=\s*(\S+)", section, re.M).group(1)  # type: ignore[union-attr]


def test_the_music_class_folder_is_relative_to_the_data_folder() -> None:
    """musiconhold.conf names moh/callcenter relative to astdatadir, where
    provision_data_dir writes (so a private test Asterisk finds it too)."""
    assert _moh_folder() == "moh/callcenter"
    assert "musicclass = callcenter" in (ASTERISK / "queues.conf").read_text()
    assert _dialplan().globals["CC_MOH_CLASS"] == "callcenter"


@pytest.mark.skipif(
    not (shutil.which("espeak-ng") and shutil.which("sox")), reason="needs espeak-ng and sox"
)
def test_the_generator_writes_every_sound_and_the_music(tmp_path: Path) -> None:
    report = sounds.provision_data_dir(tmp_path)
    for name in sorted(dialplan_sounds()):
        path = tmp_path / "sounds" / f"{name}.wav"
        assert path.is_file(), name
    music = sorted((tmp_path / _moh_folder()).glob("*.wav"))
    assert [p.name for p in music] == sorted(sounds.music_names())
    for path in [*music, tmp_path / "sounds" / "callcenter" / "leave-message.wav"]:
        with wave.open(str(path)) as audio:
            assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (
                8000,
                1,
                2,
            )
            frames = audio.readframes(audio.getnframes())
        peak = max(abs(int.from_bytes(frames[i : i + 2], "little", signed=True))
                   for i in range(0, len(frames), 2))  # fmt: skip
        assert peak > 1000, f"{path.name} is silent"
    for path in music:
        with wave.open(str(path)) as audio:
            assert audio.getnframes() > 8000 * 20  # long enough not to loop every few seconds
    assert len(report.written) == len(sounds.prompt_names()) + 1 + len(music)
    again = sounds.provision_data_dir(tmp_path)
    assert again.written == [] and len(again.kept) == len(report.written)


def _targets() -> dict[str, set[str]]:
    """Contexts the daemon moves a caller into (AMI Redirect, BlindTransfer, Atxfer)."""
    return {
        acd_service.DIAL_CONTEXT: {"s"},
        acd_service.OVERFLOW_CONTEXT: {"s"},
        agent_page.TRANSFER_CONTEXT: set(),  # every extension: agents, departments, outside
    }


def _check_noop_first(plan: dp.Dialplan, context: str, extens: set[str]) -> list[str]:
    problems = []
    ctx = plan.contexts[context]
    for ext in ctx.extensions:
        if ext.pattern == "h" or (extens and ext.pattern not in extens):
            continue
        first, second = ext.steps.get(1), ext.steps.get(2)
        if first is None or first.app != "NoOp" or second is None:
            problems.append(f"{context},{ext.pattern}: priority 1 is {first and first.app}")
    return problems


def test_every_redirect_or_transfer_target_starts_with_a_noop() -> None:
    plan = _dialplan()
    problems = []
    for context, extens in _targets().items():
        assert context in plan.contexts, context
        problems += _check_noop_first(plan, context, extens)
    assert problems == []
    # The external-number extension is among them (the blind transfer that dropped callers).
    assert plan.locate(agent_page.TRANSFER_CONTEXT, "0912345678") is not None


def test_generated_department_extensions_start_with_a_noop() -> None:
    config = sync.PbxConfig(
        ("19006868",),
        (
            sync.DepartmentLine("6001", "sales", ("PJSIP/201", "PJSIP/202")),
            sync.DepartmentLine("6002", "care", ()),
        ),
        (),
    )
    plan = dp.parse(sync.render_extensions(config))
    assert _check_noop_first(plan, "agents", set()) == []
    assert _check_noop_first(dp.parse(sync.render_extensions(config)), "from-trunk", set()) != []


async def test_the_dialplan_uses_exactly_the_fastagi_routes_the_daemon_registers(
    tmp_path: Path,
) -> None:
    """The daemon as `callcenter serve` builds it (every plugin), asked once it serves."""
    text = dp.read_config(ASTERISK / "extensions.conf")
    used = set(re.findall(r"AGI\(\$\{CC_AGI\}/([a-z-]+)", text))
    settings = load_settings(
        None,
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"},
        recordings_dir=tmp_path,
        prompts_dir=tmp_path,
        http={"host": "127.0.0.1", "port": 0},
        agi={"host": "127.0.0.1", "port": 0},
        ami={"host": "127.0.0.1", "port": 9, "reconnect_max_seconds": 1},
    )
    registered: set[str] = set()
    stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def on_started(app: web.Application) -> None:
        registered.update(app[AGI_SERVER]._routes)
        stop.set_result(None)

    async with asyncio.timeout(60):
        await daemon.serve(settings, on_started=on_started, stop=stop)
    assert used, "no FastAGI route found in the dialplan"
    assert used - registered == set(), "named in the dialplan, not served by the daemon"
    assert registered - used == set(), "served by the daemon, never used by the dialplan"


def test_fallback_queue_with_every_agent_paused_takes_no_caller() -> None:
    """joinempty/leavewhenempty list "paused": app_queue counts paused members as
    available otherwise (queues.conf documentation), and callers would sit there."""
    queue = parse_queues(dp.read_config(ASTERISK / "queues.conf"))["cc-fallback"]
    assert "paused" in queue.joinempty and "paused" in queue.leavewhenempty
    assert [m.name for m in queue.members] == ["agent1", "agent2", "agent3"]


def test_transfer_sounds_and_codes_are_ours() -> None:
    """AMI Atxfer needs the ``atxfer`` feature code, and a transfer sound Asterisk cannot
    find makes it give up (this install has no core sounds package): every sound that
    features.conf names is generated, or empty (none)."""
    text = (ASTERISK / "features.conf").read_text(encoding="utf-8")
    settings = dict(re.findall(r"^(\w+)\s*=\s*(\S*)\s*$", text, re.M))
    assert settings.get("atxfer"), "features.conf sets no atxfer code"
    named = {key: value for key, value in settings.items() if key.endswith("sound")}
    assert set(named) >= {"transferannouncesound", "xfersound", "xferfailsound"}
    generated = set(sounds.prompt_names()) | set(sounds.core_sound_names()) | {""}
    assert {key: v for key, v in named.items() if v not in generated} == {}
