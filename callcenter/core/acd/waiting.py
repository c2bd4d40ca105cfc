"""The waiting list: callers ordered by priority (open ticket / VIP first), then first
come, first served; positions, counters and who waited too long."""

from __future__ import annotations

from datetime import datetime

from callcenter.core.acd.base import AcdBase
from callcenter.core.acd.model import Call, CallPhase, WaitingCaller


class WaitingList(AcdBase):
    def overdue(self) -> list[Call]:
        """Waiting callers who reached their group's maximum wait (oldest first)."""
        now = self.clock.now()
        late: list[Call] = []
        for call in self.calls.values():  # ranked only if any is late (runs on every change)
            if call.phase is not CallPhase.WAITING:
                continue
            group = self.groups.get(call.group)
            if group is None or group.max_wait <= 0:
                continue
            if (now - self._wait_start(call)).total_seconds() >= group.max_wait:
                late.append(call)
        late.sort(key=self._waiting_rank)
        return late

    def waiting(self, group_code: str | None = None) -> list[WaitingCaller]:
        now = self.clock.now()
        return [
            WaitingCaller(
                call_id=call.id,
                group=call.group,
                caller=call.caller,
                channel=call.channel,
                priority=call.priority,
                enqueued_at=self._wait_start(call),
                waited_seconds=(now - self._wait_start(call)).total_seconds(),
            )
            for call in self._waiting(group_code)
        ]

    def position(self, call_id: str) -> int:
        call = self._call(call_id)
        for index, other in enumerate(self._waiting(call.group), start=1):
            if other.id == call_id:
                return index
        return 0

    def queue_counters(self) -> dict[str, dict[str, float]]:
        """Per group: callers waiting and the longest wait in seconds (for wallboards)."""
        counters: dict[str, dict[str, float]] = {
            code: {"waiting": 0, "longest_wait": 0.0} for code in self.groups
        }
        now = self.clock.now()
        for call in self.calls.values():  # counted, not ranked: this runs on every change
            if call.phase is not CallPhase.WAITING:
                continue
            entry = counters.setdefault(call.group, {"waiting": 0, "longest_wait": 0.0})
            entry["waiting"] += 1
            waited = (now - self._wait_start(call)).total_seconds()
            entry["longest_wait"] = max(entry["longest_wait"], waited)
        return counters

    def _wait_start(self, call: Call) -> datetime:
        return call.enqueued_at or call.arrived_at or self.clock.now()

    @staticmethod
    def _rank(call: Call) -> tuple[int, datetime | None, int]:
        return (-call.priority, call.enqueued_at or call.arrived_at, call.seq)

    def _waiting(self, group_code: str | None) -> list[Call]:
        calls = [
            call
            for call in self.calls.values()
            if call.phase is CallPhase.WAITING and (group_code is None or call.group == group_code)
        ]
        calls.sort(key=self._waiting_rank)
        return calls

    def _waiting_rank(self, call: Call) -> tuple[int, datetime, int]:
        return (-call.priority, self._wait_start(call), call.seq)

    def _enqueue(self, call: Call) -> None:
        if call.phase is not CallPhase.WAITING:
            call.phase = CallPhase.WAITING
            if call.enqueued_at is None:
                call.enqueued_at = call.arrived_at or self.clock.now()
