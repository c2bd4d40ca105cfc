"""Headless Chromium for the browser tests: the system's own binary, never a download.

A missing browser skips the test with a loud reason, except in CI, where it fails.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} and CI=true: the browser tests must run in CI")
    pytest.skip(f"!!! SKIPPED: {reason}")


@asynccontextmanager
async def chromium(*extra_args: str) -> AsyncIterator[Any]:
    """A launched headless Chromium (a Playwright ``Browser``), closed on the way out;
    ``extra_args`` add switches (e.g. the fake microphone of the softphone tests)."""
    require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args], headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()
