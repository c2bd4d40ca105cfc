"""The call tracker's front: which AMI event goes to which handler, and event times."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from callcenter.clock import Clock
from callcenter.core import call_events as ev
from callcenter.core.bus import EventBus
from callcenter.core.calltracker.model import Emit, _value
from callcenter.core.calltracker.resync import Resync
from callcenter.core.calltracker.transfers import Transfers

log = logging.getLogger(__name__)


class CallTracker(Transfers, Resync):
    """Feed it AMI events (mappings of header → value); it keeps calls and publishes facts."""

    def __init__(
        self,
        emit: Emit | EventBus | None = None,
        *,
        clock: Clock | None = None,
        recent_limit: int = 2000,
    ) -> None:
        super().__init__(emit, clock=clock, recent_limit=recent_limit)
        self._handlers: dict[str, Callable[[Mapping[str, Any], datetime], None]] = {
            "newchannel": self._on_newchannel,
            "newcallerid": self._on_newcallerid,
            "newstate": self._on_newstate,
            "varset": self._on_varset,
            "dialbegin": self._on_dialbegin,
            "dialend": self._on_dialend,
            "agentcalled": self._on_agentcalled,
            "agentconnect": self._on_agentconnect,
            "agentringnoanswer": self._on_agentringnoanswer,
            "agentcomplete": self._on_agentcomplete,
            "queuecallerjoin": self._on_queuecallerjoin,
            "hanguprequest": lambda e, t: self._on_hangup_request(e, t, soft=False),
            "softhanguprequest": lambda e, t: self._on_hangup_request(e, t, soft=True),
            "hangup": self._on_hangup,
            "hold": self._on_hold,
            "unhold": self._on_unhold,
            "parkedcall": self._on_parked,
            "unparkedcall": self._on_unparked,
            "parkedcallgiveup": self._on_unparked,
            "parkedcalltimeout": self._on_unparked,
            "bridgeenter": self._on_bridgeenter,
            "bridgeleave": self._on_bridgeleave,
            "blindtransfer": self._on_blindtransfer,
            "attendedtransfer": self._on_attendedtransfer,
            "originateresponse": self._on_originateresponse,
            "cdr": self._on_cdr,
            "devicestatechange": self._on_devicestate,
            "contactstatus": self._on_contactstatus,
        }

    # ------------------------------------------------------------------ input
    def feed(self, event: Mapping[str, Any]) -> None:
        """Apply one AMI event. Unknown events are ignored; a bad one is logged and skipped."""
        name = _value(event, "Event").lower()
        handler = self._handlers.get(name)
        if handler is None:
            return
        at = self._time_of(event)
        try:
            handler(event, at)
        except Exception:
            log.exception(
                "call tracker skipped a %s event it could not apply: %r",
                name,
                {k: event.get(k) for k in ("Channel", "Uniqueid", "Linkedid", "DestChannel")},
            )
        while self._unsettled:
            linkedid, settled_at = next(iter(self._unsettled.items()))
            if at < settled_at:
                break
            del self._unsettled[linkedid]
            if linkedid in self._recent:
                self._reconcile(self._recent[linkedid], settled=True)

    def feed_all(self, events: Iterable[Mapping[str, Any]]) -> None:
        for event in events:
            self.feed(event)

    def _time_of(self, event: Mapping[str, Any]) -> datetime:
        raw = _value(event, "Timestamp")
        if raw:
            try:
                at = datetime.fromtimestamp(float(raw), UTC)
            except (ValueError, OverflowError, OSError):
                log.warning("bad Timestamp header %r; using the last known time", raw)
            else:
                if self._last_ts is None or at > self._last_ts:
                    self._last_ts = at
                return at
        return self._last_ts or self._clock.now()

    # ------------------------------------------------------------------ devices
    def _on_devicestate(self, e: Mapping[str, Any], at: datetime) -> None:
        device = _value(e, "Device")
        if device:
            self._emit(
                ev.AgentDeviceState(device, _value(e, "State"), at, "DeviceStateChange"),
            )

    def _on_contactstatus(self, e: Mapping[str, Any], at: datetime) -> None:
        endpoint = _value(e, "EndpointName") or _value(e, "AOR")
        if endpoint:
            self._emit(
                ev.AgentDeviceState(
                    f"PJSIP/{endpoint}", _value(e, "ContactStatus"), at, "ContactStatus"
                ),
            )
