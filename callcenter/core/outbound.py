"""Outbound rules, as pure logic: what a lead call's outcome does, how a list is ordered,
when an after-sale care rule fires, and how a message template is filled.

* **Outcomes** (the lead-handling procedure): reached; not reached (the agent picks a
  retry time, the task returns then; after ``max_attempts`` tries the lead closes as
  unreachable); not interested (a reason is required); wrong or fake number.
* **Conversion** of a reached lead: not buying yet → a callback task 24 hours later;
  buying → an opportunity (vehicle model, quantity, value, stage).
* **Care rules** fire on a local date derived from a customer's date (purchase, birthday,
  warranty end) plus an offset in days; each (rule, customer, vehicle, date) fires once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from callcenter.core.text import fold


def N_(message: str) -> str:
    """Mark a msgid for extraction; it is translated where it is shown."""
    return message


class LeadOutcome(StrEnum):
    REACHED = "reached"
    NOT_REACHED = "not_reached"
    NOT_INTERESTED = "not_interested"
    WRONG_NUMBER = "wrong_number"


class ItemStatus(StrEnum):
    OPEN = "open"
    REACHED = "reached"
    NOT_INTERESTED = "not_interested"
    WRONG_NUMBER = "wrong_number"
    UNREACHABLE = "unreachable"
    DO_NOT_CALL = "do_not_call"  # marked do-not-call after the list was made


class Conversion(StrEnum):
    NONE = ""
    NOT_BUYING = "not_buying"
    BUYING = "buying"


class Stage(StrEnum):
    NEW = "new"
    QUOTED = "quoted"
    NEGOTIATING = "negotiating"
    WON = "won"
    LOST = "lost"


class ListKind(StrEnum):
    LEAD = "lead"
    CARE = "care"


class Trigger(StrEnum):
    PURCHASE = "purchase"
    BIRTHDAY = "birthday"
    WARRANTY_END = "warranty_end"


class RuleChannel(StrEnum):
    CALL = "call"
    SMS = "sms"
    EMAIL = "email"


#: Task kinds and origins the outbound room writes (the agent's task list shows them).
LEAD_TASK_KIND = "lead_call"
CARE_TASK_KIND = "care_call"
OUTBOUND_TASK_KINDS = (LEAD_TASK_KIND, CARE_TASK_KIND)
CALLBACK_DELAY = timedelta(hours=24)
DEFAULT_MAX_ATTEMPTS = 3

OUTCOME_LABELS: dict[str, str] = {
    LeadOutcome.REACHED: N_("Reached"),
    LeadOutcome.NOT_REACHED: N_("Not reached"),
    LeadOutcome.NOT_INTERESTED: N_("Not interested"),
    LeadOutcome.WRONG_NUMBER: N_("Wrong or fake number"),
}
ITEM_STATUS_LABELS: dict[str, str] = {
    ItemStatus.OPEN: N_("To call"),
    ItemStatus.REACHED: N_("Reached"),
    ItemStatus.NOT_INTERESTED: N_("Not interested"),
    ItemStatus.WRONG_NUMBER: N_("Wrong or fake number"),
    ItemStatus.UNREACHABLE: N_("Unreachable"),
    ItemStatus.DO_NOT_CALL: N_("Asked not to be called"),
}
CONVERSION_LABELS: dict[str, str] = {
    Conversion.NOT_BUYING: N_("Converted: not buying yet"),
    Conversion.BUYING: N_("Converted: buying"),
}
STAGE_LABELS: dict[str, str] = {
    Stage.NEW: N_("New opportunity"),
    Stage.QUOTED: N_("Quoted"),
    Stage.NEGOTIATING: N_("Negotiating"),
    Stage.WON: N_("Won"),
    Stage.LOST: N_("Lost"),
}
LIST_KIND_LABELS: dict[str, str] = {
    ListKind.LEAD: N_("Lead list"),
    ListKind.CARE: N_("Care campaign"),
}
TRIGGER_LABELS: dict[str, str] = {
    Trigger.PURCHASE: N_("After a vehicle purchase"),
    Trigger.BIRTHDAY: N_("On the customer's birthday"),
    Trigger.WARRANTY_END: N_("Around the warranty end"),
}
CHANNEL_LABELS: dict[str, str] = {
    RuleChannel.CALL: N_("Care call"),
    RuleChannel.SMS: N_("SMS"),
    RuleChannel.EMAIL: N_("Email"),
}
ORDER_LABELS: dict[str, str] = {
    "priority": N_("By priority"),
    "province": N_("By province"),
}


class OutboundRuleError(ValueError):
    """Input the user must correct; ``message`` is an English msgid."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class OutcomePlan:
    item_status: ItemStatus
    attempts: int
    task_done: bool  # False: the task opens again, due at ``retry_at``
    retry_at: datetime | None
    callback_at: datetime | None  # converted, not buying yet: a callback task then
    opportunity: bool


def plan_outcome(
    outcome: str,
    *,
    attempts: int,
    max_attempts: int,
    now: datetime,
    retry_at: datetime | None = None,
    reason: str = "",
    conversion: str = "",
) -> OutcomePlan:
    """What one call's outcome does to a lead; raise OutboundRuleError on bad input."""
    try:
        chosen = LeadOutcome(outcome)
    except ValueError:
        raise OutboundRuleError(
            N_("Choose an outcome: reached, not reached, not interested or wrong number")
        ) from None
    tries = attempts + 1
    if chosen is LeadOutcome.NOT_REACHED:
        if tries >= max_attempts:
            return OutcomePlan(ItemStatus.UNREACHABLE, tries, True, None, None, False)
        if retry_at is None:
            raise OutboundRuleError(N_("Not reached: choose when to try again"))
        if retry_at <= now:
            raise OutboundRuleError(N_("The retry time must be in the future"))
        return OutcomePlan(ItemStatus.OPEN, tries, False, retry_at, None, False)
    if chosen is LeadOutcome.NOT_INTERESTED:
        if not reason.strip():
            raise OutboundRuleError(N_("Not interested: give the reason"))
        return OutcomePlan(ItemStatus.NOT_INTERESTED, tries, True, None, None, False)
    if chosen is LeadOutcome.WRONG_NUMBER:
        return OutcomePlan(ItemStatus.WRONG_NUMBER, tries, True, None, None, False)
    try:
        converted = Conversion(conversion)
    except ValueError:
        raise OutboundRuleError(N_("Unknown conversion")) from None
    return OutcomePlan(
        ItemStatus.REACHED,
        tries,
        True,
        None,
        now + CALLBACK_DELAY if converted is Conversion.NOT_BUYING else None,
        converted is Conversion.BUYING,
    )


@dataclass(frozen=True)
class OpportunityInput:
    vehicle_model: str
    quantity: int
    value_vnd: int
    stage: str


def check_opportunity(model: str, quantity: int, value_vnd: int, stage: str) -> OpportunityInput:
    if not model.strip():
        raise OutboundRuleError(N_("Buying: name the vehicle model"))
    if quantity < 1:
        raise OutboundRuleError(N_("Buying: the quantity must be at least 1"))
    if value_vnd < 0:
        raise OutboundRuleError(N_("Buying: the value cannot be negative"))
    if stage not in {s.value for s in Stage}:
        raise OutboundRuleError(N_("Buying: choose a stage"))
    return OpportunityInput(model.strip()[:120], quantity, value_vnd, stage)


#: Where an opportunity may go from each stage: forward through the open stages (back
#: from negotiating to a new quote), closed as won or lost, and never out of won or lost.
STAGE_MOVES: dict[str, tuple[str, ...]] = {
    Stage.NEW: (Stage.QUOTED, Stage.NEGOTIATING, Stage.WON, Stage.LOST),
    Stage.QUOTED: (Stage.NEGOTIATING, Stage.WON, Stage.LOST),
    Stage.NEGOTIATING: (Stage.QUOTED, Stage.WON, Stage.LOST),
    Stage.WON: (),
    Stage.LOST: (),
}


class StageMoveError(OutboundRuleError):
    """A stage change the rules refuse; ``from_stage``/``to_stage`` name it for the message
    (``%(from)s``/``%(to)s``, filled with the translated stage labels)."""

    def __init__(self, message: str, from_stage: str, to_stage: str) -> None:
        super().__init__(message)
        self.from_stage = from_stage
        self.to_stage = to_stage


def check_stage_move(current: str, target: str) -> Stage:
    """The stage an opportunity may move to from ``current``; raise StageMoveError if not."""
    if target not in STAGE_MOVES:
        raise StageMoveError(N_("Choose a stage"), current, target)
    if target == current:
        raise StageMoveError(N_("The opportunity is already at stage %(to)s."), current, target)
    if not STAGE_MOVES.get(current, ()):
        raise StageMoveError(
            N_("The opportunity is closed (%(from)s): its stage no longer changes."),
            current,
            target,
        )
    if target not in STAGE_MOVES[current]:
        raise StageMoveError(
            N_("An opportunity cannot go from %(from)s back to %(to)s."), current, target
        )
    return Stage(target)


@dataclass(frozen=True)
class Lead:
    """What ordering needs to know about one customer of a list."""

    customer_id: int
    province: str
    priority: int  # higher first


def ordered(leads: Iterable[Lead], order_by: str) -> list[Lead]:
    """The list's calling order: by priority (highest first) or by province (A→Z as
    Vietnamese reads it, Đà Nẵng among the D), then id."""
    if order_by == "province":
        return sorted(
            leads, key=lambda lead: (fold(lead.province), -lead.priority, lead.customer_id)
        )
    return sorted(leads, key=lambda lead: (-lead.priority, lead.customer_id))


def priority_of(tags: Sequence[str]) -> int:
    """A lead's priority from its tags: VIP first, then "hot"/"nóng" leads."""
    folded = {tag.casefold() for tag in tags}
    return (2 if "vip" in folded else 0) + (1 if folded & {"hot", "nóng"} else 0)


def assign(count: int, agents: Sequence[int]) -> list[int | None]:
    """Round-robin the items (in calling order) over the agents; none → the group's."""
    if not agents:
        return [None] * count
    return [agents[index % len(agents)] for index in range(count)]


# ----------------------------------------------------------------- care schedules
def _shift(day: date, offset_days: int) -> date:
    return day + timedelta(days=offset_days)


def _birthday_in(year: int, birthday: date) -> date:
    try:
        return birthday.replace(year=year)
    except ValueError:  # 29 February in a common year: the 28th
        return date(year, 2, 28)


def fire_dates(
    trigger: str,
    offset_days: int,
    *,
    birthday: date | None,
    vehicles: Sequence[tuple[str, date | None, date | None]],
    since: date,
    until: date,
) -> list[tuple[str, date]]:
    """(VIN or "", local date) pairs at which a rule fires within ``since..until``.

    ``vehicles`` are (VIN, purchase date, warranty end). A scheduler that was down for a
    while catches up on the dates it missed (``since`` is where it stopped)."""
    out: list[tuple[str, date]] = []
    if trigger == Trigger.BIRTHDAY:
        if birthday is not None:
            for year in range(since.year, until.year + 1):
                day = _shift(_birthday_in(year, birthday), offset_days)
                if since <= day <= until:
                    out.append(("", day))
        return out
    for vin, purchased, warranty_end in vehicles:
        base = purchased if trigger == Trigger.PURCHASE else warranty_end
        if base is None:
            continue
        day = _shift(base, offset_days)
        if since <= day <= until:
            out.append((vin, day))
    return out


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
TEMPLATE_FIELDS = ("name", "phone", "province", "model", "vin", "plate", "purchase_date",
                   "warranty_end", "birthday")  # fmt: skip


def render(template: str, fields: Mapping[str, str]) -> str:
    """Fill ``{name}``-style placeholders with the customer's fields; unknown ones stay."""
    return _PLACEHOLDER.sub(lambda m: fields.get(m.group(1), m.group(0)), template)


def unknown_placeholders(template: str) -> list[str]:
    return [name for name in _PLACEHOLDER.findall(template) if name not in TEMPLATE_FIELDS]
