"""Outbound data: building call lists (from a customer filter or an import) into tasks on
agents' lists, recording lead outcomes and conversions, reports and campaign progress.

Do-not-call customers never become items of a list (they are counted as skipped), so no
list or campaign ever puts a call to them on anybody's task list.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.core.outbound import (
    CARE_TASK_KIND,
    LEAD_TASK_KIND,
    N_,
    Conversion,
    ItemStatus,
    Lead,
    ListKind,
    OpportunityInput,
    OutboundRuleError,
    assign,
    check_stage_move,
    ordered,
    plan_outcome,
    priority_of,
)
from callcenter.core.text import fold
from callcenter.db.models import (
    AgentGroup,
    CallList,
    CallListItem,
    Customer,
    CustomerPhone,
    Opportunity,
    OpportunityStageChange,
    SurveyResponse,
    Task,
    User,
    Vehicle,
)
from callcenter.db.repos import tasks as tasks_repo


@dataclass
class CustomerFilter:
    """Who a list or campaign targets; empty fields match everybody."""

    tags: list[str] = field(default_factory=list)
    province: str = ""
    model: str = ""
    purchased_from: date | None = None
    purchased_to: date | None = None
    customer_type: str = ""  # "", "fleet" or "individual"

    def as_json(self) -> dict[str, Any]:
        return {
            "tags": self.tags,
            "province": self.province,
            "model": self.model,
            "purchased_from": self.purchased_from.isoformat() if self.purchased_from else None,
            "purchased_to": self.purchased_to.isoformat() if self.purchased_to else None,
            "customer_type": self.customer_type,
        }


async def customers_matching(session: AsyncSession, wanted: CustomerFilter) -> list[int]:
    """Ids of the customers the filter selects (do-not-call ones included: the caller
    decides what to do with them)."""
    query = select(Customer.id, Customer.tags)
    if wanted.province:
        query = query.where(func.lower(Customer.province) == wanted.province.strip().lower())
    if wanted.customer_type in ("fleet", "individual"):
        query = query.where(Customer.customer_type == wanted.customer_type)
    vehicle_terms: list[ColumnElement[bool]] = []
    if wanted.model:
        vehicle_terms.append(func.lower(Vehicle.model).like(f"%{wanted.model.strip().lower()}%"))
    if wanted.purchased_from:
        vehicle_terms.append(Vehicle.purchase_date >= wanted.purchased_from)
    if wanted.purchased_to:
        vehicle_terms.append(Vehicle.purchase_date <= wanted.purchased_to)
    if vehicle_terms:
        query = query.where(
            exists().where(and_(Vehicle.customer_id == Customer.id, *vehicle_terms))
        )
    tags = {fold(tag) for tag in wanted.tags if tag.strip()}
    out = []
    for customer_id, customer_tags in (await session.execute(query.order_by(Customer.id))).all():
        if tags and not tags <= {fold(str(tag)) for tag in customer_tags or []}:
            continue
        out.append(int(customer_id))
    return out


@dataclass
class ListSummary:
    call_list: CallList
    items: int
    skipped_do_not_call: int
    skipped_no_phone: int


async def primary_phones(session: AsyncSession, ids: Sequence[int]) -> dict[int, str]:
    rows = await session.execute(
        select(CustomerPhone.customer_id, CustomerPhone.number, CustomerPhone.is_primary)
        .where(CustomerPhone.customer_id.in_(ids))
        .order_by(CustomerPhone.customer_id, CustomerPhone.is_primary.desc(), CustomerPhone.id)
    )
    phones: dict[int, str] = {}
    for customer_id, number, _primary in rows.all():
        phones.setdefault(int(customer_id), number)
    return phones


async def _models(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[str]]:
    rows = await session.execute(
        select(Vehicle.customer_id, Vehicle.model).where(Vehicle.customer_id.in_(ids))
    )
    out: dict[int, list[str]] = defaultdict(list)
    for customer_id, model in rows.all():
        if model:
            out[int(customer_id)].append(model)
    return out


def _lead_notes(call_list: CallList, customer: Customer, models: list[str]) -> str:
    """The lead's details on its task (list, province, vehicles, tags)."""
    parts = [f"[{call_list.kind}:{call_list.id}] {call_list.name}"]
    if customer.province:
        parts.append(customer.province)
    if models:
        parts.append(", ".join(models))
    if customer.tags:
        parts.append("#" + " #".join(str(tag) for tag in customer.tags))
    return " · ".join(parts)


async def create_list(
    session: AsyncSession,
    *,
    kind: str,
    name: str,
    customer_ids: Iterable[int],
    source: str,
    now: datetime,
    filter_json: dict[str, Any] | None = None,
    import_id: int | None = None,
    order_by: str = "priority",
    agent_ids: Sequence[int] = (),
    group: str = "",
    max_attempts: int = 3,
    script: str = "",
    survey_id: int | None = None,
    starts_on: date | None = None,
    ends_on: date | None = None,
    created_by_id: int | None = None,
    due_at: datetime | None = None,
) -> ListSummary:
    """Create the list and, per callable customer in calling order, an item and its task."""
    if not name.strip():
        raise OutboundRuleError(N_("Give the list a name"))
    if kind not in {k.value for k in ListKind}:
        raise OutboundRuleError(N_("Unknown list kind"))
    if order_by not in ("priority", "province"):
        raise OutboundRuleError(N_("Unknown order"))
    if not agent_ids and not group:
        raise OutboundRuleError(N_("Assign the list to agents or a group"))
    if max_attempts < 1:
        raise OutboundRuleError(N_("At least one try per lead"))
    if agent_ids:
        known = set(
            (
                await session.scalars(
                    select(User.id).where(
                        User.id.in_(list(agent_ids)), User.role.in_(("agent", "supervisor"))
                    )
                )
            ).all()
        )
        if known != set(agent_ids):
            raise OutboundRuleError(N_("Choose agents who answer calls"))
    if (
        group
        and await session.scalar(select(AgentGroup.id).where(AgentGroup.code == group)) is None
    ):
        raise OutboundRuleError(N_("No such group"))
    ids = list(dict.fromkeys(customer_ids))
    customers = (
        (await session.execute(select(Customer).where(Customer.id.in_(ids)))).scalars().all()
        if ids
        else []
    )
    phones = await primary_phones(session, ids) if ids else {}
    models = await _models(session, ids) if ids else {}
    callable_ = [c for c in customers if not c.do_not_call and c.id in phones]
    skipped_dnc = sum(1 for c in customers if c.do_not_call)
    skipped_phone = sum(1 for c in customers if not c.do_not_call and c.id not in phones)
    call_list = CallList(
        kind=kind,
        name=name.strip()[:200],
        source=source,
        filter=filter_json or {},
        import_id=import_id,
        order_by=order_by,
        max_attempts=max_attempts,
        agent_ids=list(agent_ids),
        group=group,
        script=script,
        survey_id=survey_id,
        starts_on=starts_on,
        ends_on=ends_on,
        status="active",
        skipped_do_not_call=skipped_dnc,
        created_by_id=created_by_id,
        created_at=now,
    )
    session.add(call_list)
    await session.flush()
    by_id = {c.id: c for c in callable_}
    leads = ordered(
        (Lead(c.id, c.province, priority_of([str(t) for t in c.tags or []])) for c in callable_),
        order_by,
    )
    task_kind = LEAD_TASK_KIND if kind == ListKind.LEAD else CARE_TASK_KIND
    origin = "lead_list" if kind == ListKind.LEAD else "care_campaign"
    for position, (lead, agent) in enumerate(
        zip(leads, assign(len(leads), list(agent_ids)), strict=True)
    ):
        customer = by_id[lead.customer_id]
        task = await tasks_repo.create_task(
            session,
            origin=origin,
            kind=task_kind,
            phone=phones[customer.id],
            customer_id=customer.id,
            group="" if agent is not None else group,
            assignee_id=agent,
            due_at=due_at or now,
            notes=_lead_notes(call_list, customer, models.get(customer.id, [])),
            created_at=now,
        )
        session.add(
            CallListItem(
                list_id=call_list.id,
                customer_id=customer.id,
                task_id=task.id,
                position=position,
                priority=lead.priority,
                agent_id=agent,
                status=ItemStatus.OPEN.value,
                updated_at=now,
            )
        )
    await session.flush()
    return ListSummary(call_list, len(leads), skipped_dnc, skipped_phone)


async def item_for_task(session: AsyncSession, task_id: int) -> CallListItem | None:
    return (
        await session.scalars(select(CallListItem).where(CallListItem.task_id == task_id))
    ).first()


@dataclass
class OutcomeResult:
    item: CallListItem
    task: Task
    callback: Task | None
    opportunity: Opportunity | None


async def record_lead_outcome(
    session: AsyncSession,
    task_id: int,
    outcome: str,
    *,
    user_id: int,
    now: datetime,
    retry_at: datetime | None = None,
    reason: str = "",
    conversion: str = "",
    opportunity: OpportunityInput | None = None,
) -> OutcomeResult:
    """The agent's result of one lead call (claiming the task first if it was free).

    Raises OutboundRuleError before anything changes, LookupError for a task that is not
    a list's, and ``tasks_repo.TaskTaken`` when a colleague holds it."""
    item = await item_for_task(session, task_id)
    if item is None:
        raise LookupError(task_id)
    call_list = await session.get(CallList, item.list_id)
    assert call_list is not None
    plan = plan_outcome(
        outcome,
        attempts=item.attempts,
        max_attempts=call_list.max_attempts,
        now=now,
        retry_at=retry_at,
        reason=reason,
        conversion=conversion,
    )
    if plan.opportunity and opportunity is None:
        raise OutboundRuleError(N_("Buying: name the vehicle model"))
    await tasks_repo.claim_callback(session, task_id, user_id=user_id)
    task = await session.get(Task, task_id, populate_existing=True)
    assert task is not None
    user = await session.get(User, user_id)
    who = "" if user is None else (user.full_name or user.username)
    item.attempts = plan.attempts
    item.last_outcome = outcome
    item.status = plan.item_status.value
    item.handled_by_id = user_id
    item.updated_at = now
    if reason.strip():
        item.reason = reason.strip()[:2000]
    task.outcome = outcome
    line = f"→ {outcome} ({who})" + (f": {reason.strip()}" if reason.strip() else "")
    task.notes = "\n".join(filter(None, [task.notes, line]))
    if plan.task_done:
        task.status = "done"
    else:
        task.status = "open"
        task.due_at = plan.retry_at
        task.assignee_id = item.agent_id  # back to the list's agent (None: the group's)
    callback = None
    if plan.callback_at is not None:
        item.conversion = Conversion.NOT_BUYING.value
        callback = await tasks_repo.create_task(
            session,
            origin="lead_callback",
            kind="callback",
            phone=task.phone,
            customer_id=task.customer_id,
            group=task.group,
            assignee_id=user_id,
            due_at=plan.callback_at,
            notes=f"[lead_callback] {call_list.name}",
            created_at=now,
        )
    found = None
    if plan.opportunity and opportunity is not None:
        item.conversion = Conversion.BUYING.value
        found = Opportunity(
            customer_id=item.customer_id,
            item_id=item.id,
            vehicle_model=opportunity.vehicle_model,
            quantity=opportunity.quantity,
            value_vnd=opportunity.value_vnd,
            stage=opportunity.stage,
            created_by_id=user_id,
            created_at=now,
        )
        session.add(found)
    await session.flush()
    return OutcomeResult(item, task, callback, found)


# ------------------------------------------------------------------- opportunities
@dataclass
class OpportunityRow:
    opportunity: Opportunity
    customer_name: str
    owner_name: str
    list_name: str
    history: list[tuple[OpportunityStageChange, str]] = field(default_factory=list)


async def opportunities(
    session: AsyncSession, *, owner_id: int | None = None, limit: int = 500
) -> list[OpportunityRow]:
    """Opportunities newest first, with each one's stage history (who, when); ``owner_id``:
    only those that agent created (an agent sees their own)."""
    owner = User.__table__.alias("owner")
    query = (
        select(Opportunity, Customer.name, owner.c.full_name, owner.c.username, CallList.name)
        .join(Customer, Customer.id == Opportunity.customer_id)
        .outerjoin(owner, owner.c.id == Opportunity.created_by_id)
        .outerjoin(CallListItem, CallListItem.id == Opportunity.item_id)
        .outerjoin(CallList, CallList.id == CallListItem.list_id)
        .order_by(Opportunity.id.desc())
        .limit(limit)
    )
    if owner_id is not None:
        query = query.where(Opportunity.created_by_id == owner_id)
    rows = [
        OpportunityRow(found, customer, full or username or "", list_name or "")
        for found, customer, full, username, list_name in (await session.execute(query)).all()
    ]
    by_id = {row.opportunity.id: row for row in rows}
    if by_id:
        changes = await session.execute(
            select(OpportunityStageChange, User.full_name, User.username)
            .outerjoin(User, User.id == OpportunityStageChange.user_id)
            .where(OpportunityStageChange.opportunity_id.in_(list(by_id)))
            .order_by(OpportunityStageChange.id)
        )
        for change, full, username in changes.all():
            by_id[change.opportunity_id].history.append((change, full or username or ""))
    return rows


async def move_stage(
    session: AsyncSession,
    opportunity_id: int,
    to_stage: str,
    *,
    user_id: int,
    owner_only: bool,
    now: datetime,
) -> tuple[Opportunity, OpportunityStageChange]:
    """Move an opportunity to ``to_stage`` and record who moved it when.

    Raises LookupError for an opportunity that does not exist (or, with ``owner_only``, is
    not the user's) and StageMoveError for a move the rules refuse, before any change."""
    query = select(Opportunity).where(Opportunity.id == opportunity_id).with_for_update()
    if owner_only:
        query = query.where(Opportunity.created_by_id == user_id)
    found = (await session.scalars(query)).first()
    if found is None:
        raise LookupError(opportunity_id)
    target = check_stage_move(found.stage, to_stage)
    change = OpportunityStageChange(
        opportunity_id=found.id,
        from_stage=found.stage,
        to_stage=target.value,
        user_id=user_id,
        at=now,
    )
    found.stage = target.value
    session.add(change)
    await session.flush()
    return found, change


# ------------------------------------------------------------------------- reports
REPORT_COLUMNS = (
    "items", "called", "reached", "not_interested", "wrong_number", "unreachable", "open",
    "not_buying", "buying", "opportunity_value",
)  # fmt: skip


async def report(
    session: AsyncSession, *, by: str, list_id: int | None = None
) -> list[dict[str, Any]]:
    """Outcome and conversion counts per agent (``by="agent"``) or per list (``"list"``)."""
    key = CallListItem.handled_by_id if by == "agent" else CallListItem.list_id
    query = select(
        key,
        CallListItem.status,
        CallListItem.conversion,
        CallListItem.attempts,
        func.coalesce(Opportunity.value_vnd, 0),
    ).outerjoin(Opportunity, Opportunity.item_id == CallListItem.id)
    if list_id is not None:
        query = query.where(CallListItem.list_id == list_id)
    rows: dict[Any, Counter[str]] = defaultdict(Counter)
    for owner, status, conversion, attempts, value in (await session.execute(query)).all():
        counts = rows[owner]
        counts["items"] += 1
        counts["called"] += 1 if attempts else 0
        counts[status] += 1
        if conversion:
            counts[conversion] += 1
        counts["opportunity_value"] += int(value or 0)
    if by == "agent":
        names = {
            user.id: user.full_name or user.username
            for user in (await session.scalars(select(User))).all()
        }
    else:
        names = {row.id: row.name for row in (await session.scalars(select(CallList))).all()}
    out = []
    for owner in sorted(rows, key=lambda o: (o is None, names.get(o, ""), o or 0)):
        counts = rows[owner]
        out.append(
            {
                "id": owner,
                "name": names.get(owner, "") if owner is not None else "",
                **{column: counts[column] for column in REPORT_COLUMNS},
            }
        )
    return out


async def survey_answers_by_campaign(
    session: AsyncSession, campaign_ids: Sequence[int]
) -> dict[int, int]:
    """Surveys answered per care campaign (``survey_responses.campaign_id``, filled by the
    surveys room when a campaign call's survey is saved): the one place progress reads them."""
    if not campaign_ids:
        return {}
    rows = await session.execute(
        select(SurveyResponse.campaign_id, func.count(SurveyResponse.id))
        .where(SurveyResponse.campaign_id.in_(list(campaign_ids)))
        .group_by(SurveyResponse.campaign_id)
    )
    return {
        int(campaign_id): int(count) for campaign_id, count in rows.all() if campaign_id is not None
    }


async def campaign_progress(
    session: AsyncSession, list_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    """Per campaign: items, called (at least one try), reached, survey answered."""
    out = {
        list_id: {"items": 0, "called": 0, "reached": 0, "survey_answered": 0}
        for list_id in list_ids
    }
    if not list_ids:
        return out
    rows = await session.execute(
        select(CallListItem.list_id, CallListItem.status, CallListItem.attempts).where(
            CallListItem.list_id.in_(list(list_ids))
        )
    )
    for list_id, status, attempts in rows.all():
        progress = out[int(list_id)]
        progress["items"] += 1
        progress["called"] += 1 if attempts else 0
        progress["reached"] += 1 if status == ItemStatus.REACHED else 0
    for list_id, answered in (await survey_answers_by_campaign(session, list_ids)).items():
        if list_id in out:
            out[list_id]["survey_answered"] = answered
    return out


__all__ = [
    "CustomerFilter",
    "ListSummary",
    "OpportunityRow",
    "OutcomeResult",
    "campaign_progress",
    "create_list",
    "customers_matching",
    "item_for_task",
    "move_stage",
    "opportunities",
    "record_lead_outcome",
    "report",
    "survey_answers_by_campaign",
]


async def close_ended_campaigns(session: AsyncSession, today: date) -> list[int]:
    """Campaigns whose last day has passed: their calls not made yet are called off."""
    ended = list(
        (
            await session.scalars(
                select(CallList).where(
                    CallList.status == "active",
                    CallList.ends_on.is_not(None),
                    CallList.ends_on < today,
                )
            )
        ).all()
    )
    for call_list in ended:
        call_list.status = "ended"
        task_ids = select(CallListItem.task_id).where(
            CallListItem.list_id == call_list.id, CallListItem.status == ItemStatus.OPEN.value
        )
        await session.execute(
            update(Task)
            .where(Task.id.in_(task_ids), Task.status.in_(("open", "in_progress")))
            .values(status="cancelled")
        )
    await session.flush()
    return [call_list.id for call_list in ended]
