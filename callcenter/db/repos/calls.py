"""Store the tracker's call records: one row per call, one per attempt, one per transfer.

Saving is an upsert keyed on Asterisk identities (the call's ``Linkedid``, the
attempt's dialled ``Uniqueid``, a transfer's kind + instant), so saving the
same record again — after every domain event, after a reconnect and resync —
updates rows and never duplicates them. Functions write in the session's
transaction (flush, or Core statements on its connection); the caller commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Integer, String, Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import selectinload

from callcenter.core.call_events import AttemptRecord, CallRecord
from callcenter.core.interfaces import interface_key
from callcenter.core.phones import Phone, normalize_phone
from callcenter.db.models.calls import Call, CallAttempt, CallTransfer
from callcenter.db.models.users import User
from callcenter.db.repos.customers import owners_of_numbers


async def agent_ids_by_interface(session: AsyncSession) -> dict[str, int]:
    """Map each user's phone interface (``PJSIP/101``, ``Local/201@agents``) to the user id."""
    rows = await session.execute(select(User.interface, User.id).where(User.interface != ""))
    return {interface_key(interface): user_id for interface, user_id in rows}


_CALLS = cast(Table, Call.__table__)
_ATTEMPTS = cast(Table, CallAttempt.__table__)
_TRANSFERS = cast(Table, CallTransfer.__table__)
# Executemany UPDATEs: the SET clause is every column named in the parameter dicts
# (``_call_values``, ``_attempt_values``); the row is chosen by a non-column key.
_UPDATE_CALLS = (
    update(_CALLS)
    .where(_CALLS.c.id == bindparam("call_id"))
    .values(
        # A customer chosen at wrap-up, even by a transaction that ends while this one
        # runs, wins over the number's owner.
        customer_id=func.coalesce(_CALLS.c.customer_id, bindparam("owner", type_=Integer)),
        # A record rebuilt by a resync no longer knows the file: keep the stored link.
        recording_path=func.coalesce(
            func.nullif(bindparam("recording", type_=String), ""), _CALLS.c.recording_path
        ),
    )
)
_UPDATE_ATTEMPTS = update(_ATTEMPTS).where(_ATTEMPTS.c.id == bindparam("attempt_id"))
_INSERT_CALLS = insert(_CALLS).returning(_CALLS.c.id, _CALLS.c.linkedid)


async def save_call(
    session: AsyncSession, record: CallRecord, agents: dict[str, int] | None = None
) -> Call:
    """Insert or update one call (the recorder's one-by-one retry, tests) by the batch path,
    and return it as stored now."""
    if agents is None:
        agents = await agent_ids_by_interface(session)
    await save_calls(session, [record], agents)
    call = await get_call(session, record.linkedid)
    assert call is not None  # just written in this transaction
    return call


async def save_calls(
    session: AsyncSession, records: Sequence[CallRecord], agents: dict[str, int]
) -> None:
    """Upsert many calls in a handful of Core statements, whatever their number.

    Under load a round trip per call made the writer fall behind the calls, and the
    ORM's unit of work (loading each call with its attempts and transfers, tracking
    every attribute, one INSERT per row on SQLite) cost half the daemon's CPU at
    40 calls/s. So: at most three reads (the calls, their attempts, their transfers)
    and the numbers' owners, then one statement per kind of write (new calls, stored
    calls, new attempts, stored attempts, new transfers), executemany for many rows.
    A linkedid given twice is saved once, from its last record (records are snapshots).
    """
    if not records:
        return
    await session.flush()  # rows still pending in this session must be visible below
    latest = {record.linkedid: record for record in records}
    connection = await session.connection()
    stored = await _read_stored(connection, latest)
    owners = await _owners(
        session,
        [
            record
            for linkedid, record in latest.items()
            if linkedid not in stored.calls or stored.calls[linkedid][1] is None
        ],
    )
    new_calls = [
        {
            "linkedid": linkedid,
            "customer_id": owners.get(linkedid),
            "recording_path": record.recording_path[:300],
            **_call_values(record, agents),
        }
        for linkedid, record in latest.items()
        if linkedid not in stored.calls
    ]
    call_ids = {linkedid: call_id for linkedid, (call_id, _) in stored.calls.items()}
    if new_calls:
        # Multi-row INSERT ... RETURNING: the rows come back in no promised order.
        inserted = await connection.execute(_INSERT_CALLS, new_calls)
        call_ids.update({linkedid: call_id for call_id, linkedid in inserted})
    if stored.calls:
        await connection.execute(
            _UPDATE_CALLS,
            [
                {
                    "call_id": call_id,
                    "owner": owners.get(linkedid),
                    "recording": latest[linkedid].recording_path[:300],
                    **_call_values(latest[linkedid], agents),
                }
                for linkedid, (call_id, _) in stored.calls.items()
            ],
        )
    new_attempts, updated_attempts, new_transfers = _child_rows(latest, call_ids, stored, agents)
    if new_attempts:
        await connection.execute(insert(_ATTEMPTS), new_attempts)
    if updated_attempts:
        await connection.execute(_UPDATE_ATTEMPTS, updated_attempts)
    if new_transfers:
        await connection.execute(insert(_TRANSFERS), new_transfers)
    _expire_loaded_calls(session)


@dataclass
class _Stored:
    """What a batch's calls already have in the database, read before writing."""

    calls: dict[str, tuple[int, int | None]]  # linkedid -> (id, customer_id)
    attempts: dict[tuple[int, str], int]  # (call id, uniqueid) -> attempt id
    transfers: set[tuple[int, str, datetime]]  # (call id, kind, at)


async def _read_stored(connection: AsyncConnection, latest: dict[str, CallRecord]) -> _Stored:
    call_rows = await connection.execute(
        select(_CALLS.c.id, _CALLS.c.linkedid, _CALLS.c.customer_id).where(
            _CALLS.c.linkedid.in_(list(latest))
        )
    )
    stored = _Stored(
        {linkedid: (id_, customer) for id_, linkedid, customer in call_rows}, {}, set()
    )
    if not stored.calls:
        return stored
    attempt_rows = await connection.execute(
        select(_ATTEMPTS.c.id, _ATTEMPTS.c.call_id, _ATTEMPTS.c.uniqueid).where(
            _ATTEMPTS.c.call_id.in_([call_id for call_id, _ in stored.calls.values()])
        )
    )
    stored.attempts = {(call_id, uniqueid): id_ for id_, call_id, uniqueid in attempt_rows}
    transferred = [
        stored.calls[linkedid][0]
        for linkedid, record in latest.items()
        if record.transfers and linkedid in stored.calls
    ]
    if transferred:
        transfer_rows = await connection.execute(
            select(_TRANSFERS.c.call_id, _TRANSFERS.c.kind, _TRANSFERS.c.at).where(
                _TRANSFERS.c.call_id.in_(transferred)
            )
        )
        stored.transfers = {(call_id, kind, at) for call_id, kind, at in transfer_rows}
    return stored


def _child_rows(
    latest: dict[str, CallRecord], call_ids: dict[str, int], stored: _Stored, agents: dict[str, int]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Parameters for the new attempts, the stored attempts and the new transfers."""
    new_attempts: list[dict[str, Any]] = []
    updated_attempts: list[dict[str, Any]] = []
    new_transfers: list[dict[str, Any]] = []
    known_transfers = set(stored.transfers)
    for linkedid, record in latest.items():
        call_id = call_ids[linkedid]
        fresh: dict[str, dict[str, Any]] = {}  # by uniqueid: a repeated one is one row
        for source in record.attempts:
            values = _attempt_values(source, agents)
            attempt_id = stored.attempts.get((call_id, source.uniqueid))
            if attempt_id is None:
                fresh[source.uniqueid] = {"call_id": call_id, "uniqueid": source.uniqueid, **values}
            else:
                updated_attempts.append({"attempt_id": attempt_id, **values})
        new_attempts.extend(fresh.values())
        for transfer in record.transfers:
            key = (call_id, transfer.kind, transfer.at)
            if key in known_transfers:
                continue
            known_transfers.add(key)
            new_transfers.append({
                "call_id": call_id,
                "kind": transfer.kind,
                "at": transfer.at,
                "from_interface": transfer.from_interface[:120],
                "target": transfer.to[:120],
            })  # fmt: skip
    return new_attempts, updated_attempts, new_transfers


async def _owners(session: AsyncSession, records: Sequence[CallRecord]) -> dict[str, int]:
    """Linkedid -> the customer who owns the call's number, with one query per batch.

    Without it only wrapped-up calls reached a customer's history; an abandoned call
    or a voicemail from a known customer would be missing from the next screen-pop.
    The owner is chosen as the screen-pop chooses it (``customers.owners_of_numbers``).
    Only calls without a customer are asked about: a customer chosen at wrap-up stays.
    """
    wanted: dict[str, list[str]] = {}
    for record in records:
        number = record.dialed_number if record.direction == "outbound" else record.caller_number
        phone = normalize_phone(number)
        if isinstance(phone, Phone):
            wanted.setdefault(phone.e164, []).append(record.linkedid)
    if not wanted:
        return {}
    owners = await owners_of_numbers(session, wanted)
    return {
        linkedid: owners[number]
        for number, linkedids in wanted.items()
        if number in owners
        for linkedid in linkedids
    }


def _call_values(record: CallRecord, agents: dict[str, int]) -> dict[str, Any]:
    """The call's columns the tracker owns (customer and recording link have their rules)."""
    return {
        "direction": record.direction,
        "caller_number": record.caller_number[:40],
        "caller_name": record.caller_name[:120],
        "dialed_number": record.dialed_number[:40],
        "started_at": record.started_at,
        "answered_at": record.answered_at,
        "ended_at": record.ended_at,
        "wait_seconds": round(record.wait_seconds, 3),
        "talk_seconds": round(record.talk_seconds, 3),
        "hold_seconds": round(record.hold_seconds, 3),
        "disposition": record.disposition,
        "hangup_cause": record.hangup_cause[:40],
        "hangup_by": record.hangup_by[:16],
        "queue": record.queue[:80],
        "route_group": record.route_group[:32],
        "agent_interface": record.agent_interface[:120],
        "end_estimated": record.end_estimated,
        "agent_id": agents.get(interface_key(record.agent_interface)),
    }


def _attempt_values(source: AttemptRecord, agents: dict[str, int]) -> dict[str, Any]:
    return {
        "interface": source.interface[:120],
        "agent_id": agents.get(interface_key(source.interface)),
        "offered_at": source.offered_at,
        "answered_at": source.answered_at,
        "ended_at": source.ended_at,
        "outcome": source.outcome,
        "queue": source.queue[:80],
    }


def _expire_loaded_calls(session: AsyncSession) -> None:
    """Rows were written past the ORM: calls, attempts or transfers this session loaded
    before are stale, so the next query reloads them instead of handing them out."""
    for instance in list(session.identity_map.values()):
        if isinstance(instance, (Call, CallAttempt, CallTransfer)):
            session.expire(instance)


async def close_stale_calls(session: AsyncSession, live: set[str], at: datetime) -> int:
    """End stored calls still ``active`` whose Linkedid Asterisk no longer has.

    They ended while nobody listened (daemon or link down), so the end time is the
    first moment we know it (``at``) and is marked estimated; who hung up is unknown.
    """
    rows = await session.scalars(select(Call).where(Call.disposition == "active"))
    closed = 0
    for call in rows.all():
        if call.linkedid in live:
            continue
        call.ended_at = max(at, call.started_at)
        call.end_estimated = True
        call.hangup_by = call.hangup_by or "unknown"
        call.disposition = "answered" if call.answered_at is not None else "abandoned"
        until = call.answered_at or call.ended_at
        call.wait_seconds = round((until - call.started_at).total_seconds(), 3)
        if call.answered_at is not None:
            connected = (call.ended_at - call.answered_at).total_seconds()
            call.talk_seconds = round(max(0.0, connected - call.hold_seconds), 3)
        closed += 1
    await session.flush()
    return closed


async def get_call(session: AsyncSession, linkedid: str) -> Call | None:
    return await session.scalar(
        select(Call)
        .where(Call.linkedid == linkedid)
        .options(selectinload(Call.attempts), selectinload(Call.transfers))
    )


async def active_calls(session: AsyncSession) -> Sequence[Call]:
    result = await session.scalars(
        select(Call).where(Call.disposition == "active").order_by(Call.started_at)
    )
    return result.all()


async def count_calls(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count(Call.id))) or 0)
