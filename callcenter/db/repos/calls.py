"""Store the tracker's call records: one row per call, one per attempt, one per transfer.

Saving is an upsert keyed on Asterisk identities (the call's ``Linkedid``, the
attempt's dialled ``Uniqueid``, a transfer's kind + instant), so saving the
same record again — after every domain event, after a reconnect and resync —
updates rows and never duplicates them. Functions flush; the caller commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from callcenter.core.call_events import CallRecord
from callcenter.core.interfaces import interface_key
from callcenter.core.phones import Phone, normalize_phone
from callcenter.db.models.calls import Call, CallAttempt, CallTransfer
from callcenter.db.models.users import User
from callcenter.db.repos.customers import owners_of_numbers


async def agent_ids_by_interface(session: AsyncSession) -> dict[str, int]:
    """Map each user's phone interface (``PJSIP/101``, ``Local/201@agents``) to the user id."""
    rows = await session.execute(select(User.interface, User.id).where(User.interface != ""))
    return {interface_key(interface): user_id for interface, user_id in rows}


async def save_call(
    session: AsyncSession, record: CallRecord, agents: dict[str, int] | None = None
) -> Call:
    """Insert or update the call and its attempts/transfers from the tracker's record."""
    if agents is None:
        agents = await agent_ids_by_interface(session)
    call = await session.scalar(
        select(Call)
        .where(Call.linkedid == record.linkedid)
        .options(selectinload(Call.attempts), selectinload(Call.transfers))
    )
    call = _apply(session, call, record, agents)
    await _link_customers(session, [(call, record)])
    await session.flush()
    return call


async def save_calls(
    session: AsyncSession, records: Sequence[CallRecord], agents: dict[str, int]
) -> None:
    """Upsert many calls with one read and one flush (the recorder's batches).

    Under load a round trip per call is what makes the writer fall behind the
    calls: three queries and a commit each, every one a pass through the event loop.
    """
    if not records:
        return
    rows = await session.scalars(
        select(Call)
        .where(Call.linkedid.in_([record.linkedid for record in records]))
        .options(selectinload(Call.attempts), selectinload(Call.transfers))
    )
    stored = {call.linkedid: call for call in rows.all()}
    for record in records:
        stored[record.linkedid] = _apply(session, stored.get(record.linkedid), record, agents)
    await _link_customers(session, [(stored[record.linkedid], record) for record in records])
    await session.flush()


async def _link_customers(session: AsyncSession, pairs: Sequence[tuple[Call, CallRecord]]) -> None:
    """Tie calls to the customer who owns the number, with one query per batch.

    Without it only wrapped-up calls reached a customer's history; an abandoned call
    or a voicemail from a known customer would be missing from the next screen-pop.
    The owner is chosen as the screen-pop chooses it (``customers.owners_of_numbers``).
    A customer chosen at wrap-up stays.
    """
    wanted: dict[str, list[Call]] = {}
    for call, record in pairs:
        if call.customer_id is not None:
            continue
        number = record.dialed_number if record.direction == "outbound" else record.caller_number
        phone = normalize_phone(number)
        if isinstance(phone, Phone):
            wanted.setdefault(phone.e164, []).append(call)
    if not wanted:
        return
    owners = await owners_of_numbers(session, wanted)
    for number, calls in wanted.items():
        for call in calls:
            call.customer_id = owners.get(number)


def _apply(
    session: AsyncSession, call: Call | None, record: CallRecord, agents: dict[str, int]
) -> Call:
    """Copy the tracker's record onto the stored row (a new one if ``call`` is None)."""
    if call is None:
        call = Call(linkedid=record.linkedid, started_at=record.started_at)
        call.attempts = []
        call.transfers = []
        session.add(call)
    call.direction = record.direction
    call.caller_number = record.caller_number[:40]
    call.caller_name = record.caller_name[:120]
    call.dialed_number = record.dialed_number[:40]
    call.started_at = record.started_at
    call.answered_at = record.answered_at
    call.ended_at = record.ended_at
    call.wait_seconds = round(record.wait_seconds, 3)
    call.talk_seconds = round(record.talk_seconds, 3)
    call.hold_seconds = round(record.hold_seconds, 3)
    call.disposition = record.disposition
    call.hangup_cause = record.hangup_cause[:40]
    call.hangup_by = record.hangup_by[:16]
    if record.recording_path:  # a record rebuilt by a resync no longer knows the file
        call.recording_path = record.recording_path[:300]
    call.queue = record.queue[:80]
    call.route_group = record.route_group[:32]
    call.agent_interface = record.agent_interface[:120]
    call.end_estimated = record.end_estimated
    call.agent_id = agents.get(interface_key(record.agent_interface))

    existing = {attempt.uniqueid: attempt for attempt in call.attempts}
    for source in record.attempts:
        attempt = existing.get(source.uniqueid)
        if attempt is None:
            attempt = CallAttempt(uniqueid=source.uniqueid, offered_at=source.offered_at)
            call.attempts.append(attempt)
            existing[source.uniqueid] = attempt
        attempt.interface = source.interface[:120]
        attempt.agent_id = agents.get(interface_key(source.interface))
        attempt.offered_at = source.offered_at
        attempt.answered_at = source.answered_at
        attempt.ended_at = source.ended_at
        attempt.outcome = source.outcome
        attempt.queue = source.queue[:80]

    known: set[tuple[str, datetime]] = {(t.kind, t.at) for t in call.transfers}
    for transfer in record.transfers:
        if (transfer.kind, transfer.at) not in known:
            call.transfers.append(
                CallTransfer(
                    kind=transfer.kind,
                    at=transfer.at,
                    from_interface=transfer.from_interface[:120],
                    target=transfer.to[:120],
                )
            )
            known.add((transfer.kind, transfer.at))
    return call


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
