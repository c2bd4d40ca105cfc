"""Hold and park: the time a caller spends on hold, overlapping holds counted once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from callcenter.core import call_events as ev
from callcenter.core.calltracker.base import TrackerBase
from callcenter.core.calltracker.model import _Call, _value


class Holds(TrackerBase):
    # ------------------------------------------------------------------ hold / park
    def _start_hold(self, call: _Call, key: str, channel: str, at: datetime) -> None:
        if key in call.holds:
            return
        if not call.holds:
            call.hold_since = at  # overlapping holds (both legs, hold then park) count once
        call.holds[key] = at
        self._emit(ev.CallHold(call.record.linkedid, at, channel, True))

    def _end_hold(self, call: _Call, key: str, at: datetime, channel: str = "") -> None:
        started = call.holds.pop(key, None)
        if started is None and not key.startswith("park:"):
            key = "park:" + key
            started = call.holds.pop(key, None)
        if started is None:
            return
        if not call.holds and call.hold_since is not None:
            call.record.hold_seconds += max(0.0, (at - call.hold_since).total_seconds())
            call.hold_since = None
        self._emit(ev.CallHold(call.record.linkedid, at, channel, False))

    def _on_hold(self, e: Mapping[str, Any], at: datetime) -> None:
        found = self._channel_call(_value(e, "Uniqueid"))
        if found:
            self._start_hold(found[1], found[0].uniqueid, found[0].name, at)

    def _on_unhold(self, e: Mapping[str, Any], at: datetime) -> None:
        found = self._channel_call(_value(e, "Uniqueid"))
        if found:
            self._end_hold(found[1], found[0].uniqueid, at, found[0].name)

    def _on_parked(self, e: Mapping[str, Any], at: datetime) -> None:
        found = self._channel_call(_value(e, "ParkeeUniqueid"))
        if found:
            self._start_hold(found[1], "park:" + found[0].uniqueid, found[0].name, at)

    def _on_unparked(self, e: Mapping[str, Any], at: datetime) -> None:
        found = self._channel_call(_value(e, "ParkeeUniqueid"))
        if found:
            self._end_hold(found[1], "park:" + found[0].uniqueid, at, found[0].name)
