"""Agents outside the PBX's network: STUN and a TURN relay for the browser phone.

A real relay (coturn's ``turnserver`` with ``use-auth-secret``) runs on loopback. The
daemon is configured with the relay's address and shared secret; agent Lan's phone is
the browser. Her agent page gets per-agent, short-lived TURN credentials and the phone's
own ``RTCPeerConnection`` configuration (what every call uses) obtains a relayed
address from the relay — which proves coturn accepted the credentials. The same page
with one character of the credential changed gets none, so the check is not vacuous.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from callcenter.config import ConfigError, SoftphoneSettings, load_settings
from callcenter.core.ice import ice_servers, turn_credential
from callcenter.db.models import User
from callcenter.registry import SESSIONMAKER
from callcenter.softphone.plugin import PLUGIN as SOFTPHONE
from tests.agent.stack import Stack, build_stack
from tests.auth_helpers import DEFAULT_PASSWORD
from tests.browser import chromium
from tests.conftest import MigratedTemplates
from tests.ports import free_port

SECRET = "relay-shared-secret-2026"

GATHER_RELAY = """async ([config, spoil]) => {
  const servers = config.iceServers.map((s) => ({...s}));
  if (spoil) servers.forEach((s) => { if (s.credential) s.credential = "x" + s.credential; });
  const pc = new RTCPeerConnection({...config, iceServers: servers, iceTransportPolicy: "relay"});
  pc.createDataChannel("probe");
  const found = [];
  pc.onicecandidate = (e) => { if (e.candidate && e.candidate.candidate) found.push(e.candidate.candidate); };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    const limit = setTimeout(done, 8000);
    pc.onicegatheringstatechange = () => {
      if (pc.iceGatheringState === "complete") { clearTimeout(limit); done(); }
    };
  });
  pc.close();
  return found;
}"""


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[int]:
    """coturn on loopback with the TURN REST API's shared secret; its port."""
    binary = shutil.which("turnserver")
    if binary is None:
        pytest.skip("coturn's turnserver is missing (apt-get install -y coturn)")
    port = free_port(udp_too=True)
    low = free_port(udp_too=True) // 2 * 2
    args = [
        binary, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
        f"--listening-port={port}", f"--min-port={low}", f"--max-port={low + 40}",
        "--use-auth-secret", f"--static-auth-secret={SECRET}", "--realm=callcenter.test",
        "--no-tls", "--no-dtls", "--no-cli", f"--db={tmp_path / 'turndb'}",
        f"--pidfile={tmp_path / 'turn.pid'}", "--log-file=stdout", "--simple-log",
    ]  # fmt: skip
    log = (tmp_path / "turn.log").open("wb")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:  # up once it accepts TURN over TCP on the same port as UDP
            assert process.poll() is None, (tmp_path / "turn.log").read_text(errors="replace")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "coturn did not open its listener"
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture
async def stack(
    tmp_path: Path, migrated_templates: MigratedTemplates, relay: int
) -> AsyncIterator[Stack]:
    stack = await build_stack(tmp_path, migrated_templates)
    stack.settings.softphone = SoftphoneSettings(
        ws_url="ws://127.0.0.1:9/ws",  # no Asterisk here: the phone stays unregistered
        stun_urls=[f"stun:127.0.0.1:{relay}"],
        turn_urls=[f"turn:127.0.0.1:{relay}?transport=udp"],
        turn_secret=SECRET,  # type: ignore[arg-type]
        turn_ttl_seconds=3600,
    )
    stack.more_plugins.append(SOFTPHONE)
    await stack.start_daemon()
    assert stack.app is not None
    async with stack.app[SESSIONMAKER]() as session:
        await session.execute(
            update(User)
            .where(User.id == stack.agents["lan"])
            .values(phone_kind="browser", sip_secret="sip-password-of-lan-2026")
        )
        await session.commit()
    yield stack
    await stack.close()


@pytest.mark.browser
async def test_the_browser_phone_relays_through_turn_with_its_own_credentials(
    stack: Stack,
) -> None:
    async with chromium() as browser:
        page = await browser.new_page()
        page.set_default_timeout(10_000)
        await page.goto(f"{stack.base_url}/login?next=/agent")
        await page.fill("#username", "lan")
        await page.fill("#password", DEFAULT_PASSWORD)
        await page.click("form[action='/login'] button[type=submit]")
        await page.wait_for_url("**/agent")
        await page.wait_for_function(
            "() => { const p = document.getElementById('softphone');"
            " return p && p.pcConfig && p.pcConfig().iceServers.length === 2; }"
        )
        config: dict[str, Any] = await page.evaluate(
            "() => document.getElementById('softphone').pcConfig()"
        )
        stun, turn = config["iceServers"]
        assert "username" not in stun and "credential" not in stun
        expiry, user = turn["username"].split(":")
        assert user.startswith("webrtc-")  # her SIP endpoint, not a shared account
        assert 3500 < int(expiry) - time.time() <= 3600

        relayed = await page.evaluate(GATHER_RELAY, [config, False])
        assert any(" typ relay " in candidate for candidate in relayed), relayed
        refused = await page.evaluate(GATHER_RELAY, [config, True])
        assert not any(" typ relay " in candidate for candidate in refused), refused


def test_turn_rest_credentials_follow_the_shared_secret_scheme() -> None:
    at = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    username, password = turn_credential("north", "webrtc-7", at)
    assert username == f"{int(at.timestamp())}:webrtc-7"
    assert password != turn_credential("south", "webrtc-7", at)[1]
    assert password != turn_credential("north", "webrtc-8", at)[1]
    servers = ice_servers(["stun:a:3478"], ["turn:a:3478"], "north", user="webrtc-7", expires_at=at)
    assert servers == [
        {"urls": ["stun:a:3478"]},
        {"urls": ["turn:a:3478"], "username": username, "credential": password},
    ]
    assert ice_servers([], ["turn:a:3478"], "", user="u", expires_at=at) == []


def test_a_relay_without_its_secret_or_a_wrong_url_stops_start_up() -> None:
    with pytest.raises(ConfigError, match="turn_secret"):
        load_settings(None, softphone={"turn_urls": ["turn:relay.example.vn:3478"]})
    with pytest.raises(ConfigError, match="stun"):
        load_settings(None, softphone={"stun_urls": ["relay.example.vn:3478"]})
