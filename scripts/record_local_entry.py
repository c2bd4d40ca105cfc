"""Record a call entering the production dialplan through a Local channel, on a real Asterisk.

Boots a private Asterisk (``ASTERISK_BIN`` or ``asterisk`` on PATH) from the project's
``asterisk/`` configuration in a temporary folder, with ports moved, a FastAGI
responder standing in for the daemon's decisions, and two test contexts: the
forwarder that sends the call into ``Local/19006868@from-trunk`` and stays on the line,
and an agent phone (``Local/101@sim-agent``) that answers after a ring.

    .venv/bin/python scripts/record_local_entry.py tests/acd/reference

writes ``local-entry.txt`` (AMI events, CRLF kept, ``# t=`` receive times) and
``local-entry.agi.txt`` (the FastAGI requests and our replies).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SECRET = "record-secret"

TEST_CONTEXTS = """
; ---- added by scripts/record_local_entry.py (not production) ----
[sim-forwarder]
exten => s,1,NoOp(the forwarding side stays on the line)
 same => n,Wait(8)
 same => n,Hangup()

[sim-agent]
exten => _X.,1,NoOp(agent phone ${EXTEN} rings)
 same => n,Ringing()
 same => n,Wait(1.5)
 same => n,Answer()
 same => n,Wait(30)
 same => n,Hangup()
"""

# FastAGI route → variables the daemon would set (one call: the route decision is "dial").
DECISIONS = {
    "inbound": {"CC_GROUP": "care", "CC_ACTION": "route"},
    "route": {
        "CC_AGENT_CHANNEL": "Local/101@sim-agent",
        "CC_AGENT_ID": "1",
        "CC_RING_TIMEOUT": "20",
        "CC_ACTION": "dial",
    },
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def prepare(tmp: Path, ami_port: int, agi_port: int, sip_port: int) -> Path:
    prefix = Path(shutil.which(os.environ.get("ASTERISK_BIN", "asterisk")) or "").resolve()
    root = prefix.parents[1]  # PREFIX/sbin/asterisk
    for sub in ("etc", "run", "log", "spool", "lib", "db", "cache", "data"):
        (tmp / sub).mkdir()
    for conf in (REPO / "asterisk").glob("*.conf"):
        shutil.copy(conf, tmp / "etc" / conf.name)
    data = root / "var" / "lib" / "asterisk"
    for entry in data.iterdir():
        (tmp / "data" / entry.name).symlink_to(entry)
    etc = tmp / "etc"
    (etc / "asterisk.conf").write_text(
        "[directories]\n"
        f"astetcdir => {etc}\nastmoddir => {root / 'lib' / 'asterisk' / 'modules'}\n"
        f"astvarlibdir => {tmp / 'lib'}\nastdbdir => {tmp / 'db'}\nastkeydir => {tmp / 'lib'}\n"
        f"astdatadir => {tmp / 'data'}\nastagidir => {tmp / 'lib'}\n"
        f"astspooldir => {tmp / 'spool'}\nastrundir => {tmp / 'run'}\n"
        f"astlogdir => {tmp / 'log'}\nastcachedir => {tmp / 'cache'}\n"
        "[options]\nverbose = 0\ntimestampevents = yes\n"
    )
    manager = (etc / "manager.conf").read_text()
    manager = manager.replace("port = 5038", f"port = {ami_port}")
    manager += f"\n[recorder]\nsecret = {SECRET}\nread = all\nwrite = all\npermit = 127.0.0.1/32\n"
    if "timestampevents" not in manager:
        manager = manager.replace("[general]\n", "[general]\ntimestampevents = yes\n", 1)
    (etc / "manager.conf").write_text(manager)
    pjsip = (etc / "pjsip.conf").read_text().replace("0.0.0.0:5060", f"127.0.0.1:{sip_port}")
    (etc / "pjsip.conf").write_text(pjsip)
    http = etc / "http.conf"
    http.write_text(http.read_text().replace("enabled = yes", "enabled = no"))
    dialplan = (etc / "extensions.conf").read_text()
    dialplan = dialplan.replace("agi://127.0.0.1:4573", f"agi://127.0.0.1:{agi_port}")
    dialplan = dialplan.replace("/var/spool/asterisk/monitor/callcenter", str(tmp / "spool"))
    (etc / "extensions.conf").write_text(dialplan + TEST_CONTEXTS)
    return etc / "asterisk.conf"


async def agi_server(port: int, transcript: list[str]) -> asyncio.Server:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env: dict[str, str] = {}
        while line := (await reader.readline()).decode().rstrip("\n"):
            key, _, value = line.partition(": ")
            env[key] = value
        script = env.get("agi_network_script", "")
        transcript.append(
            f"# ===== FastAGI session: {script} channel={env.get('agi_channel')} "
            f"uniqueid={env.get('agi_uniqueid')}"
        )
        transcript.extend(f"<< {k}: {v}" for k, v in env.items())
        for name, value in DECISIONS.get(script.split("/")[0], {}).items():
            command = f'SET VARIABLE {name} "{value}"'
            transcript.append(f">> {command}")
            writer.write(command.encode() + b"\n")
            await writer.drain()
            transcript.append(f"<< {(await reader.readline()).decode().rstrip()}")
        writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", port)


async def ami_record(port: int, out: list[bytes], done: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()  # banner
    writer.write(f"Action: Login\r\nUsername: recorder\r\nSecret: {SECRET}\r\n\r\n".encode())
    originated = False
    while not done.is_set():
        try:
            block = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 1.0)
        except TimeoutError:
            continue
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        out.append(f"# t={stamp} epoch={time.time():.3f}\r\n".encode() + block)
        if not originated and b"Response: Success" in block:
            originated = True
            writer.write(
                b"Action: Originate\r\nChannel: Local/19006868@from-trunk\r\n"
                b"Context: sim-forwarder\r\nExten: s\r\nPriority: 1\r\n"
                b"CallerID: Nguyen Van An <0912345678>\r\nAsync: true\r\n"
                b"ActionID: local-entry-1\r\n\r\n"
            )
            out.append(b"# >> Originate Local/19006868@from-trunk\r\n")
    writer.close()


async def record(ami_port: int, agi_port: int) -> tuple[list[bytes], list[str]]:
    transcript: list[str] = []
    server = await agi_server(agi_port, transcript)
    blocks: list[bytes] = []
    done = asyncio.Event()
    recorder = asyncio.create_task(ami_record(ami_port, blocks, done))
    await asyncio.sleep(14)  # ring 1.5 s, talk until the forwarder hangs up at 8 s
    done.set()
    await recorder
    server.close()
    return blocks, transcript


def main(target: Path) -> None:
    ami_port, agi_port, sip_port = free_port(), free_port(), free_port()
    binary = os.environ.get("ASTERISK_BIN", "asterisk")
    with tempfile.TemporaryDirectory(prefix="cc-asterisk-") as folder:
        conf = prepare(Path(folder), ami_port, agi_port, sip_port)
        proc = subprocess.Popen([binary, "-C", str(conf), "-f", "-n"], stdout=subprocess.DEVNULL)
        try:
            for _ in range(100):  # the console socket appears a moment after start
                booted = subprocess.run([binary, "-C", str(conf), "-rx", "core waitfullybooted"],
                                        timeout=30, capture_output=True)  # fmt: skip
                if booted.returncode == 0:
                    break
                time.sleep(0.2)
            else:
                raise SystemExit("Asterisk did not boot")
            blocks, transcript = asyncio.run(record(ami_port, agi_port))
        finally:
            proc.terminate()  # SIGTERM: Asterisk shuts down at once
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    target.mkdir(parents=True, exist_ok=True)
    (target / "local-entry.txt").write_bytes(b"".join(blocks))
    (target / "local-entry.agi.txt").write_text("\n".join(transcript) + "\n")
    print(f"wrote {len(blocks)} AMI blocks, {len(transcript)} FastAGI lines to {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/acd/reference"))
