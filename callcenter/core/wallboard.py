"""Today's call counters for the wallboard, and the KPI formulas they feed (pure).

The definitions are those of ``docs/kpi.md`` (the reports use the same):

* a call counts on the local day it **started** (a call across midnight belongs to the
  day it arrived), with its wait, talk, hold and wrap-up; only inbound calls whose
  disposition is ``answered``, ``abandoned`` or ``missed`` count (not ``failed``);
* wait = from the call's start at the hotline to the answer (the call record's
  ``wait_seconds``); for an unanswered call, until the caller is gone;
* an unanswered call (``abandoned`` or ``missed``) that waited less than
  ``short_abandon_seconds`` is a short abandon; otherwise it is abandoned;
* service level = answered within ``service_level_seconds`` (inclusive) ÷ (answered +
  abandoned); short abandons count in neither part;
* ASA = mean wait of answered calls;
* AHT = (talk + hold + wrap-up) of answered calls ÷ answered calls; a call's wrap-up runs
  from its end until the agent finished the after-call work.

The wallboard adds each call as it ends (and the day's earlier calls once, from the
database, at start-up); this module only sums, it never reads a clock. The board also
shows the calls still in progress as offered (the reports count finished calls only).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Finished calls that count (``failed``: the call never reached the hotline properly).
COUNTED_DISPOSITIONS = frozenset({"answered", "abandoned", "missed"})


@dataclass(frozen=True, slots=True)
class KpiThresholds:
    """The two configurable limits (system settings, seconds)."""

    service_level_seconds: float = 20.0
    short_abandon_seconds: float = 5.0


@dataclass(slots=True)
class DayTotals:
    """Sums over one local day's finished inbound calls and wrap-up periods."""

    offered: int = 0
    answered: int = 0
    answered_in_time: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    answered_wait_seconds: float = 0.0
    talk_seconds: float = 0.0
    hold_seconds: float = 0.0
    wrapup_seconds: float = 0.0

    def add_call(
        self,
        *,
        disposition: str,
        wait_seconds: float,
        talk_seconds: float,
        hold_seconds: float,
        thresholds: KpiThresholds,
    ) -> None:
        """One finished inbound call (disposition as the call tracker sets it)."""
        if disposition not in COUNTED_DISPOSITIONS:
            return
        self.offered += 1
        if disposition == "answered":
            self.answered += 1
            self.answered_wait_seconds += wait_seconds
            self.talk_seconds += talk_seconds
            self.hold_seconds += hold_seconds
            if wait_seconds <= thresholds.service_level_seconds:
                self.answered_in_time += 1
        elif wait_seconds < thresholds.short_abandon_seconds:
            self.short_abandoned += 1
        else:
            self.abandoned += 1

    def add_wrapup(self, seconds: float) -> None:
        self.wrapup_seconds += max(0.0, seconds)

    @property
    def service_level(self) -> float | None:
        """Percent (0–100), or None when no call counts yet."""
        counted = self.answered + self.abandoned
        if counted <= 0:
            return None
        return 100.0 * self.answered_in_time / counted

    @property
    def asa_seconds(self) -> float | None:
        return self.answered_wait_seconds / self.answered if self.answered else None

    @property
    def aht_seconds(self) -> float | None:
        if not self.answered:
            return None
        handled = self.talk_seconds + self.hold_seconds + self.wrapup_seconds
        return handled / self.answered

    def as_dict(self, *, live_calls: int = 0) -> dict[str, float | int | None]:
        """What the wallboard shows; ``live_calls`` (in progress) also count as offered."""

        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 1)

        return {
            "offered": self.offered + live_calls,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "short_abandoned": self.short_abandoned,
            "service_level": rounded(self.service_level),
            "asa_seconds": rounded(self.asa_seconds),
            "aht_seconds": rounded(self.aht_seconds),
        }


__all__ = ["COUNTED_DISPOSITIONS", "DayTotals", "KpiThresholds"]
