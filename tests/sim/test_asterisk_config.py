"""The production Asterisk configuration (asterisk/) is valid for Asterisk 22.

Checked with asterisklint (PyPI) and against the applications and options that
Asterisk 22's documentation lists (docs.asterisk.org, "Asterisk 22 Documentation
> API Documentation > Dialplan Applications"), kept here as data.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from callcenter.sim import dialplan as dp
from callcenter.sim.ami import parse_manager_conf

ASTERISK = Path(__file__).resolve().parents[2] / "asterisk"
LINT = Path(sys.executable).parent / "asterisklint"
ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"

#: Applications the dialplan may use, with the option letters Asterisk 22 documents
#: for them (None: the application takes no options argument we check). Source:
#: https://docs.asterisk.org/Asterisk_22_Documentation/API_Documentation/Dialplan_Applications/
#: (Dial, Queue, MixMonitor, Background, WaitExten, Read, Record pages; e.g. Queue "c":
#: "Continue in the dialplan if the callee hangs up", Record "k": keep the file on hangup).
ASTERISK22_APPS: dict[str, tuple[int | None, str | None]] = {
    # name: (index of the options argument, documented option letters)
    "Answer": (None, None),
    "AGI": (None, None),
    "Background": (1, "snm"),
    "ChanSpy": (1, "bBcdeEgnoqrsSuvwWxX"),
    "Congestion": (None, None),
    "Dial": (2, "AaBbCcDdEeFfGgHhIijKkLMmNnOoPpQRrSsTtUuWwXxz"),
    "Goto": (None, None),
    "GotoIf": (None, None),
    "Hangup": (None, None),
    "MixMonitor": (1, "abBcvVWrtDnimPS"),
    "MusicOnHold": (None, None),
    "NoOp": (None, None),
    "Playback": (1, None),
    "Queue": (1, "bBCcdFhHiIkKmnrRtTwWxX"),
    "Read": (3, "sniet"),
    "Record": (3, "anoqstxkyu"),
    "Set": (None, None),
    "WaitExten": (1, "m"),
    "Wait": (None, None),
}
PLAYBACK_OPTIONS = {"", "skip", "noanswer", "say", "mix"}


def test_asterisklint_finds_nothing() -> None:
    result = subprocess.run(
        [str(LINT), "dialplan-check", "extensions.conf"],
        cwd=ASTERISK,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == "", (
        result.stdout + result.stderr
    )


def test_asterisklint_catches_a_broken_dialplan(tmp_path: Path) -> None:
    """The linter is not a rubber stamp: an unknown app and a bad Goto fail it."""
    (tmp_path / "extensions.conf").write_text(
        "[general]\nstatic=yes\n\n[globals]\n\n[x]\nexten => s,1,Foo(bar)\n same => n,Goto(nowhere,s,1)\n"
    )
    result = subprocess.run(
        [str(LINT), "dialplan-check", "extensions.conf"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "E_APP_MISSING" in result.stdout + result.stderr


def _steps() -> list[tuple[str, str, dp.Step]]:
    plan = dp.load(ASTERISK / "extensions.conf")
    return [
        (ctx.name, ext.pattern, step)
        for ctx in plan.contexts.values()
        for ext in ctx.extensions
        for step in ext.steps.values()
    ]


def test_only_documented_applications_and_options() -> None:
    steps = _steps()
    assert len(steps) > 40
    for context, exten, step in steps:
        assert step.app in ASTERISK22_APPS, f"{context},{exten},{step.priority}: {step.app}"
        index, letters = ASTERISK22_APPS[step.app]
        if index is None:
            continue
        args = dp.split_args(step.data)
        option = args[index] if len(args) > index else ""
        if step.app == "Playback":
            assert option in PLAYBACK_OPTIONS, step
            continue
        assert letters is not None
        bare = re.sub(r"\([^)]*\)", "", option)
        assert set(bare) <= set(letters), f"{step.app} options {option!r} in {context},{exten}"


def test_gotos_land_on_existing_contexts_and_labels() -> None:
    plan = dp.load(ASTERISK / "extensions.conf")
    for context, exten, step in _steps():
        targets: list[str] = []
        if step.app == "Goto":
            targets = [step.data]
        elif step.app == "GotoIf":
            branches = step.data.partition("?")[2]
            targets = [t for t in branches.split(":") if t]
        for target in targets:
            parts = target.split(",")
            if len(parts) == 3:
                ctx_name, ext_name, prio = parts
            elif len(parts) == 2:
                ctx_name, (ext_name, prio) = context, parts
            else:
                ctx_name, ext_name, prio = context, exten, parts[0]
            if "$" in ext_name:
                continue
            ctx = plan.context(ctx_name)
            assert ctx is not None, f"{context}: {target}"
            same = next((e for e in ctx.extensions if e.pattern == ext_name), None)
            ext = same or plan.locate(ctx_name, ext_name)
            assert ext is not None, f"{context}: {target}"
            assert (int(prio) in ext.steps) if prio.isdigit() else (prio in ext.labels), target


def test_the_dialplan_follows_the_contract_table() -> None:
    """Every CC_* variable and AGI route of the architecture table is used by the dialplan."""
    text = dp.read_config(ASTERISK / "extensions.conf")  # with the generated includes
    table = ARCHITECTURE.read_text().split("## The dialplan ↔ daemon contract", 1)[1]
    variables = set(re.findall(r"CC_[A-Z_]+", table))
    routes = set(re.findall(r"agi://…/([a-z-]+)", table))
    assert {"CC_ACTION", "CC_GROUP", "CC_AGENT_CHANNEL", "CC_RING_TIMEOUT"} <= variables
    assert {"inbound", "menu", "route"} <= routes
    for variable in variables - {"CC_GROUP", "CC_AGENT_ID"}:
        assert variable in text, variable
    for route in routes:
        assert f"${{CC_AGI}}/{route}" in text, route
    assert "Dial(${CC_AGENT_CHANNEL}," in text and ",tg)" in text
    assert "MixMonitor(${CC_RECORDINGS}/${UNIQUEID}.wav,r(" in text  # + each side: speakers
    assert "[cc-wait]" in text and "[cc-dial]" in text and "[cc-fallback]" in text


def test_manager_conf_least_privilege_and_timestamps() -> None:
    text = (ASTERISK / "manager.conf").read_text()
    assert re.search(r"^timestampevents\s*=\s*yes", text, re.M)
    assert re.search(r"^bindaddr\s*=\s*127\.0\.0\.1", text, re.M)
    read = re.search(r"^read\s*=\s*(.+)$", text, re.M)
    write = re.search(r"^write\s*=\s*(.+)$", text, re.M)
    assert read and write
    for classes in (read.group(1), write.group(1)):
        granted = {c.strip() for c in classes.split(",")}
        assert not granted & {"all", "command", "config", "user", "security"}, granted
    user = parse_manager_conf(text)["callcenter"]
    assert len(user.filters) > 20
    newchannel = [("Event", "Newchannel"), ("Privilege", "call,all")]
    assert user.wants(newchannel)
    assert not user.wants([("Event", "RTCPSent"), ("Privilege", "reporting,all")])
    assert user.wants([("Event", "VarSet"), ("Variable", "MIXMONITOR_FILENAME")])
    assert not user.wants([("Event", "VarSet"), ("Variable", "RINGTIME_MS")])
    # No "dtmf" read class: key presses reach the daemon through FastAGI only.
    assert not user.wants([("Event", "DTMFEnd"), ("Privilege", "dtmf,all")])


def test_pjsip_templates_and_identifier_order() -> None:
    text = (ASTERISK / "pjsip.conf").read_text()
    assert re.search(r"^endpoint_identifier_order\s*=\s*username,ip,anonymous$", text, re.M)
    assert "[agent-endpoint](!)" in text and "[trunk-endpoint](!)" in text
    assert re.search(r"remove_existing\s*=\s*yes", text)
    sections = re.findall(r"^\[([^\]]+)\](\([^)]*\))?", text, re.M)
    types = re.findall(r"^type\s*=\s*(\w+)", text, re.M)
    assert set(types) <= {
        "global",
        "transport",
        "endpoint",
        "aor",
        "auth",
        "identify",
        "registration",
    }
    assert sections


def test_every_file_has_sections_and_no_stray_lines() -> None:
    for name in (
        "manager.conf",
        "queues.conf",
        "musiconhold.conf",
        "http.conf",
        "modules.conf",
        "pjsip.conf",
        "cdr_manager.conf",
        "queues_callcenter.conf",
    ):
        section = None
        for lineno, raw in enumerate((ASTERISK / name).read_text().splitlines(), 1):
            line = raw.split(";", 1)[0].strip()
            if not line:
                continue
            if line.startswith("#tryinclude "):
                continue  # may be absent: pjsip_callcenter.conf is generated (SIP passwords)
            if line.startswith("#include "):
                assert (ASTERISK / line.split()[1]).is_file(), f"{name}:{lineno}: {line}"
                continue
            if line.startswith("["):
                assert re.fullmatch(r"\[[^\]]+\](\([^)]*\))?", line), f"{name}:{lineno}"
                section = line
                continue
            assert section is not None, f"{name}:{lineno} outside a section"
            assert "=" in line, f"{name}:{lineno}: {line}"
    readme = (ASTERISK / "README.md").read_text()
    for name in (
        "extensions.conf",
        "manager.conf",
        "queues.conf",
        "musiconhold.conf",
        "pjsip.conf",
        "http.conf",
        "modules.conf",
    ):
        assert name in readme, name


def test_compose_gives_the_daemon_the_folder_mixmonitor_writes() -> None:
    """MixMonitor writes ``${CC_RECORDINGS}/<uniqueid>.wav``; the daemon looks for that base
    name in its recordings_dir. In docker-compose.yml both containers must mount the
    recordings volume exactly there, or every "listen" link finds no file."""
    compose = (ASTERISK.parent / "docker-compose.yml").read_text(encoding="utf-8")
    globals_ = (ASTERISK / "extensions.conf").read_text(encoding="utf-8")
    written_to = re.search(r"^CC_RECORDINGS=(\S+)", globals_, re.M)
    assert written_to is not None
    mounts = re.findall(r"^\s+- recordings:(\S+)", compose, re.M)
    daemon_dir = re.search(r"CALLCENTER_RECORDINGS_DIR:\s*(\S+)", compose)
    assert daemon_dir is not None
    assert sorted(mounts) == sorted([written_to.group(1), daemon_dir.group(1)])
