"""A private Asterisk 22 booted from the project's own ``asterisk/*.conf``.

The committed files are copied into a temp folder; only what must move is rewritten
(listening ports, the daemon's FastAGI address, the recordings folder, the provider
trunk's address; sounds and music live in the instance's own ``astdatadir``), and test-only parts are *appended*: the
agents' phones (``[tier-agents]``), the customers' side (``[tier-caller]``), a
"provider" endpoint through which Asterisk calls its own trunk endpoint, and an AMI
user for the harness. The committed files are never edited for the tests.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]
PROJECT_CONF = REPO / "asterisk"
TIER_AMI_USER = "tier"
TIER_AMI_SECRET = "tier-harness-secret"
DAEMON_AMI_SECRET = "tier-daemon-secret"
#: The caller-side endpoint: dialling PJSIP/<DID>@tier-provider sends an INVITE from
#: 127.0.0.1 to the instance's own UDP port, where the trunk endpoint takes it.
PROVIDER = "tier-provider"
#: Outside numbers (external transfers, click-to-call) start with this; [from-trunk]
#: gets one appended line sending them to the outside phone ([tier-outside]).
OUTSIDE_PREFIX = "0988"


def find_asterisk() -> Path | None:
    """The binary from ``ASTERISK_BIN`` or PATH, symlinks resolved (the prefix is beside it)."""
    named = os.environ.get("ASTERISK_BIN") or shutil.which("asterisk")
    if not named:
        return None
    path = Path(named).resolve()
    return path if path.is_file() and os.access(path, os.X_OK) else None


def free_udp_and_tcp_port() -> int:
    """A port free for both UDP and TCP (pjsip's UDP transport; avoid clashes with AMI)."""
    return free_port(udp_too=True)


@dataclass
class Ports:
    ami: int = field(default_factory=free_port)
    sip: int = field(default_factory=free_udp_and_tcp_port)
    http: int = field(default_factory=free_port)
    agi: int = field(default_factory=free_port)  # the daemon's FastAGI server


#: Test-only dialplan appended to the copy of extensions.conf.
TIER_DIALPLAN = r"""

; ===== test tier (appended by tests/real_asterisk; not part of the project) =====
; An agent's phone: Local/<ext>@tier-agents. Its behaviour comes from the AstDB
; (family tier, keys <ext>/mode = answer|noanswer|busy, <ext>/ring, <ext>/talk), set
; by the harness: ring, answer, speak (espeak-ng), stay on the line, hang up. The
; settings are read when the phone starts ringing: changing them affects later calls.
[tier-agents]
exten => _X.,1,NoOp(tier agent ${EXTEN} mode ${DB(tier/${EXTEN}/mode)})
 same => n,Set(TIER_MODE=${DB(tier/${EXTEN}/mode)})
 same => n,Set(TIER_TALK=${DB(tier/${EXTEN}/talk)})
 same => n,GotoIf($["${TIER_MODE}" = "busy"]?busy)
 same => n,Ringing()
 same => n,GotoIf($["${TIER_MODE}" = "noanswer"]?noanswer)
 same => n,Wait(${DB(tier/${EXTEN}/ring)})
 same => n,Answer()
 same => n,Playback(tier/agent-speech)
 same => n,Wait(${TIER_TALK})
 same => n,Hangup()
 same => n(busy),Busy(10)
 same => n(noanswer),Wait(300)
 same => n,Hangup()

; The customer's own side of a test call, once the hotline answered: stays on the
; line TIER_PATIENCE seconds (or until the call center hangs up), pressing
; TIER_DIGITS (after TIER_DIGITS_AFTER seconds) if set.
[tier-caller]
exten => s,1,NoOp(tier customer ${CALLERID(num)} patience ${TIER_PATIENCE})
 same => n,GotoIf($["${TIER_DIGITS}" = ""]?wait)
 same => n,Wait(${TIER_DIGITS_AFTER})
 same => n,SendDTMF(${TIER_DIGITS})
 same => n(wait),Wait(${TIER_PATIENCE})
 same => n,Hangup()

; Ask the daemon's FastAGI route <exten> directly with one argument (TIER_ARG), as the
; production dialplan does, and keep AGISTATUS in the AstDB (tier/probe/<exten>).
[tier-agi-probe]
exten => _[a-z].,1,Answer()
 same => n,AGI(${CC_AGI}/${EXTEN},${TIER_ARG})
 same => n,Set(DB(tier/probe/${EXTEN})=${AGISTATUS})
 same => n,Hangup()

; Call forwarding: the customer's exchange forwards the call to the hotline through
; a Local channel, so the hotline's dialplan runs on a channel two hops from the
; caller (the call's Linkedid is the customer's channel, not the Local pair's).
[tier-forward]
exten => _X.,1,NoOp(forwarding ${CALLERID(num)} to ${EXTEN})
 same => n,Dial(Local/${EXTEN}@from-trunk)
 same => n,Hangup()

; The provider network routes outside numbers (prefix OUTSIDE_PREFIX, never a hotline)
; to an outside phone; the project's own lines of [from-trunk] are untouched.
[from-trunk]
exten => _0988XXXXXX,1,Goto(tier-outside,${EXTEN},1)

; An outside number reached through the trunk (external transfer, click-to-call):
; the provider sends it back in, and this "outside phone" answers and talks.
[tier-outside]
exten => _X.,1,NoOp(outside phone ${EXTEN})
 same => n,Ringing()
 same => n,Wait(1)
 same => n,Answer()
 same => n,Playback(tier/agent-speech)
 same => n,Wait(${IF($["${DB(tier/outside/talk)}" = ""]?3:${DB(tier/outside/talk)})})
 same => n,Hangup()
"""

TIER_PJSIP = f"""

; ===== test tier (appended by tests/real_asterisk; not part of the project) =====
; The customers' network: dialling PJSIP/<DID>@{PROVIDER} sends the call to this
; very Asterisk, where it arrives from 127.0.0.1 and is identified (by IP) as the
; production trunk endpoint.
[{PROVIDER}]
type = endpoint
context = tier-outside
disallow = all
allow = alaw,ulaw
aors = {PROVIDER}
transport = transport-udp
direct_media = no
send_pai = yes
trust_id_outbound = yes
dtmf_mode = rfc4733

[{PROVIDER}]
type = aor
contact = sip:127.0.0.1:{{sip_port}}
"""

TIER_MANAGER = f"""

; ===== test tier (appended by tests/real_asterisk; not part of the project) =====
; The simulated provider's own leg lives on another PBX in production: the daemon
; must not see it (its caller-side channel of each SIP test call).
eventfilter(action(exclude),header(Channel),method(starts_with)) = PJSIP/{PROVIDER}-
eventfilter(action(exclude),header(DestChannel),method(starts_with)) = PJSIP/{PROVIDER}-

[{TIER_AMI_USER}]
secret = {TIER_AMI_SECRET}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = all
write = all
"""


def _sub(text: str, pattern: str, repl: str, *, count: int = 1) -> str:
    """Rewrite one setting in a copy; fail loudly if the project's file changed shape."""
    new, n = re.subn(pattern, repl, text, count=count, flags=re.MULTILINE)
    if n != count:
        raise RuntimeError(f"harness: pattern {pattern!r} matched {n} times, expected {count}")
    return new


@dataclass
class Asterisk:
    binary: Path
    root: Path
    ports: Ports
    recordings: Path
    log_lines: int = 60
    process: subprocess.Popen[bytes] | None = None

    @property
    def prefix(self) -> Path:
        return self.binary.parent.parent

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def sounds(self) -> Path:
        return self.root / "data" / "sounds"

    @property
    def moh(self) -> Path:
        return self.root / "data" / "moh"

    @property
    def log_file(self) -> Path:
        return self.root / "log" / "full"

    # ------------------------------------------------------------------ files
    def prepare(self) -> None:
        for sub in ("etc", "run", "log", "spool", "lib", "db", "cache", "data", "agi-bin"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.recordings.mkdir(parents=True, exist_ok=True)
        self._link_data()
        for conf in PROJECT_CONF.glob("*.conf"):
            shutil.copy(conf, self.etc / conf.name)
        self._rewrite()
        root = self.root
        (self.etc / "asterisk.conf").write_text(
            "[directories]\n"
            f"astetcdir => {root / 'etc'}\n"
            f"astmoddir => {self.prefix / 'lib' / 'asterisk' / 'modules'}\n"
            f"astvarlibdir => {root / 'lib'}\n"
            f"astdbdir => {root / 'db'}\n"
            f"astkeydir => {root / 'lib'}\n"
            f"astdatadir => {root / 'data'}\n"
            f"astagidir => {root / 'agi-bin'}\n"
            f"astspooldir => {root / 'spool'}\n"
            f"astrundir => {root / 'run'}\n"
            f"astlogdir => {root / 'log'}\n"
            f"astcachedir => {root / 'cache'}\n"
            f"astsbindir => {self.binary.parent}\n"
            "[options]\nverbose = 3\ndefaultlanguage = en\ntransmit_silence = yes\n"
        )
        # Test-only (the project ships no logger.conf): one full log to keep as an artifact.
        (self.etc / "logger.conf").write_text(
            "[general]\ndateformat = %F %T.%3q\n[logfiles]\n"
            "full => notice,warning,error,verbose(3),dtmf\n"
        )

    def _link_data(self) -> None:
        """The install's data files (documentation/ is needed), with our own sounds/moh."""
        installed = self.prefix / "var" / "lib" / "asterisk"
        data = self.root / "data"
        for entry in installed.iterdir():
            if entry.name in ("sounds", "moh"):
                continue
            target = data / entry.name
            if not target.exists():
                target.symlink_to(entry)
        self.sounds.mkdir(exist_ok=True)
        self.moh.mkdir(exist_ok=True)
        if (installed / "sounds").is_dir():
            for entry in (installed / "sounds").iterdir():
                if not (self.sounds / entry.name).exists():
                    (self.sounds / entry.name).symlink_to(entry)

    def _rewrite(self) -> None:
        p = self.ports
        manager = (self.etc / "manager.conf").read_text()
        manager = _sub(manager, r"^port = 5038$", f"port = {p.ami}")
        manager = _sub(manager, r"^secret = change-me$", f"secret = {DAEMON_AMI_SECRET}")
        (self.etc / "manager.conf").write_text(manager + TIER_MANAGER)

        http = (self.etc / "http.conf").read_text()
        http = _sub(http, r"^bindport = 8088$", f"bindport = {p.http}")
        # No certificate here: the tier's browsers use plain ws on loopback (a secure
        # context for Chromium), as behind the production HTTPS proxy.
        http = _sub(http, r"^tlsenable = yes$", "tlsenable = no")
        (self.etc / "http.conf").write_text(http)

        pjsip = (self.etc / "pjsip.conf").read_text()
        pjsip = _sub(pjsip, r"^bind = 0\.0\.0\.0:5060$", f"bind = 127.0.0.1:{p.sip}")
        pjsip = _sub(pjsip, r"^bind = 0\.0\.0\.0$", "bind = 127.0.0.1", count=2)  # ws, wss
        # The provider is this Asterisk itself: its address, and the trunk's contact.
        pjsip = _sub(pjsip, r"^match = 203\.0\.113\.10$", "match = 127.0.0.1")
        pjsip = _sub(
            pjsip,
            r"^contact = sip:sip\.provider\.example:5060$",
            f"contact = sip:127.0.0.1:{p.sip}",
        )
        pjsip = _sub(
            pjsip,
            r"^server_uri = sip:sip\.provider\.example$",
            f"server_uri = sip:127.0.0.1:{p.sip}",
        )
        (self.etc / "pjsip.conf").write_text(pjsip + TIER_PJSIP.format(sip_port=p.sip))

        ext = (self.etc / "extensions.conf").read_text()
        ext = _sub(ext, r"^CC_AGI=agi://127\.0\.0\.1:4573$", f"CC_AGI=agi://127.0.0.1:{p.agi}")
        ext = _sub(
            ext,
            r"^CC_RECORDINGS=/var/spool/asterisk/monitor/callcenter$",
            f"CC_RECORDINGS={self.recordings}",
        )
        (self.etc / "extensions.conf").write_text(ext + TIER_DIALPLAN)

    # ------------------------------------------------------------------ process
    def cli(self, command: str, timeout: float = 15.0) -> str:
        done = subprocess.run(
            [str(self.binary), "-C", str(self.etc / "asterisk.conf"), "-rx", command],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return done.stdout + done.stderr

    def start(self, timeout: float = 30.0) -> None:
        out = open(self.root / "log" / "console.out", "ab")  # noqa: SIM115 (kept by Popen)
        self.process = subprocess.Popen(
            [str(self.binary), "-C", str(self.etc / "asterisk.conf"), "-f", "-n", "-g"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Asterisk exited at start-up:\n{self.tail()}")
            if (self.root / "run" / "asterisk.ctl").exists():
                try:
                    reply = self.cli("core waitfullybooted", timeout=timeout)
                except subprocess.TimeoutExpired:
                    break
                if "fully booted" in reply.lower():
                    return
            time.sleep(0.1)
        raise RuntimeError(f"Asterisk did not boot within {timeout}s:\n{self.tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                self.cli("core stop now", timeout=10)
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self.process = None
        (self.root / "run" / "asterisk.ctl").unlink(missing_ok=True)

    def tail(self, lines: int | None = None) -> str:
        texts = []
        for path in (self.log_file, self.root / "log" / "console.out"):
            if path.exists():
                body = path.read_text(errors="replace").splitlines()
                texts.append(
                    f"--- {path} (last lines)\n" + "\n".join(body[-(lines or self.log_lines) :])
                )
        return "\n".join(texts)

    def log_size(self) -> int:
        return self.log_file.stat().st_size if self.log_file.exists() else 0

    def log_since(self, mark: int, lines: int) -> str:
        """The last ``lines`` of Asterisk's log written after byte ``mark``."""
        with open(self.log_file, "rb") as log:
            log.seek(mark)
            text = log.read().decode("utf-8", "replace").splitlines()
        return f"--- Asterisk log ({self.log_file}), last lines\n" + "\n".join(text[-lines:])

    def clear_recordings(self) -> None:
        for leftover in self.recordings.iterdir():
            leftover.unlink()

    def set_agent(
        self, ext: str, mode: str = "answer", ring: float = 1.0, talk: float = 0.5
    ) -> None:
        """How the phone Local/<ext>@tier-agents behaves on its next calls."""
        for key, value in (("mode", mode), ("ring", ring), ("talk", talk)):
            reply = self.cli(f"database put tier {ext}/{key} {value}")
            assert "Updated database successfully" in reply, reply


def make_root() -> Path:
    """A short temp path: the console socket's path must fit in a sockaddr_un (108 bytes)."""
    return Path(tempfile.mkdtemp(prefix="cc-ast-"))
