"""How simulated agents' phones behave when the PBX rings them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PhoneBehaviour:
    """One agent phone (a PJSIP endpoint such as ``PJSIP/101``).

    ``mode``: ``answer`` (after ``answer_delay`` seconds of ringing), ``no_answer``
    (rings until the Dial times out), ``busy`` (refuses at once, DIALSTATUS=BUSY) or
    ``unregistered`` (no contact: CHANUNAVAIL). ``talk_seconds`` is how long the
    agent stays on an answered call before hanging up (None: the caller ends it).
    """

    endpoint: str
    mode: str = "answer"
    answer_delay: float = 2.0
    talk_seconds: float | None = 20.0
    registered: bool = True
    #: when set, each ring draws the delay / talk time uniformly up to these values
    answer_delay_max: float | None = None
    talk_seconds_max: float | None = None
    #: share of rings left unanswered even in "answer" mode (a busy agent, a walk away)
    no_answer_ratio: float = 0.0
    #: the endpoint's dialplan context in pjsip.conf (agents' phones: "agents")
    context: str = "agents"

    def __post_init__(self) -> None:
        if self.mode not in ("answer", "no_answer", "busy", "unregistered"):
            raise ValueError(f"unknown phone mode {self.mode!r}")
        if self.mode == "unregistered":
            self.registered = False
