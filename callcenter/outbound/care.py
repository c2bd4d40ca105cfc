"""After-sale care schedules: the rules fire on time, exactly once, in local time.

A supervised background task wakes every ``every_seconds`` (on the injected clock) and
sweeps: each active rule whose date (purchase, birthday, warranty end, plus the rule's
offset) falls between the day after the last sweep and today (local) fires — a care call
on the group's task list, or an SMS/email through the notification outbox, its text
filled from a template with the customer's fields. Do-not-call customers get no care
call (the firing is recorded as skipped). Exactly once: the firing row is unique per
(rule, customer, vehicle, date) and written in the same transaction as its task or
message, and where the sweep stopped is kept in the database, so a restart or a clock
moved forward catches up on the missed days without repeating any.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import extract, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import localtime
from callcenter.clock import Clock
from callcenter.core.outbound import RuleChannel, Trigger, fire_dates, render
from callcenter.db.models import (
    CareFiring,
    CareRule,
    Customer,
    SystemSetting,
    Vehicle,
)
from callcenter.db.repos import outbound as repo
from callcenter.db.repos import tasks as tasks_repo
from callcenter.notify.outbox import enqueue

log = logging.getLogger(__name__)

#: Messages and care calls go out from this local hour on (not at midnight).
FIRE_HOUR = 8
SWEEP_EVERY_SECONDS = 300.0
STOP_WAIT_SECONDS = 10.0  # a sweep in progress may finish this long at shutdown
CARE_SWEPT_KEY = "care_schedule_swept_until"


@dataclass
class SweepResult:
    since: date | None
    until: date | None
    fired: list[tuple[int, int, str, date, str]] = field(default_factory=list)
    # (rule id, customer id, VIN or "", local date, outcome)


def _fields(customer: Customer, vehicle: Vehicle | None, phone: str) -> dict[str, str]:
    def day(value: date | None) -> str:
        return value.strftime("%d/%m/%Y") if value else ""

    return {
        "name": customer.name,
        "phone": phone,
        "province": customer.province,
        "birthday": day(customer.birthday),
        "model": vehicle.model if vehicle else "",
        "vin": vehicle.vin if vehicle else "",
        "plate": vehicle.plate if vehicle else "",
        "purchase_date": day(vehicle.purchase_date) if vehicle else "",
        "warranty_end": day(vehicle.warranty_end) if vehicle else "",
    }


async def _candidates(
    session: AsyncSession, rule: CareRule, since: date, until: date
) -> list[tuple[Customer, list[Vehicle]]]:
    """The customers (with their vehicles) whose date may fire ``rule`` in since..until:
    only those are loaded, not the whole customer base."""
    first = since - timedelta(days=rule.offset_days)
    last = until - timedelta(days=rule.offset_days)
    if rule.trigger == Trigger.BIRTHDAY:
        span = (last - first).days
        months = (
            set(range(1, 13))
            if span >= 366
            else {(first + timedelta(days=n)).month for n in range(span + 1)}
        )
        found = await session.scalars(
            select(Customer)
            .where(Customer.birthday.is_not(None), extract("month", Customer.birthday).in_(months))
            .order_by(Customer.id)
        )
        return [(customer, []) for customer in found.all()]
    column = Vehicle.purchase_date if rule.trigger == Trigger.PURCHASE else Vehicle.warranty_end
    vehicles = (
        await session.scalars(
            select(Vehicle).where(column >= first, column <= last).order_by(Vehicle.id)
        )
    ).all()
    owned: dict[int, list[Vehicle]] = defaultdict(list)
    for vehicle in vehicles:
        owned[vehicle.customer_id].append(vehicle)
    if not owned:
        return []
    customers = await session.scalars(
        select(Customer).where(Customer.id.in_(list(owned))).order_by(Customer.id)
    )
    return [(customer, owned[customer.id]) for customer in customers.all()]


async def care_sweep(
    session: AsyncSession, *, now: datetime, zone: Any, fire_hour: int, domain: str
) -> SweepResult:
    """Fire every active care rule due since the last sweep, up to the local date of
    ``now`` (from ``fire_hour`` local on): a care call on the task list, or a message in
    the outbox. Each (rule, customer, vehicle, date) fires once: the firing row is unique
    and written in the same transaction as its task or message, and where the sweep
    stopped is kept in the database, so restarts and clock moves neither skip nor repeat.
    """
    local_now = localtime.to_local(now, zone)
    until = local_now.date() if local_now.hour >= fire_hour else local_now.date() - timedelta(1)
    state = await session.get(SystemSetting, CARE_SWEPT_KEY, with_for_update=True)
    since = date.fromisoformat(state.value) + timedelta(1) if state is not None else until
    result = SweepResult(since, until)
    if since > until:
        return result
    rules = (await session.scalars(select(CareRule).where(CareRule.active.is_(True)))).all()
    if rules:
        done = {
            (row.rule_id, row.customer_id, row.vehicle_key, row.on_date)
            for row in (
                await session.scalars(select(CareFiring).where(CareFiring.on_date >= since))
            ).all()
        }
        for rule in rules:
            candidates = await _candidates(session, rule, since, until)
            phones = await repo.primary_phones(session, [c.id for c, _ in candidates])
            for customer, owned in candidates:
                triples = [(v.vin, v.purchase_date, v.warranty_end) for v in owned]
                for vin, day in fire_dates(
                    rule.trigger, rule.offset_days, birthday=customer.birthday,
                    vehicles=triples, since=since, until=until,
                ):  # fmt: skip
                    if (rule.id, customer.id, vin, day) in done:
                        continue
                    found: Vehicle | None = next((v for v in owned if v.vin == vin), None)
                    phone = phones.get(customer.id, "")
                    text = render(rule.template, _fields(customer, found, phone))
                    firing = CareFiring(
                        rule_id=rule.id, customer_id=customer.id, vehicle_key=vin,
                        on_date=day, outcome="", fired_at=now,
                    )  # fmt: skip
                    if rule.channel == RuleChannel.CALL:
                        if customer.do_not_call:
                            firing.outcome = "skipped_dnc"
                        elif not phone:
                            firing.outcome = "no_address"
                        else:
                            task = await tasks_repo.create_task(
                                session, origin="care_schedule", kind="callback", phone=phone,
                                customer_id=customer.id, group=rule.group,
                                notes=f"[care_schedule] {rule.name}: {text}".strip(),
                                created_at=now,
                            )  # fmt: skip
                            firing.outcome, firing.task_id = "task", task.id
                    else:
                        recipient = phone if rule.channel == RuleChannel.SMS else customer.email
                        if not recipient:
                            firing.outcome = "no_address"
                        else:
                            message = await enqueue(
                                session, channel=rule.channel, recipient=recipient,
                                subject=render(rule.subject, _fields(customer, found, phone)),
                                body_text=text, kind="care", now=now, domain=domain,
                            )  # fmt: skip
                            firing.outcome, firing.notification_id = "message", message.id
                    session.add(firing)
                    done.add((rule.id, customer.id, vin, day))
                    result.fired.append((rule.id, customer.id, vin, day, firing.outcome))
    if state is None:
        session.add(SystemSetting(key=CARE_SWEPT_KEY, value=until.isoformat(), updated_at=now))
    else:
        state.value = until.isoformat()
        state.updated_at = now
    await session.flush()
    return result


class CareScheduler:
    """The supervised sweep loop; ``completed`` counts finished sweeps (tests and health
    checks wait on it)."""

    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        clock: Clock,
        *,
        zone: Any,
        domain: str,
        every_seconds: float = SWEEP_EVERY_SECONDS,
        fire_hour: int = FIRE_HOUR,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.zone = zone
        self.domain = domain
        self.every_seconds = every_seconds
        self.fire_hour = fire_hour
        self.completed = 0
        self.stopping = False
        self._idle = asyncio.Event()
        self._idle.set()

    async def stop_gracefully(self) -> None:
        """Let a sweep in progress finish its transaction (a sweep cancelled inside a
        database call could leave its connection behind), and start no other."""
        self.stopping = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), STOP_WAIT_SECONDS)

    async def sweep_once(self) -> SweepResult:
        self._idle.clear()
        try:
            return await self._sweep()
        finally:
            self._idle.set()

    async def _sweep(self) -> SweepResult:
        async with self.sessions() as session, session.begin():
            today = localtime.local_date(self.clock.now(), self.zone)
            await repo.close_ended_campaigns(session, today)
            result = await care_sweep(
                session,
                now=self.clock.now(),
                zone=self.zone,
                fire_hour=self.fire_hour,
                domain=self.domain,
            )
        self.completed += 1
        if result.fired:
            log.info(
                "care schedule: %d fired (%s..%s)", len(result.fired), result.since, result.until
            )
        return result

    async def run(self) -> None:
        """Sweep now, then every ``every_seconds``; run under ``tasks.supervise``."""
        while not self.stopping:
            await self.sweep_once()
            await self.clock.sleep(self.every_seconds)
