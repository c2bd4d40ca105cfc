"""Login rate limiting per account and per address, on a ManualClock (no sleeping)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from callcenter.auth.throttle import LoginThrottle, ThrottleLimits
from callcenter.clock import ManualClock
from callcenter.db.models import AuditEntry
from callcenter.registry import SESSIONMAKER
from callcenter.web.auth import AUTH
from tests.auth_helpers import DEFAULT_PASSWORD, csrf_from_html, make_user

WRONG = "Sai-mật-khẩu-000"


async def attempt(client: TestClient, username: str, password: str) -> int:
    """One login from a fresh browser on the shared office address; returns the status."""
    client.session.cookie_jar.clear()
    page = await client.get("/login")
    response = await client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf_from_html(await page.text()),
        },
        allow_redirects=False,
    )
    text = await response.text()
    if response.status == 429:
        assert "Đăng nhập sai quá nhiều lần" in text
    return response.status


async def test_one_persons_typos_lock_only_their_account(
    client: TestClient, clock: ManualClock
) -> None:
    await make_user(client, "an", "agent")
    await make_user(client, "binh", "agent")
    for _ in range(5):
        assert await attempt(client, "an", WRONG) == 401
    # An is locked out, even with the right password...
    assert await attempt(client, "an", DEFAULT_PASSWORD) == 429
    # ...but Binh, behind the same NAT address, logs in as usual.
    assert await attempt(client, "binh", DEFAULT_PASSWORD) == 302
    await clock.advance(14 * 60)
    assert await attempt(client, "an", DEFAULT_PASSWORD) == 429
    await clock.advance(61)  # the failures are now older than the 15-minute window
    assert await attempt(client, "an", DEFAULT_PASSWORD) == 302
    async with client.server.app[SESSIONMAKER]() as session:
        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert actions.count("login.failure") == 5
    assert actions.count("login.blocked") == 2
    assert actions.count("login.success") == 2


async def test_success_clears_the_accounts_failures(client: TestClient) -> None:
    await make_user(client, "an", "agent")
    for _ in range(4):
        assert await attempt(client, "an", WRONG) == 401
    assert await attempt(client, "an", DEFAULT_PASSWORD) == 302
    for _ in range(4):
        assert await attempt(client, "an", WRONG) == 401
    assert await attempt(client, "an", DEFAULT_PASSWORD) == 302


async def test_an_address_guessing_many_names_is_blocked(
    client: TestClient, clock: ManualClock
) -> None:
    client.server.app[AUTH].throttle.limits = ThrottleLimits(
        per_account=3, per_address=8, window_seconds=600
    )
    await make_user(client, "binh", "agent")
    for n in range(8):
        assert await attempt(client, f"doan.ten.{n}", WRONG) == 401
    assert await attempt(client, "binh", DEFAULT_PASSWORD) == 429
    await clock.advance(601)
    assert await attempt(client, "binh", DEFAULT_PASSWORD) == 302


def test_throttle_counts_accounts_and_addresses_separately() -> None:
    now = [0.0]
    throttle = LoginThrottle(lambda: now[0], ThrottleLimits(per_account=2, per_address=3))
    throttle.failed("an", "10.0.0.1")
    throttle.failed("an", "10.0.0.2")
    assert throttle.retry_after("an", "10.0.0.3") == 900  # the account, from anywhere
    assert throttle.retry_after("binh", "10.0.0.1") == 0
    throttle.failed("x", "10.0.0.1")
    throttle.failed("y", "10.0.0.1")
    assert throttle.retry_after("binh", "10.0.0.1") == 900  # the address, for any name
    assert throttle.retry_after("binh", "10.0.0.2") == 0
    now[0] = 450.0
    assert throttle.retry_after("an", "10.0.0.9") == 450
    now[0] = 900.0
    assert throttle.retry_after("an", "10.0.0.9") == 0
    assert throttle.retry_after("binh", "10.0.0.1") == 0
