"""Callback tasks: the rules, as pure logic (which calls merge, what an outcome does).

The ACD writes a callback for missed, abandoned, overflow and out-of-hours callers; agents
work them from the agent page. Rules kept here so the database code only carries them out:

* **One per number per local day.** Repeated misses from one number on one local day merge
  into that day's open callback (one more line in its notes); the next day starts a new
  one, so a customer who keeps trying for days shows as several days of misses. A
  voicemail is never merged (a message must not hide inside another task).
* **Anonymous callers never get one** (nothing to call back): checked by the ACD with
  :func:`callcenter.core.phones.is_anonymous` before it gets here.
* **Outcomes**: reached → done; wrong number → done (nobody calls it again);
  not reached → open again, unclaimed, due at the retry time the agent chose (later than now).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


def N_(message: str) -> str:
    """Mark a msgid for extraction; it is translated where it is shown."""
    return message


class TaskStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


class TaskOutcome(StrEnum):
    REACHED = "reached"
    NOT_REACHED = "not_reached"
    WRONG_NUMBER = "wrong_number"


OPEN_TASK_STATUSES = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)

STATUS_LABELS = {
    TaskStatus.OPEN: N_("To call back"),
    TaskStatus.IN_PROGRESS: N_("Being called back"),
    TaskStatus.DONE: N_("Called back"),
    TaskStatus.CANCELLED: N_("Cancelled"),
}
OUTCOME_LABELS = {
    TaskOutcome.REACHED: N_("Reached"),
    TaskOutcome.NOT_REACHED: N_("Not reached"),
    TaskOutcome.WRONG_NUMBER: N_("Wrong number"),
}
KIND_LABELS = {
    "callback": N_("Callback"),
    "follow_up": N_("Follow-up with the customer"),
}
ORIGIN_LABELS = {
    "abandoned": N_("Hung up before an answer"),
    "voicemail": N_("Left a voice message"),
    "overflow": N_("Asked for a callback (long wait)"),
    "closed": N_("Asked for a callback (outside hours)"),
    "ticket_follow_up": N_("Ticket follow-up"),
    "manual": N_("Added by hand"),
}


class TaskRuleError(ValueError):
    """An outcome the agent must correct; ``message`` is an English msgid."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def merges_into(*, origin: str, existing_day: date | None, today: date) -> bool:
    """Whether a new miss joins the number's open callback created on ``existing_day``."""
    return origin != "voicemail" and existing_day is not None and existing_day == today


@dataclass(frozen=True)
class OutcomePlan:
    status: TaskStatus
    outcome: TaskOutcome
    due_at: datetime | None  # None: keep the current due time
    release: bool  # the claim ends: anyone may take it again


def plan_outcome(outcome: str, *, now: datetime, retry_at: datetime | None) -> OutcomePlan:
    """What an outcome does to a callback; a not-reached one needs a retry time after now."""
    try:
        chosen = TaskOutcome(outcome)
    except ValueError:
        raise TaskRuleError(N_("Choose an outcome: reached, not reached or wrong number")) from None
    if chosen is TaskOutcome.NOT_REACHED:
        if retry_at is None:
            raise TaskRuleError(N_("Not reached: choose when to try again"))
        if retry_at <= now:
            raise TaskRuleError(N_("The retry time must be in the future"))
        return OutcomePlan(TaskStatus.OPEN, chosen, retry_at, release=True)
    return OutcomePlan(TaskStatus.DONE, chosen, None, release=False)
