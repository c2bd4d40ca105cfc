"""Persisting tracker records: idempotent upserts and agent mapping, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from callcenter.core import call_events as ev
from callcenter.core.calltracker import CallTracker
from callcenter.db.models.calls import CallAttempt, CallTransfer
from callcenter.db.models.users import User
from callcenter.db.repos import calls as calls_repo
from tests.ami.traces import events


def ended(trace: str) -> list[ev.CallRecord]:
    out: list[ev.CallRecord] = []
    tracker = CallTracker(lambda e: out.append(e.record) if isinstance(e, ev.CallEnded) else None)
    tracker.feed_all(events(trace))
    return out


async def test_save_is_idempotent_and_maps_interfaces_to_users(session_factory: Any) -> None:
    async with session_factory() as session:
        session.add_all([
            User(username="an", full_name="Agent 401", interface="Local/401@sim-agent"),
            User(username="binh", full_name="Agent 503", interface="local/503@sim-agent/n"),
        ])  # fmt: skip
        await session.commit()
        ids = dict((await session.execute(select(User.username, User.id))).all())
    (record,) = ended("e3-atxfer")
    for _ in range(3):  # e.g. after every event, then again after a resync
        async with session_factory() as session:
            await calls_repo.save_call(session, record)
            await session.commit()
    async with session_factory() as session:
        assert await calls_repo.count_calls(session) == 1
        assert await session.scalar(select(func.count(CallAttempt.id))) == 2
        assert await session.scalar(select(func.count(CallTransfer.id))) == 1
        call = await calls_repo.get_call(session, "1795436239.76")
        assert call is not None
        assert call.agent_id == ids["an"] and call.disposition == "answered"
        assert [a.agent_id for a in call.attempts] == [ids["an"], ids["binh"]]
        assert call.started_at.tzinfo is not None
        assert abs(call.talk_seconds - record.talk_seconds) < 0.01
        assert call.hold_seconds > 5
        assert [(t.kind, t.from_interface, t.target) for t in call.transfers] == [
            ("attended", "Local/401@sim-agent", "Local/503@sim-agent")
        ]


async def test_an_active_call_is_updated_in_place_when_it_ends(session_factory: Any) -> None:
    stream = events("h-pjsip-sipp-call")
    tracker = CallTracker()
    tracker.feed_all(stream[: len(stream) // 2])
    live = tracker.get("1795436297.96")
    assert live is not None and live.disposition == "active"
    async with session_factory() as session:
        await calls_repo.save_call(session, live.snapshot())
        await session.commit()
        assert [c.linkedid for c in await calls_repo.active_calls(session)] == ["1795436297.96"]
    tracker.feed_all(stream[len(stream) // 2 :])
    final = tracker.get("1795436297.96")
    assert final is not None
    async with session_factory() as session:
        await calls_repo.save_call(session, final.snapshot())
        await session.commit()
        assert await calls_repo.active_calls(session) == []
        call = await calls_repo.get_call(session, "1795436297.96")
        assert call is not None and call.disposition == "answered" and call.agent_id is None
        assert len(call.attempts) == 1 and call.attempts[0].interface == "PJSIP/agent1"


async def test_stale_active_calls_are_closed_after_a_resync(session_factory: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from callcenter.db.models.calls import Call

    t0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    async with session_factory() as session:
        session.add_all([
            Call(linkedid="gone.1", started_at=t0, disposition="active"),
            Call(linkedid="gone.2", started_at=t0, answered_at=t0 + timedelta(seconds=5),
                 disposition="active"),
            Call(linkedid="live.3", started_at=t0, disposition="active"),
            Call(linkedid="done.4", started_at=t0, ended_at=t0, disposition="missed"),
        ])  # fmt: skip
        await session.commit()
    now = t0 + timedelta(minutes=2)
    async with session_factory() as session:
        assert await calls_repo.close_stale_calls(session, {"live.3"}, now) == 2
        await session.commit()
    async with session_factory() as session:
        rows = {c.linkedid: c for c in (await session.scalars(select(Call))).all()}
    assert rows["gone.1"].disposition == "abandoned" and rows["gone.1"].end_estimated
    assert rows["gone.1"].ended_at == now and rows["gone.1"].hangup_by == "unknown"
    assert rows["gone.2"].disposition == "answered" and rows["gone.2"].talk_seconds == 115
    assert rows["live.3"].disposition == "active" and rows["done.4"].disposition == "missed"


async def test_a_record_the_database_refuses_does_not_block_the_others(
    session_factory: Any, caplog: Any
) -> None:
    import asyncio
    from datetime import datetime

    from callcenter.core.bus import EventBus
    from callcenter.services.call_records import CallRecorder

    bus = EventBus()
    tracker = CallTracker(bus)
    recorder = CallRecorder(tracker, session_factory, bus, retry_seconds=0.01)
    task = asyncio.create_task(recorder.run())
    try:
        tracker.feed_all(events("a-answered-caller-hangup"))
        await recorder.flush()
        broken = tracker.get("1795436100.36")
        assert broken is not None
        broken.started_at = datetime(2026, 11, 23, 12, 0)  # naive: UTCDateTime refuses it
        bus.publish(ev.CallRecording("1795436100.36", broken.started_at, ""))
        tracker.feed_all(events("c-abandon-while-ringing"))
        await recorder.flush()
    finally:
        task.cancel()
    assert "could not be saved 5 times; giving up" in caplog.text
    async with session_factory() as session:
        assert await calls_repo.get_call(session, "1795436154.46") is not None
        assert await calls_repo.count_calls(session) == 2


async def test_a_batch_saves_new_and_stored_calls_in_one_transaction(session_factory: Any) -> None:
    stream = events("h-pjsip-sipp-call")
    tracker = CallTracker()
    tracker.feed_all(stream[: len(stream) // 2])
    live = tracker.get("1795436297.96")
    assert live is not None and live.disposition == "active"
    async with session_factory() as session:
        await calls_repo.save_calls(session, [live.snapshot()], {})
        await session.commit()
    tracker.feed_all(stream[len(stream) // 2 :])
    final = tracker.get("1795436297.96")
    assert final is not None
    (transferred,) = ended("e3-atxfer")
    for _ in range(2):  # the stored call is updated, the new one inserted, then both re-saved
        async with session_factory() as session:
            await calls_repo.save_calls(session, [final.snapshot(), transferred], {})
            await session.commit()
    async with session_factory() as session:
        assert await calls_repo.count_calls(session) == 2
        assert await session.scalar(select(func.count(CallAttempt.id))) == 3
        assert await session.scalar(select(func.count(CallTransfer.id))) == 1
        assert await calls_repo.active_calls(session) == []
        call = await calls_repo.get_call(session, "1795436239.76")
        assert call is not None and call.disposition == "answered"
        assert next(a.interface for a in call.attempts) == "Local/401@sim-agent"


async def test_calls_are_tied_to_the_customer_who_owns_the_number(session_factory: Any) -> None:
    """An abandoned call from a known customer is in their history without any wrap-up.

    Old and new numbering meet (imported as 0168…, calling from 038…); the primary owner
    of a shared number wins; an anonymous caller or an unknown number stays unlinked; an
    outbound call belongs to the customer dialled; a customer set at wrap-up is kept."""
    from datetime import UTC, datetime

    from callcenter.db.models.calls import Call
    from callcenter.db.models.customers import Customer, CustomerPhone

    async with session_factory() as session:
        old_owner = Customer(
            name="Chủ cũ",
            name_search="chu cu",
            phones=[CustomerPhone(number="+84383456789", is_primary=False)],
        )
        primary = Customer(
            name="Chủ chính",
            name_search="chu chinh",
            phones=[CustomerPhone(number="+84383456789", is_primary=True)],
        )
        dialled = Customer(
            name="Khách gọi ra",
            name_search="khach goi ra",
            phones=[CustomerPhone(number="+84912000111", is_primary=True)],
        )
        chosen = Customer(name="Đã chọn", name_search="da chon")
        session.add_all([old_owner, primary, dialled, chosen])
        await session.commit()
        ids = {c.name: c.id for c in (old_owner, primary, dialled, chosen)}
    t0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    records = [
        ev.CallRecord("c.1", t0, caller_number="0168 345 6789", disposition="abandoned"),
        ev.CallRecord("c.2", t0, caller_number="anonymous", disposition="abandoned"),
        ev.CallRecord("c.3", t0, caller_number="0909999999", disposition="abandoned"),
        ev.CallRecord("c.4", t0, caller_number="101", dialed_number="0912000111",
                      direction="outbound", disposition="answered"),
        ev.CallRecord("c.5", t0, caller_number="0383456789", disposition="answered"),
    ]  # fmt: skip
    async with session_factory() as session:
        session.add(Call(linkedid="c.5", started_at=t0, customer_id=ids["Đã chọn"]))
        await session.commit()
    async with session_factory() as session:
        await calls_repo.save_calls(session, records, {})
        await session.commit()
    async with session_factory() as session:
        linked = dict((await session.execute(select(Call.linkedid, Call.customer_id))).all())
    assert linked == {
        "c.1": ids["Chủ chính"],
        "c.2": None,
        "c.3": None,
        "c.4": ids["Khách gọi ra"],
        "c.5": ids["Đã chọn"],
    }


async def test_a_resynced_record_keeps_the_stored_recording_link(session_factory: Any) -> None:
    """After a daemon restart mid-call the resync rebuilds the record from Asterisk's
    channel list, which does not say what MixMonitor writes: the stored link must stay."""
    stream = events("h-pjsip-sipp-call")
    tracker = CallTracker()
    tracker.feed_all(stream)
    (linkedid,) = {r.linkedid for r in [tracker.get("1795436297.96")] if r is not None}
    record = tracker.get(linkedid)
    assert record is not None
    first = record.snapshot()
    first.recording_path = "/var/spool/asterisk/monitor/callcenter/1795436297.96.wav"
    rebuilt = record.snapshot()
    rebuilt.recording_path = ""
    for snapshot in (first, rebuilt):
        async with session_factory() as session:
            await calls_repo.save_call(session, snapshot)
            await session.commit()
    async with session_factory() as session:
        call = await calls_repo.get_call(session, linkedid)
        assert call is not None and call.recording_path == first.recording_path


def _batch_record(
    linkedid: str, t0: Any, number: str, attempts: int = 1, transfers: int = 0
) -> ev.CallRecord:
    """A finished call with ``attempts`` offers (the last one answered) and ``transfers``."""
    from datetime import timedelta

    record = ev.CallRecord(
        linkedid, t0, caller_number=number, disposition="answered", queue="sales",
        answered_at=t0 + timedelta(seconds=attempts * 10),
        ended_at=t0 + timedelta(seconds=attempts * 10 + 60),
        agent_interface=f"PJSIP/{200 + attempts}", hold_seconds=1.23456,
    )  # fmt: skip
    for n in range(attempts):
        record.attempts.append(
            ev.AttemptRecord(
                uniqueid=f"{linkedid}.{n}", channel=f"PJSIP/{201 + n}-0000000{n}",
                interface=f"PJSIP/{201 + n}", offered_at=t0 + timedelta(seconds=n * 10),
                queue="sales", ended_at=t0 + timedelta(seconds=n * 10 + 9),
                outcome="answered" if n == attempts - 1 else "noanswer",
            )
        )  # fmt: skip
    for n in range(transfers):
        record.transfers.append(
            ev.TransferRecord("blind", t0 + timedelta(seconds=30 + n), f"PJSIP/{200 + attempts}",
                              f"30{n}@agents")
        )  # fmt: skip
    return record


async def test_a_batch_is_written_in_statements_that_do_not_grow_with_its_size(
    session_factory: Any, engine: Any
) -> None:
    """The recorder's batch costs a fixed number of statements, not a few per call.

    A batch mixes a new call and a stored one that gained an attempt and a transfer;
    saving it again adds nothing; a customer chosen at wrap-up survives; and saving
    10 or 20 calls (new, then stored) takes as many statements as saving 1."""
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import event, update

    from callcenter.db.models.calls import Call
    from callcenter.db.models.customers import Customer, CustomerPhone

    async with session_factory() as session:
        owner = Customer(name="Chủ số", name_search="chu so",
                         phones=[CustomerPhone(number="+84383456789", is_primary=True)])  # fmt: skip
        chosen = Customer(name="Đã chọn", name_search="da chon")
        session.add_all([
            owner, chosen,
            User(username="a201", full_name="A", interface="PJSIP/201"),
            User(username="a202", full_name="B", interface="PJSIP/202"),
        ])  # fmt: skip
        await session.commit()
        owner_id, chosen_id = owner.id, chosen.id
        agents = await calls_repo.agent_ids_by_interface(session)
    t0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    first = _batch_record("stored.1", t0, "0383456789")
    first.attempts[0].outcome, first.attempts[0].ended_at = "ringing", None
    first.answered_at = first.ended_at = None
    first.disposition = "active"
    async with session_factory() as session:
        await calls_repo.save_calls(session, [first], agents)
        await session.commit()
    async with session_factory() as session:  # the agent's wrap-up picks another customer
        await session.execute(
            update(Call).where(Call.linkedid == "stored.1").values(customer_id=chosen_id)
        )
        await session.commit()
    stored = _batch_record("stored.1", t0, "0383456789", attempts=2, transfers=1)
    stored.recording_path = "/rec/stored.1.wav"
    new = _batch_record("new.1", t0 + timedelta(minutes=1), "0383456789", transfers=2)
    for _ in range(2):
        async with session_factory() as session:
            await calls_repo.save_calls(session, [new, stored], agents)
            await session.commit()
        stored = replace(stored, recording_path="")  # a resync's rebuild keeps the file
    async with session_factory() as session:
        assert await calls_repo.count_calls(session) == 2
        assert await session.scalar(select(func.count(CallAttempt.id))) == 3
        assert await session.scalar(select(func.count(CallTransfer.id))) == 3
        call = await calls_repo.get_call(session, "stored.1")
        assert call is not None and call.customer_id == chosen_id
        assert call.disposition == "answered" and call.agent_id == agents["pjsip/202"]
        assert call.recording_path == "/rec/stored.1.wav" and call.hold_seconds == 1.235
        assert call.ended_at == stored.ended_at and call.answered_at == stored.answered_at
        assert [(a.uniqueid, a.outcome, a.agent_id) for a in call.attempts] == [
            ("stored.1.0", "noanswer", agents["pjsip/201"]),
            ("stored.1.1", "answered", agents["pjsip/202"]),
        ]  # fmt: skip
        assert call.attempts[0].ended_at == stored.attempts[0].ended_at
        assert [(t.kind, t.at, t.target) for t in call.transfers] == [
            ("blind", t0 + timedelta(seconds=30), "300@agents")
        ]
        fresh = await calls_repo.get_call(session, "new.1")
        assert fresh is not None and fresh.customer_id == owner_id
        assert fresh.agent_id == agents["pjsip/201"] and len(fresh.transfers) == 2
        assert fresh.started_at == new.started_at and fresh.attempts[0].queue == "sales"

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    async def statements_for(size: int, again: bool) -> int:
        records = [
            _batch_record(f"size{size}.{n}", t0, f"038345{n:04d}", attempts=2, transfers=1)
            for n in range(size)
        ]
        if again:  # stored calls that gained an attempt and a transfer
            for record in records:
                record.attempts.append(replace(record.attempts[-1], uniqueid="later"))
                record.transfers.append(replace(record.transfers[-1], kind="attended"))
        async with session_factory() as session:
            await session.connection()  # the connection's own set-up is not the batch's
            statements.clear()
            event.listen(engine.sync_engine, "before_cursor_execute", count)
            try:
                await calls_repo.save_calls(session, records, agents)
            finally:
                event.remove(engine.sync_engine, "before_cursor_execute", count)
            await session.commit()
        return len(statements)

    counts = {size: (await statements_for(size, False), await statements_for(size, True))
              for size in (1, 10, 20)}  # fmt: skip
    assert counts[10] == counts[20] == counts[1], counts


async def test_a_session_that_loaded_a_call_sees_it_as_saved(session_factory: Any) -> None:
    """The batch writes past the ORM: a call the session loaded before must not come back
    from its identity map as it was (the recorder's one-by-one retry, tests reusing one)."""
    from datetime import UTC, datetime

    t0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    record = _batch_record("seen.1", t0, "0909999999")
    async with session_factory() as session:
        before = await calls_repo.save_call(session, record, {})
        assert before.disposition == "answered" and len(before.attempts) == 1
        later = _batch_record("seen.1", t0, "0909999999", attempts=2, transfers=1)
        later.disposition = "transferred"
        after = await calls_repo.save_call(session, later, {})
        assert after is before  # the same identity, reloaded
        assert after.disposition == "transferred"
        assert [a.uniqueid for a in after.attempts] == ["seen.1.0", "seen.1.1"]
        assert len(after.transfers) == 1
