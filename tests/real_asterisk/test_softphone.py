"""The browser phone (issue 17) against the real Asterisk: headless Chromium with a fake
microphone is agent An's phone.

The admin makes An's phone "browser" in the console; the daemon generates An's WebRTC
endpoint with a fresh SIP password into the private Asterisk's ``pjsip_callcenter.conf``
and reloads it over AMI (``asterisk.sync_on_change``). An's agent page fetches its own
credentials and registers through JsSIP over the websocket; a customer calls the hotline
over the SIP trunk; An's page rings (ringtone on) together with the screen-pop, An
answers, holds (the customer hears the hold music: AMI ``Hold`` on An's channel and
``MusicOnHoldStart`` on the customer's), resumes and hangs up. The call's MixMonitor
recording carries the fake microphone's sound while talking, and silence while ringing.
Then the admin gives An a new SIP password (the old one is refused at once) and
deactivates An (no password registers any more).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import socket
import struct
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models import Call, User
from tests.auth_helpers import DEFAULT_PASSWORD, csrf_from_html, make_user
from tests.browser import chromium
from tests.real_asterisk.ami import AmiClient
from tests.real_asterisk.asterisk import TIER_AMI_SECRET, TIER_AMI_USER, Asterisk
from tests.real_asterisk.daemon import AGENTS, Daemon, seed
from tests.real_asterisk.sip_ws import register
from tests.real_asterisk.tier import Tier, caller_number, e164, reset_phone, sync_asterisk

pytestmark = pytest.mark.browser

ADMIN = "quan"
#: The ringing page with its pop, for the documentation (the ignored test-artifacts/).
SCREENSHOT = (
    Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots" / "softphone-ringing.png"
)
#: Chromium's fake capture device (a periodic beep) as the microphone, and no prompt.
MEDIA_ARGS = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
RINGTONE_ARGS = ("--autoplay-policy=no-user-gesture-required",)
#: Asterisk writes digital silence (transmit_silence) where nobody speaks; anything
#: a microphone picks up is far above -50 dBFS (RMS 104 of 32768).
AUDIBLE_RMS = 32768 * 10 ** (-50 / 20)


class SoftphoneDaemon(Daemon):
    """The daemon as production runs it with sync_on_change: console changes are written
    into Asterisk's config folder and reloaded over AMI by the daemon itself."""

    ws_url: str = ""
    config_dir: Path | None = None

    def environment(self) -> dict[str, str]:
        env = super().environment()
        assert self.config_dir is not None
        env.update(
            {
                "CALLCENTER_ASTERISK__CONFIG_DIR": str(self.config_dir),
                "CALLCENTER_ASTERISK__SYNC_ON_CHANGE": "true",
                "CALLCENTER_SOFTPHONE__WS_URL": self.ws_url,
            }
        )
        return env


@contextlib.asynccontextmanager
async def open_phone_tier(pbx: Asterisk, work: Path) -> AsyncIterator[Tier]:
    db_url = f"sqlite+aiosqlite:///{work / 'callcenter.db'}"
    seeded = await seed(db_url)
    await make_user(db_url, ADMIN, "admin", full_name="Quản trị")
    pbx.clear_recordings()
    daemon = SoftphoneDaemon(work, pbx.ports, db_url, pbx.recordings)
    daemon.ws_url = f"ws://127.0.0.1:{pbx.ports.http}/ws"
    daemon.config_dir = pbx.etc
    ami = AmiClient("127.0.0.1", pbx.ports.ami, TIER_AMI_USER, TIER_AMI_SECRET)
    world = Tier(pbx, ami, daemon, seeded)
    try:
        await ami.connect()
        for ext in AGENTS.values():
            await reset_phone(ami, ext)
        await sync_asterisk(pbx, db_url)
        await daemon.start()
        yield world
    finally:
        pbx.cli("channel request hangup all")
        daemon.stop()
        await ami.close()


def media_address() -> str | None:
    """This machine's non-loopback IPv4 address, if any (a UDP "connect" sends nothing).

    Chromium gathers no ICE candidates on loopback: the browser's media reaches Asterisk
    (which listens for RTP on every address) through this address. An Asterisk run in
    its own network namespace, or a machine with loopback only, cannot carry it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing address
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") else address


@pytest.fixture
async def phone_tier(
    pbx: Asterisk, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Tier]:
    if media_address() is None:
        reason = "no non-loopback address: Chromium's WebRTC media cannot reach Asterisk"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(f"!!! SKIPPED: {reason}")
    log_mark = pbx.log_size()
    world: Tier | None = None
    try:
        async with open_phone_tier(pbx, tmp_path) as world:
            yield world
    finally:
        if any(
            getattr(request.node, f"tier_rep_{when}", None)
            and getattr(request.node, f"tier_rep_{when}").failed
            for when in ("setup", "call")
        ):
            if world is not None:
                print(world.daemon.tail(80))
            print(pbx.log_since(log_mark, 120))


async def login(browser: Any, base_url: str, username: str, *, next_path: str) -> Any:
    context = await browser.new_context(viewport={"width": 1366, "height": 1000}, locale="vi-VN")
    page = await context.new_page()
    page.set_default_timeout(15_000)
    await page.goto(f"{base_url}/login?next={next_path}")
    await page.fill("#username", username)
    await page.fill("#password", DEFAULT_PASSWORD)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url(f"**{next_path}")
    return page


async def set_phone_kind(admin: Any, base_url: str, user_id: int, kind: str) -> None:
    """The admin console's user page: phone type, Save (groups and the rest unchanged)."""
    await admin.goto(f"{base_url}/admin/users/{user_id}")
    await admin.select_option("#f-phone_kind", kind)
    await admin.click("#user-edit-form button[type=submit]")
    await admin.wait_for_url("**done=saved")


async def endpoint_exists(pbx: Asterisk, endpoint: str, within: float = 15.0) -> bool:
    """Whether Asterisk has ``endpoint`` (waits for the daemon's sync and reload)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        out = await asyncio.to_thread(pbx.cli, f"pjsip show endpoint {endpoint}")
        if "Unable to find object" not in out and endpoint in out:
            return True
        await asyncio.sleep(0.3)
    return False


async def endpoint_gone(pbx: Asterisk, endpoint: str, within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        out = await asyncio.to_thread(pbx.cli, f"pjsip show endpoint {endpoint}")
        if "Unable to find object" in out:
            return True
        await asyncio.sleep(0.3)
    return False


async def own_credentials(base_url: str, username: str) -> dict[str, Any]:
    """What the agent page fetches for its owner (``/api/softphone/credentials``)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(base_url + "/login") as page:
            token = csrf_from_html(await page.text())
        async with http.post(
            base_url + "/login",
            data={"username": username, "password": DEFAULT_PASSWORD, "csrf_token": token},
            allow_redirects=False,
        ) as response:
            assert response.status == 302
        async with http.get(base_url + "/api/softphone/credentials") as response:
            assert response.status == 200
            body: dict[str, Any] = await response.json()
            return body


def rms(samples: list[int]) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


def window(path: Path, start: float, end: float) -> list[int]:
    """The 16-bit mono samples of ``path`` between ``start`` and ``end`` seconds."""
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2), path
        rate = wav.getframerate()
        first, last = max(0, int(start * rate)), min(wav.getnframes(), int(end * rate))
        wav.setpos(first)
        frames = wav.readframes(max(0, last - first))
    return list(struct.unpack(f"<{len(frames) // 2}h", frames))


def duration(path: Path) -> float:
    with wave.open(str(path)) as wav:
        return wav.getnframes() / wav.getframerate()


async def the_call(tier: Tier, number: str, within: float = 30.0) -> Call:
    engine = make_engine(tier.daemon.db_url)
    deadline = time.monotonic() + within
    try:
        while True:
            async with sessionmaker(engine)() as session:
                call = await session.scalar(select(Call).where(Call.caller_number == e164(number)))
            if call is not None and call.disposition != "active" and call.recording_path:
                return call
            if time.monotonic() > deadline:
                raise AssertionError(f"no ended call record for {number}: {call}")
            await asyncio.sleep(0.3)
    finally:
        await engine.dispose()


async def test_browser_phone_rings_answers_holds_and_is_recorded(phone_tier: Tier) -> None:
    tier = phone_tier
    base = tier.daemon.base_url
    an_id = tier.seeded.agents["an"]
    endpoint = f"webrtc-{an_id}"
    number = caller_number(700)
    async with chromium(*MEDIA_ARGS, *RINGTONE_ARGS) as browser:
        from playwright.async_api import expect

        admin = await login(browser, base, ADMIN, next_path="/admin")
        await set_phone_kind(admin, base, an_id, "browser")
        assert await endpoint_exists(tier.pbx, endpoint), (
            "the daemon did not provision An's browser endpoint:\n" + tier.daemon.tail(40)
        )

        an = await login(browser, base, "an", next_path="/agent")
        phone = an.locator("#softphone")
        await expect(phone).to_be_visible()
        await expect(phone).to_have_attribute("data-reg", "registered")
        await expect(phone).to_have_attribute("data-mic", "ok")
        await expect(an.locator("#sp-reg")).to_have_text("Sẵn sàng: cuộc gọi đổ chuông tại đây")
        await an.click("#btn-available")
        await expect(an.locator("#state-label")).to_have_attribute("data-state", "available")

        events_before = len(tier.ami.events)
        await tier.call_sip(number, patience=60)
        await expect(phone).to_have_attribute("data-call", "ringing")
        await expect(phone).to_have_attribute("data-ringtone", "on")
        await expect(an.locator("#pop")).to_be_visible()  # the screen-pop, while it rings
        shown = re.compile(r"\s*".join(number))  # grouped for reading: 0399 000 700
        await expect(an.locator("#caller-number")).to_have_text(shown)
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await an.screenshot(path=str(SCREENSHOT), full_page=True)
        offered = await tier.ami.wait_for(
            lambda e: (
                e.get("Event") == "DialBegin"
                and e.get("DestChannel", "").startswith(f"PJSIP/{endpoint}-")
            ),
            start=events_before,
        )
        agent_channel = offered["DestChannel"]
        customer_channel = offered.get("Channel", "")

        await an.click("#sp-answer")
        await expect(phone).to_have_attribute("data-call", "talking")
        await expect(phone).to_have_attribute("data-ringtone", "off")
        answered_at = time.time()
        await asyncio.sleep(3)  # An talks: the fake microphone beeps into the call

        await an.click("#sp-mute")  # the microphone off: nothing of An reaches the call
        await expect(an.locator("#sp-mute")).to_have_attribute("aria-pressed", "true")
        muted_at = time.time()
        await asyncio.sleep(2)
        await an.click("#sp-mute")
        await expect(an.locator("#sp-mute")).to_have_attribute("aria-pressed", "false")
        unmuted_at = time.time()
        await asyncio.sleep(3)  # as long as the first stretch: several of the fake beeps

        await an.click("#sp-hold")
        await expect(phone).to_have_attribute("data-call", "held")
        held_at = time.time()
        await tier.ami.wait_for(
            lambda e: e.get("Event") == "Hold" and e.get("Channel") == agent_channel,
            start=events_before,
        )
        await tier.ami.wait_for(  # the customer's side: hold music
            lambda e: (
                e.get("Event") == "MusicOnHoldStart"
                and e.get("Channel") != agent_channel
                and e.get("Linkedid") == offered.get("Linkedid")
            ),
            start=events_before,
        )
        await asyncio.sleep(1.5)
        await an.click("#sp-hold")
        await expect(phone).to_have_attribute("data-call", "talking")
        await tier.ami.wait_for(
            lambda e: e.get("Event") == "Unhold" and e.get("Channel") == agent_channel,
            start=events_before,
        )
        # The keypad: a digit reaches Asterisk as RFC 4733 DTMF on An's channel.
        await an.click("#sp-keypad-toggle")
        await an.click("#sp-keypad button[data-dtmf='5']")
        await tier.ami.wait_for(
            lambda e: (
                e.get("Event") == "DTMFEnd"
                and e.get("Channel") == agent_channel
                and e.get("Digit") == "5"
                and e.get("Direction") == "Received"
            ),
            start=events_before,
        )
        await asyncio.sleep(1.5)
        await an.click("#sp-hangup")
        await expect(phone).to_have_attribute("data-call", "idle")
        hung_up_at = time.time()

        call = await the_call(tier, number)
        assert call.agent_id == an_id, (call.agent_id, customer_channel)
        recording = Path(call.recording_path)
        if not recording.is_absolute():
            recording = tier.daemon.recordings / recording
        length = duration(recording)
        # The file ends at the hang-up: place the page's moments on its time line.
        at = lambda moment: length - (hung_up_at - moment)  # noqa: E731
        talking = rms(window(recording, at(answered_at) + 0.5, at(muted_at) - 0.3))
        muted = rms(window(recording, at(muted_at) + 0.7, at(unmuted_at) - 0.3))
        again = rms(window(recording, at(unmuted_at) + 0.5, at(held_at) - 0.3))
        ringing = rms(window(recording, 0.2, at(answered_at) - 0.3))
        levels = f"RMS talking {talking:.0f}, muted {muted:.0f}, unmuted {again:.0f}, ringing {ringing:.0f}"
        print(f"recording {recording.name}: {length:.1f} s, {levels}")
        assert talking > AUDIBLE_RMS, f"the recording is silent while An talks ({levels})"
        assert again > AUDIBLE_RMS, f"silent after unmuting ({levels})"
        assert muted < AUDIBLE_RMS, f"An is heard while muted ({levels})"
        assert ringing < AUDIBLE_RMS, f"sound in the recording before the answer ({levels})"

        # A new SIP password from the console: the old one no longer registers, the new one
        # (which only An can fetch) does.
        old = (await own_credentials(base, "an"))["password"]
        await admin.goto(f"{base}/admin/users/{an_id}")
        await admin.click("#sip-secret-form button[type=submit]")
        await admin.wait_for_url("**done=saved")
        ws_url = tier.daemon.ws_url  # type: ignore[attr-defined]
        new = (await own_credentials(base, "an"))["password"]
        assert new != old
        refused = 0
        for _ in range(30):  # the daemon's sync and reload take a moment
            refused = await register(ws_url, endpoint, old)
            if refused in (401, 403):
                break
            await asyncio.sleep(0.3)
        assert refused in (401, 403), f"the old SIP password still registers: {refused}"
        assert await register(ws_url, endpoint, new) == 200

        # An deactivated in the console: the endpoint is gone, nothing registers as An.
        await admin.goto(f"{base}/admin/users/{an_id}")
        await admin.uncheck("#user-edit-form input[name=active]")
        await admin.click("#user-edit-form button[type=submit]")
        await admin.wait_for_url("**done=saved")
        assert await endpoint_gone(tier.pbx, endpoint)
        gone = await register(ws_url, endpoint, new)
        assert gone in (401, 403, 404), f"a deactivated agent's phone registers: {gone}"


async def test_the_page_says_when_there_is_no_microphone(phone_tier: Tier) -> None:
    """No capture device at all (Chromium without the fake one, on a machine without a
    sound card) and a microphone the browser blocks: each said in words on the page."""
    tier = phone_tier
    base = tier.daemon.base_url
    an_id = tier.seeded.agents["an"]
    engine = make_engine(tier.daemon.db_url)
    try:
        async with sessionmaker(engine)() as session:
            an = await session.get(User, an_id)
            assert an is not None
    finally:
        await engine.dispose()
    async with chromium("--use-fake-ui-for-media-stream") as browser:
        from playwright.async_api import expect

        admin = await login(browser, base, ADMIN, next_path="/admin")
        await set_phone_kind(admin, base, an_id, "browser")
        page = await login(browser, base, "an", next_path="/agent")
        await expect(page.locator("#softphone")).to_have_attribute("data-mic", "missing")
        await expect(page.locator("#sp-mic")).to_be_visible()
        await expect(page.locator("#sp-mic")).to_contain_text("Không tìm thấy micrô")
    async with chromium(*MEDIA_ARGS[:1], "--deny-permission-prompts") as browser:
        from playwright.async_api import expect

        page = await login(browser, base, "an", next_path="/agent")
        await expect(page.locator("#softphone")).to_have_attribute("data-mic", "blocked")
        await expect(page.locator("#sp-mic")).to_contain_text("Micrô đang bị chặn")


async def answered_call(tier: Tier, page: Any, number: str, events_before: int) -> str:
    """A customer calls the hotline and An answers in the page; An's channel."""
    from playwright.async_api import expect

    await tier.call_sip(number, patience=60)
    phone = page.locator("#softphone")
    await expect(phone).to_have_attribute("data-call", "ringing")
    an_id = tier.seeded.agents["an"]
    offered = await tier.ami.wait_for(
        lambda e: (
            e.get("Event") == "DialBegin"
            and e.get("DestChannel", "").startswith(f"PJSIP/webrtc-{an_id}-")
        ),
        start=events_before,
    )
    await page.click("#sp-answer")
    await expect(phone).to_have_attribute("data-call", "talking")
    return str(offered["DestChannel"])


async def test_blind_and_attended_transfer_from_the_browser_phone(phone_tier: Tier) -> None:
    """Hot-desking back to the page, then An passes a caller to Binh (extension 102)
    without a word (blind: SIP REFER), and another after talking to Binh first
    (attended: a second call, then REFER with Replaces). Asterisk reports each transfer
    done and Binh's phone takes the caller."""
    tier = phone_tier
    base = tier.daemon.base_url
    an_id = tier.seeded.agents["an"]
    tier.pbx.set_agent("102", ring=1, talk=8)  # Binh answers after 1 s, stays 8 s
    async with chromium(*MEDIA_ARGS) as browser:
        from playwright.async_api import expect

        admin = await login(browser, base, ADMIN, next_path="/admin")
        await set_phone_kind(admin, base, an_id, "browser")
        assert await endpoint_exists(tier.pbx, f"webrtc-{an_id}")
        an = await login(browser, base, "an", next_path="/agent")
        phone = an.locator("#softphone")
        await expect(phone).to_have_attribute("data-reg", "registered")
        await an.click("#btn-available")
        await expect(an.locator("#state-label")).to_have_attribute("data-state", "available")

        # Hot-desking: An sits at a desk phone for a while, then takes the calls in the
        # page again (the calls below must ring the page, not that desk phone).
        await an.fill("#login-interface", "Local/103@tier-agents")
        await an.click("#btn-login")
        await expect(an.locator("#sp-where")).to_be_visible()
        await expect(an.locator("#sp-where-text")).to_contain_text("Local/103@tier-agents")
        await an.click("#sp-ring-here")
        await expect(an.locator("#sp-where")).to_be_hidden()
        await expect(an.locator("#login-interface")).to_have_value(f"PJSIP/webrtc-{an_id}")

        start = len(tier.ami.events)
        channel = await answered_call(tier, an, caller_number(710), start)
        await asyncio.sleep(1)
        await an.fill("#sp-transfer-target", "102")
        await an.click("#sp-blind")
        blind = await tier.ami.wait_for(
            lambda e: e.get("Event") == "BlindTransfer" and e.get("TransfererChannel") == channel,
            start=start,
        )
        assert blind.get("Result") == "Success" and blind.get("Extension") == "102", blind
        await expect(phone).to_have_attribute("data-call", "idle")
        await tier.ami.wait_for(
            lambda e: (
                e.get("Event") == "DialBegin" and "102@tier-agents" in e.get("DestChannel", "")
            ),
            start=start,
        )
        await an.click("#btn-available")  # after the wrap-up, ready for the next caller
        await expect(an.locator("#state-label")).to_have_attribute("data-state", "available")

        start = len(tier.ami.events)
        channel = await answered_call(tier, an, caller_number(711), start)
        await an.fill("#sp-transfer-target", "102")
        await an.click("#sp-consult")
        await expect(an.locator("#sp-complete")).to_be_visible()
        await expect(phone).to_have_attribute("data-call", "held")  # the caller waits
        await expect(an.locator("#sp-complete")).to_be_disabled()  # Binh's phone rings
        await tier.ami.wait_for(  # Binh's phone answers An's consultation call
            lambda e: (
                e.get("Event") == "DialEnd"
                and "102@tier-agents" in e.get("DestChannel", "")
                and e.get("DialStatus") == "ANSWER"
            ),
            start=start,
        )
        await expect(an.locator("#sp-complete")).to_be_enabled()  # the page heard the answer
        await asyncio.sleep(1)  # An tells Binh who is calling
        await an.click("#sp-complete")
        attended = await tier.ami.wait_for(
            lambda e: (
                e.get("Event") == "AttendedTransfer" and e.get("OrigTransfererChannel") == channel
            ),
            start=start,
        )
        assert attended.get("Result") == "Success", attended
        await expect(phone).to_have_attribute("data-call", "idle")


async def test_the_agent_calls_out_from_the_page(phone_tier: Tier) -> None:
    """An dials a customer's number in the browser phone: the call leaves through the
    trunk ([agents] → [cc-outbound], recorded), the customer answers and talks, hangs up,
    and the page is free again."""
    tier = phone_tier
    base = tier.daemon.base_url
    an_id = tier.seeded.agents["an"]
    async with chromium(*MEDIA_ARGS) as browser:
        from playwright.async_api import expect

        admin = await login(browser, base, ADMIN, next_path="/admin")
        await set_phone_kind(admin, base, an_id, "browser")
        assert await endpoint_exists(tier.pbx, f"webrtc-{an_id}")
        an = await login(browser, base, "an", next_path="/agent")
        phone = an.locator("#softphone")
        await expect(phone).to_have_attribute("data-reg", "registered")

        start = len(tier.ami.events)
        await an.fill("#sp-dial-number", "0988 123 456")
        await an.click("#sp-dial")
        await expect(phone).to_have_attribute("data-call", "calling")
        await expect(an.locator("#sp-peer")).to_have_text("0988123456")
        out = await tier.ami.wait_for(
            lambda e: (
                e.get("Event") == "DialBegin"
                and e.get("Channel", "").startswith(f"PJSIP/webrtc-{an_id}-")
                and e.get("DialString") == "0988123456@trunk"
            ),
            start=start,
        )
        await expect(phone).to_have_attribute("data-call", "talking")
        await expect(phone).to_have_attribute("data-call", "idle", timeout=20_000)  # they hang up
        ended = await tier.ami.wait_for(
            lambda e: e.get("Event") == "DialEnd" and e.get("Channel") == out["Channel"],
            start=start,
        )
        assert ended.get("DialStatus") == "ANSWER", ended


async def test_the_page_registers_again_after_restarts(phone_tier: Tier) -> None:
    """The daemon restarts: the page stays registered and keeps its phone. Asterisk
    restarts (the websocket drops): the page says it is reconnecting, then registers
    again by itself, without a reload."""
    tier = phone_tier
    base = tier.daemon.base_url
    an_id = tier.seeded.agents["an"]
    async with chromium(*MEDIA_ARGS) as browser:
        from playwright.async_api import expect

        admin = await login(browser, base, ADMIN, next_path="/admin")
        await set_phone_kind(admin, base, an_id, "browser")
        assert await endpoint_exists(tier.pbx, f"webrtc-{an_id}")
        an = await login(browser, base, "an", next_path="/agent")
        phone = an.locator("#softphone")
        await expect(phone).to_have_attribute("data-reg", "registered")

        tier.daemon.stop()
        await tier.daemon.start()
        await expect(an.locator("body")).to_have_attribute("data-online", "1")
        await expect(phone).to_have_attribute("data-reg", "registered")

        await asyncio.to_thread(tier.pbx.stop)
        await expect(phone).to_have_attribute("data-reg", "reconnecting")
        await asyncio.to_thread(tier.pbx.start)
        await tier.reconnect_ami()
        await expect(phone).to_have_attribute("data-reg", "registered", timeout=40_000)
        contacts = await asyncio.to_thread(tier.pbx.cli, f"pjsip show aor webrtc-{an_id}")
        assert "contact" in contacts.lower() and "Avail" in contacts, contacts
