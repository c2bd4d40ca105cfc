"""Outbound work: call lists (marketing lead lists and care campaigns), their items (one
customer each, worked as a task on an agent's list), opportunities from converted leads,
and the after-sale care rules with the record of what each rule already fired."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.base import Base
from callcenter.db.models._common import utcnow


class CallList(Base):
    """A lead list (``kind`` "lead") or a care campaign ("care"): who to call, by whom."""

    __tablename__ = "call_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), default="lead", doc="lead or care")
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(8), default="filter", doc="import or filter")
    filter: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    import_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer_imports.id", ondelete="SET NULL")
    )
    order_by: Mapped[str] = mapped_column(String(12), default="priority")
    max_attempts: Mapped[int] = mapped_column(default=3)
    agent_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    group: Mapped[str] = mapped_column(String(48), default="")
    script: Mapped[str] = mapped_column(Text, default="")
    survey_id: Mapped[int | None] = mapped_column(doc="a survey of the surveys room (no FK)")
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="active")
    skipped_do_not_call: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CallListItem(Base):
    """One customer of a list, its call task, attempts and outcome."""

    __tablename__ = "call_list_items"
    __table_args__ = (UniqueConstraint("list_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(
        ForeignKey("call_lists.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="SET NULL"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    priority: Mapped[int] = mapped_column(default=0)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_outcome: Mapped[str] = mapped_column(String(16), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    conversion: Mapped[str] = mapped_column(String(12), default="", doc="not_buying or buying")
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Opportunity(Base):
    """A converted lead who is buying: what, how many, for how much, how far along."""

    __tablename__ = "opportunities"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("call_list_items.id", ondelete="SET NULL")
    )
    vehicle_model: Mapped[str] = mapped_column(String(120), default="")
    quantity: Mapped[int] = mapped_column(default=1)
    value_vnd: Mapped[int] = mapped_column(BigInteger, default=0)
    stage: Mapped[str] = mapped_column(String(16), default="new")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OpportunityStageChange(Base):
    """One move of an opportunity's stage: from, to, who and when."""

    __tablename__ = "opportunity_stage_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    from_stage: Mapped[str] = mapped_column(String(16))
    to_stage: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CareRule(Base):
    """ "After a purchase: a call at +7 days", "on the birthday: an SMS", ..."""

    __tablename__ = "care_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(16), doc="purchase, birthday or warranty_end")
    offset_days: Mapped[int] = mapped_column(default=0, doc="after (+) or before (-) the date")
    channel: Mapped[str] = mapped_column(String(8), doc="call, sms or email")
    subject: Mapped[str] = mapped_column(String(300), default="")
    template: Mapped[str] = mapped_column(Text, default="")
    group: Mapped[str] = mapped_column(String(48), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CareFiring(Base):
    """What a rule did for one customer (and vehicle) on one local date: at most once."""

    __tablename__ = "care_firings"
    __table_args__ = (UniqueConstraint("rule_id", "customer_id", "vehicle_key", "on_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("care_rules.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    vehicle_key: Mapped[str] = mapped_column(String(17), default="", doc="the VIN, or empty")
    on_date: Mapped[date] = mapped_column(Date, doc="the local date the rule fires on")
    outcome: Mapped[str] = mapped_column(String(16), doc="task, message or skipped_dnc")
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL")
    )
    fired_at: Mapped[datetime] = mapped_column(default=utcnow)
