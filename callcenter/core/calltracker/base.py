"""The tracker's state and the lookups every part of it shares.

Each concern (channels, offers, hangups, holds, transfers, CDRs, resync) is a class
that builds on this one, so they all work on the same dictionaries; the
:class:`~callcenter.core.calltracker.tracker.CallTracker` puts them together.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from callcenter.clock import Clock, SystemClock
from callcenter.core import call_events as ev
from callcenter.core.bus import EventBus
from callcenter.core.calltracker.model import Emit, _Call, _Channel


class TrackerBase:
    """Channels and calls by id, recently ended calls, and who is told about facts."""

    def __init__(
        self,
        emit: Emit | EventBus | None = None,
        *,
        clock: Clock | None = None,
        recent_limit: int = 2000,
    ) -> None:
        if isinstance(emit, EventBus):
            self._emit: Emit = emit.publish
        else:
            self._emit = emit or (lambda event: None)
        self._clock = clock or SystemClock()
        self._last_ts: datetime | None = None
        self._channels: dict[str, _Channel] = {}
        self._by_name: dict[str, str] = {}
        self._calls: dict[str, _Call] = {}
        self._recent: OrderedDict[str, _Call] = OrderedDict()
        self._recent_uids: OrderedDict[str, str] = OrderedDict()
        self._recent_limit = recent_limit
        #: ended calls whose CDRs may still arrive → when they are settled (oldest first)
        self._unsettled: OrderedDict[str, datetime] = OrderedDict()
        self._pending_originates: OrderedDict[str, tuple[str, bool, str, datetime]] = OrderedDict()
        self._outbound_actions: dict[str, None] = {}  # insertion order: oldest first

    # ------------------------------------------------------------------ queries
    @property
    def active_calls(self) -> dict[str, ev.CallRecord]:
        return {linkedid: call.record for linkedid, call in self._calls.items()}

    def get(self, linkedid: str) -> ev.CallRecord | None:
        """An active or recently ended call's record (the live object: copy before keeping)."""
        call = self._calls.get(linkedid) or self._recent.get(linkedid)
        return call.record if call else None

    @property
    def channel_count(self) -> int:
        return len(self._channels)

    def linkedid_of(self, uniqueid: str) -> str | None:
        """The call (``Linkedid``) a live channel belongs to: FastAGI names the channel that
        runs the dialplan (a Local channel's ``;2`` half), AMI events name the call."""
        channel = self._channels.get(uniqueid)
        return channel.linkedid if channel is not None else None

    def expect_originate(self, action_id: str) -> None:
        """Mark the call an Originate with this ActionID will create as outbound."""
        self._outbound_actions[action_id] = None
        if len(self._outbound_actions) > 10_000:  # responses that never came: oldest go
            del self._outbound_actions[next(iter(self._outbound_actions))]

    def _channel_call(self, uid: str) -> tuple[_Channel, _Call] | None:
        channel = self._channels.get(uid)
        if channel is None:
            return None
        call = self._calls.get(channel.linkedid)
        return (channel, call) if call else None

    def _forget_channel(self, uid: str) -> None:
        channel = self._channels.pop(uid, None)
        if channel is not None and self._by_name.get(channel.name) == uid:
            del self._by_name[channel.name]
