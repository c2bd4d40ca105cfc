"""The real-Asterisk tier: a private Asterisk 22 per test module, the daemon per test.

Without an Asterisk binary (``ASTERISK_BIN`` or ``asterisk`` on PATH) the whole folder
is skipped with one line, except under ``CI=true``, where the tier must run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.real_asterisk.asterisk import Asterisk, Ports, find_asterisk, make_root
from tests.real_asterisk.tier import Tier, open_tier

BINARY = find_asterisk()
SKIP_LINE = "real-Asterisk tier skipped: no asterisk binary (set ASTERISK_BIN or put it on PATH)"
if BINARY is None and os.environ.get("CI") == "true":
    raise RuntimeError(
        "CI=true but no Asterisk binary (ASTERISK_BIN or asterisk on PATH): the real-"
        "Asterisk tier must run in CI (.ci/run installs ../shared/asterisk/dist)"
    )
#: Without the binary nothing here is collected, and the run says so in one line.
collect_ignore_glob = ["test_*.py"] if BINARY is None else []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if BINARY is None:
        terminalreporter.write_line(SKIP_LINE)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.asterisk)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"tier_rep_{report.when}", report)
    return report


def failed(node: pytest.Item) -> bool:
    return any(
        getattr(node, f"tier_rep_{when}", None) is not None
        and getattr(node, f"tier_rep_{when}").failed
        for when in ("setup", "call")
    )


@pytest.fixture(scope="session")
def media_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.real_asterisk.media import build_sounds

    cache = tmp_path_factory.mktemp("tier-media")
    build_sounds(cache)
    return cache


@pytest.fixture(scope="module")
def pbx(media_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Asterisk]:
    from tests.real_asterisk.media import install_media

    assert BINARY is not None
    root = make_root()
    instance = Asterisk(BINARY, root, Ports(), root / "recordings")
    instance.prepare()
    install_media(media_cache, instance.root / "data")
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()
        artifacts = tmp_path_factory.mktemp("asterisk-logs")
        if instance.log_file.exists():
            shutil.copy(instance.log_file, artifacts / "asterisk-full.log")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def tier(
    pbx: Asterisk, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Tier]:
    marker = request.node.get_closest_marker("tier_seed")
    log_mark = pbx.log_size()
    world: Tier | None = None
    try:
        async with open_tier(pbx, tmp_path, dict(marker.kwargs) if marker else {}) as world:
            yield world
    finally:
        if failed(request.node):
            if world is not None:
                print(world.daemon.tail(80))
            print(pbx.log_since(log_mark, 80))
