"""The AMI plugin inside the real web app: health, metrics, records, CDR reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from callcenter.ami import plugin
from callcenter.config import AmiSettings, Settings
from callcenter.db import migrate
from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models.calls import Call
from callcenter.db.repos import calls as calls_repo
from callcenter.registry import AMI_STATUS, SESSIONMAKER
from callcenter.services.plugin import CALL_RECORDER, setup_call_records
from callcenter.web.app import create_app
from tests.ami.peer import AmiPeer
from tests.ami.test_link import event_blocks, until


async def metric(client: Any, line: str) -> bool:
    text = await (await client.get("/metrics")).text()
    return line in text


async def test_plugin_runs_the_link_while_the_daemon_serves(
    aiohttp_client: Any, settings: Settings
) -> None:
    peer = AmiPeer()
    await peer.start()
    try:
        await migrate.upgrade_async(settings.database.url)
        # A call left "active" by a daemon that stopped mid-call; Asterisk no longer has it.
        engine = make_engine(settings.database.url)
        async with sessionmaker(engine)() as session:
            session.add(Call(linkedid="1700000000.1", disposition="active",
                             started_at=datetime(2026, 11, 23, 8, 0, tzinfo=UTC)))  # fmt: skip
            await session.commit()
        await engine.dispose()
        ami = AmiSettings(host="127.0.0.1", port=peer.port, username="callcenter",
                          secret="s3cret", reconnect_max_seconds=0.2)  # fmt: skip
        app = create_app(
            settings.model_copy(update={"ami": ami}),
            extra_plugins=[plugin.PLUGIN, setup_call_records],
        )
        client = await aiohttp_client(app)
        link = app[plugin.AMI_LINK]
        await until(lambda: link.connected, "login")
        health = await (await client.get("/healthz")).json()
        assert health["ami"] is True and "logged in" in health["ami_detail"]
        assert await metric(client, "callcenter_ami_connected 1.0")

        for block in event_blocks("d-queue-answered"):
            peer.play(block)
        # Asterisk's CDR for the unanswered leg of trace c is altered to disagree.
        for block in event_blocks("c-abandon-while-ringing"):
            if b"DestinationChannel: Local/299@sim-agent-00000012;1" in block:
                block = block.replace(b"Disposition: NO ANSWER", b"Disposition: ANSWERED")
            peer.play(block)
        tracker = app[plugin.CALL_TRACKER]
        await until(lambda: tracker.get("1795436154.46") is not None and not tracker.active_calls,
                    "both calls ended")  # fmt: skip
        await app[CALL_RECORDER].flush()
        async with app[SESSIONMAKER]() as session:
            stale = await calls_repo.get_call(session, "1700000000.1")
            assert stale is not None and stale.disposition == "abandoned" and stale.end_estimated
            call = await calls_repo.get_call(session, "1795436164.50")
            assert call is not None and call.disposition == "answered"
            assert call.queue == "hotline-q" and call.caller_number == "+15551230004"
            assert [(a.interface, a.outcome) for a in call.attempts] == [
                ("Local/301@sim-agent", "answered")
            ]
        assert await metric(client, 'callcenter_calls_ended_total{disposition="answered"} 1.0')
        assert await metric(client, 'callcenter_calls_ended_total{disposition="abandoned"} 1.0')
        assert await metric(client, 'callcenter_cdr_mismatches_total{field="answered"} 1.0')

        peer.accepting = False
        await peer.drop()
        await until(lambda: not app[AMI_STATUS].connected, "status down")
        assert await metric(client, "callcenter_ami_connected 0.0")
        assert (await (await client.get("/healthz")).json())["ami"] is False
    finally:
        await peer.stop()


async def test_callcenter_serve_runs_the_ami_link(settings: Settings) -> None:
    """``callcenter serve`` (daemon.serve) logs in to Asterisk while it serves HTTP."""
    import asyncio

    from callcenter import daemon

    peer = AmiPeer()
    await peer.start()
    try:
        ami = AmiSettings(host="127.0.0.1", port=peer.port, username="callcenter",
                          secret="s3cret", reconnect_max_seconds=0.2)  # fmt: skip
        http = settings.http.model_copy(update={"port": 0})
        stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        seen: list[bool] = []

        async def on_started(app: Any) -> None:
            await until(lambda: app[AMI_STATUS].connected, "daemon AMI login")
            seen.append(app[plugin.AMI_LINK].connected)
            stop.set_result(None)

        await asyncio.wait_for(
            daemon.serve(settings.model_copy(update={"ami": ami, "http": http}),
                         on_started=on_started, stop=stop),
            timeout=30,
        )  # fmt: skip
        assert seen == [True] and peer.logins == 1
    finally:
        await peer.stop()
