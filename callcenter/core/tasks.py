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

import re
from collections.abc import Callable
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

STATUS_LABELS: dict[str, str] = {
    TaskStatus.OPEN: N_("To call back"),
    TaskStatus.IN_PROGRESS: N_("Being called back"),
    TaskStatus.DONE: N_("Called back"),
    TaskStatus.CANCELLED: N_("Cancelled"),
}
#: Why a task was called off rather than worked (``Task.outcome`` of a cancelled task).
DO_NOT_CALL_OUTCOME = "do_not_call"
OUTCOME_LABELS: dict[str, str] = {
    TaskOutcome.REACHED: N_("Reached"),
    TaskOutcome.NOT_REACHED: N_("Not reached"),
    TaskOutcome.WRONG_NUMBER: N_("Wrong number"),
    DO_NOT_CALL_OUTCOME: N_("Cancelled: the customer asked not to be called"),
}
KIND_LABELS = {
    "callback": N_("Callback"),
    "follow_up": N_("Follow-up with the customer"),
    "lead_call": N_("Lead call"),
    "care_call": N_("Care call"),
}
ORIGIN_LABELS = {
    "abandoned": N_("Hung up before an answer"),
    "voicemail": N_("Left a voice message"),
    "overflow": N_("Asked for a callback (long wait)"),
    "closed": N_("Asked for a callback (outside hours)"),
    "ticket_follow_up": N_("Ticket follow-up"),
    "manual": N_("Added by hand"),
    "lead_list": N_("Lead list"),
    "care_campaign": N_("Care campaign"),
    "care_schedule": N_("Care schedule"),
    "lead_callback": N_("Call back a converted lead (24 h)"),
}


#: Why a hotline was closed (the ACD's ``CC_CLOSED_REASON``, kept in a task's notes).
CLOSED_REASON_LABELS = {
    "outside_hours": N_("Outside business hours"),
    "holiday": N_("Holiday"),
    "closed_day": N_("Closed day"),
}
#: Where an abandoned caller was when they hung up.
ABANDONED_WHILE_LABELS = {
    "waiting": N_("while waiting"),
    "ringing": N_("while an agent's phone rang"),
    "routing": N_("while being routed"),
    "connected": N_("while being connected"),
}

_LINE = re.compile(
    r"^(?P<at>\d\d/\d\d/\d{4} \d\d:\d\d )?(?:\[(?P<origin>[a-z_]+)\] ?)?"
    r"(?:→ (?P<outcome>[a-z_]+)(?P<rest>.*)|(?P<text>.*))$"
)
_WAITED = re.compile(r"^waited (?P<seconds>\d+) s \((?P<while>[a-z]+)\)$")
_VOICEMAIL = re.compile(r"^voicemail-[\w.]+\.wav$")


def readable_notes(notes: str, gettext: Callable[[str], str], *, origin: str = "") -> str:
    """A task's notes for people: the codes the ACD and the outcomes write, translated.

    The notes keep codes (``[abandoned] waited 40 s (waiting)``, ``→ not_reached (Lan)``)
    so they read the same in any language; this turns each known one into words. A merged
    miss names its origin only when it differs from the task's own ``origin``."""
    out = []
    for line in notes.splitlines():
        match = _LINE.match(line)
        if match is None:  # pragma: no cover - the pattern accepts any line
            out.append(line)
            continue
        parts = [match["at"].strip()] if match["at"] else []
        if match["origin"] and match["origin"] != origin:
            parts.append(gettext(ORIGIN_LABELS.get(match["origin"], match["origin"])) + ":")
        if match["outcome"]:
            label = OUTCOME_LABELS.get(match["outcome"])
            parts.append("→ " + (gettext(label) if label else match["outcome"]) + match["rest"])
        else:
            parts.append(_readable_text(match["text"], gettext))
        out.append(" ".join(p for p in parts if p))
    return "\n".join(out)


def _readable_text(text: str, gettext: Callable[[str], str]) -> str:
    if text in CLOSED_REASON_LABELS:
        return gettext(CLOSED_REASON_LABELS[text])
    waited = _WAITED.match(text)
    if waited is not None:
        where = ABANDONED_WHILE_LABELS.get(waited["while"])
        phrase = gettext(N_("Hung up after %(seconds)s s")) % {"seconds": waited["seconds"]}
        return phrase + (" " + gettext(where) if where else "")
    if _VOICEMAIL.match(text):
        return gettext(N_("Voice message recorded"))
    return text


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
