"""The call tracker: AMI events in, call records and domain events out. Pure logic, no I/O.

Asterisk reports channels; people care about calls. One call is every channel
sharing a ``Linkedid``: the caller's channel (``Uniqueid == Linkedid``), the
PBX half of a Local pair, each agent leg that was dialled, transfer targets.

Why it works on unordered streams: events of different calls interleave freely
and Asterisk keeps order only within one channel, so all state is keyed on
``Uniqueid``/``Linkedid`` and every handler tolerates facts that arrive "early"
from another channel (an ``OriginateResponse`` before its ``Newchannel`` or its
``Newstate Up`` is remembered and applied when the channel shows up). Nothing
is held back in a reorder buffer, so no published fact is delayed.

Times come from each event's ``Timestamp:`` header (``timestampevents = yes``);
only events without one (list replies) fall back to the last Asterisk time
seen, or the injected clock before any.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from callcenter.clock import Clock, SystemClock
from callcenter.core import call_events as ev
from callcenter.core.bus import EventBus
from callcenter.core.phones import caller_id_number

log = logging.getLogger(__name__)

Emit = Callable[[str, Any], None]

#: Hangup causes that mean "someone hung up" rather than "the network failed".
NORMAL_CAUSES = frozenset({0, 16, 17, 18, 19, 21, 31, 127})
_CHANNEL_SUFFIX = re.compile(r"^(?P<base>.+)-[0-9a-fA-F]{8}(?:;[12])?$")
_UNKNOWN = ("<unknown>", "<null>")
#: Asterisk's CDR engine dispatches a channel's records from its own thread when the channel
#: ends, so they may reach AMI just after the last Hangup; this much later they are all in.
CDR_SETTLE = timedelta(seconds=5)
_DIAL_OUTCOMES = {
    "ANSWER": "answered",
    "NOANSWER": "noanswer",
    "BUSY": "busy",
    "CONGESTION": "failed",
    "CHANUNAVAIL": "failed",
}


def interface_of(channel_name: str) -> str:
    """``PJSIP/101-0000002a`` → ``PJSIP/101``; ``Local/201@agents-0000001f;1`` → ``Local/201@agents``."""
    match = _CHANNEL_SUFFIX.match(channel_name)
    return match.group("base") if match else channel_name


def local_partner_name(channel_name: str) -> str:
    """The other half of a Local channel pair, or "" for any other technology."""
    if channel_name.startswith("Local/") and channel_name[-2:] in (";1", ";2"):
        return channel_name[:-1] + ("2" if channel_name.endswith("1") else "1")
    return ""


def _value(event: Mapping[str, Any], key: str) -> str:
    value = event.get(key, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    value = str(value) if value is not None else ""
    return "" if value in _UNKNOWN else value


@dataclass(slots=True)
class ChannelSnapshot:
    """One live channel as Asterisk lists it (CoreShowChannels / Status)."""

    uniqueid: str
    linkedid: str
    name: str
    state: str = ""
    context: str = ""
    exten: str = ""
    caller_number: str = ""
    caller_name: str = ""
    seconds: float = 0.0
    bridge: str = ""


@dataclass(slots=True)
class AsteriskSnapshot:
    """What Asterisk has right now, gathered after a (re)connect."""

    at: datetime
    channels: list[ChannelSnapshot] = field(default_factory=list)
    #: caller channel uniqueid → (queue, position)
    queue_entries: dict[str, tuple[str, int]] = field(default_factory=dict)


@dataclass(slots=True)
class _Channel:
    uniqueid: str
    name: str
    linkedid: str
    state: str = ""
    context: str = ""
    exten: str = ""
    role: str = "other"  # caller | caller_partner | agent | agent_partner | other
    attempt: ev.AttemptRecord | None = None


@dataclass(slots=True)
class _Call:
    record: ev.CallRecord
    channels: set[str] = field(default_factory=set)
    uniqueids: set[str] = field(default_factory=set)
    current_agent: str = ""  # uniqueid of the attempt now talking to the caller
    holds: dict[str, datetime] = field(default_factory=dict)
    hold_since: datetime | None = None
    bridge_place: dict[str, tuple[str, str]] = field(default_factory=dict)
    cdrs: list[dict[str, str]] = field(default_factory=list)
    #: caller-side channel (the caller, its Local partner) → [created, hung up]: the span
    #: each one's chain of CDRs must add up to
    spans: dict[str, list[datetime | None]] = field(default_factory=dict)
    originate_failed: bool = False
    caller_cause: str = ""
    flagged: set[str] = field(default_factory=set)


class CallTracker:
    """Feed it AMI events (mappings of header → value); it keeps calls and publishes facts."""

    def __init__(
        self,
        emit: Emit | EventBus | None = None,
        *,
        clock: Clock | None = None,
        recent_limit: int = 2000,
    ) -> None:
        if isinstance(emit, EventBus):
            bus = emit

            def publish(name: str, payload: Any) -> None:
                bus.publish(name, **ev.payload_data(payload))

            self._emit: Emit = publish
        else:
            self._emit = emit or (lambda name, payload: None)
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

    def expect_originate(self, action_id: str) -> None:
        """Mark the call an Originate with this ActionID will create as outbound."""
        self._outbound_actions[action_id] = None
        if len(self._outbound_actions) > 10_000:  # responses that never came: oldest go
            del self._outbound_actions[next(iter(self._outbound_actions))]

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

    # ------------------------------------------------------------------ channels
    def _register(
        self,
        uid: str,
        name: str,
        linkedid: str,
        at: datetime,
        state: str = "",
        context: str = "",
        exten: str = "",
        number: str = "",
        caller_name: str = "",
        seconds: float = 0.0,
    ) -> _Channel | None:
        if uid in self._channels:
            return self._channels[uid]
        if linkedid in self._recent:
            log.debug("channel %s joins ended call %s; ignored", name, linkedid)
            return None
        channel = _Channel(uid, name, linkedid, state, context, exten)
        call = self._calls.get(linkedid)
        if call is None:
            number = caller_id_number(number)
            record = ev.CallRecord(
                linkedid=linkedid,
                started_at=at - timedelta(seconds=seconds),
                caller_channel=name,
                caller_number=number,
                caller_name=caller_name,
                dialed_number="" if exten in ("", "s") else exten,
            )
            call = _Call(record)
            self._calls[linkedid] = call
            channel.role = "caller"
            pending = self._pending_originates.pop(uid, None)
            if pending is not None:
                self._apply_originate(call, *pending)
            self._emit(
                ev.CALL_STARTED,
                ev.CallStarted(
                    linkedid, record.started_at, number, caller_name, record.dialed_number, name
                ),
            )
        self._channels[uid] = channel
        self._by_name[name] = uid
        call.channels.add(uid)
        call.uniqueids.add(uid)
        partner_uid = self._by_name.get(local_partner_name(name), "")
        partner = self._channels.get(partner_uid)
        if partner is not None and partner.linkedid == linkedid:
            if partner.role == "caller":
                channel.role = "caller_partner"
            elif partner.role in ("agent", "agent_partner"):
                channel.role = "agent_partner"
                channel.attempt = partner.attempt
            elif channel.role == "caller":
                partner.role = "caller_partner"
        if channel.role in ("caller", "caller_partner") and seconds == 0.0:
            call.spans[uid] = [at, None]  # a channel found by a resync has no known start
        return channel

    def _on_newchannel(self, e: Mapping[str, Any], at: datetime) -> None:
        uid = _value(e, "Uniqueid")
        if not uid:
            return
        self._register(
            uid,
            _value(e, "Channel"),
            _value(e, "Linkedid") or uid,
            at,
            _value(e, "ChannelStateDesc"),
            _value(e, "Context"),
            _value(e, "Exten"),
            _value(e, "CallerIDNum"),
            _value(e, "CallerIDName"),
        )

    def _channel_call(self, uid: str) -> tuple[_Channel, _Call] | None:
        channel = self._channels.get(uid)
        if channel is None:
            return None
        call = self._calls.get(channel.linkedid)
        return (channel, call) if call else None

    def _on_newcallerid(self, e: Mapping[str, Any], at: datetime) -> None:
        found = self._channel_call(_value(e, "Uniqueid"))
        if found and found[0].role == "caller":
            found[1].record.caller_number = caller_id_number(_value(e, "CallerIDNum"))
            found[1].record.caller_name = _value(e, "CallerIDName")

    def _on_newstate(self, e: Mapping[str, Any], at: datetime) -> None:
        channel = self._channels.get(_value(e, "Uniqueid"))
        if channel is not None:
            channel.state = _value(e, "ChannelStateDesc")

    def _on_varset(self, e: Mapping[str, Any], at: datetime) -> None:
        if _value(e, "Variable") != "MIXMONITOR_FILENAME":
            return
        path = _value(e, "Value")
        found = self._channel_call(_value(e, "Uniqueid"))
        if found and path and found[1].record.recording_path != path:
            record = found[1].record
            record.recording_path = path
            self._emit(ev.CALL_RECORDING, ev.CallRecording(record.linkedid, at, path))

    # ------------------------------------------------------------------ offers
    def _offer(
        self, e: Mapping[str, Any], at: datetime, interface: str = "", queue: str = ""
    ) -> ev.AttemptRecord | None:
        source = self._channel_call(_value(e, "Uniqueid"))
        dest_uid = _value(e, "DestUniqueid")
        if source is None or not dest_uid:
            return None  # an Originate's own dial, or a channel we do not track
        call = source[1]
        dest = self._channels.get(dest_uid) or self._register(
            dest_uid,
            _value(e, "DestChannel"),
            _value(e, "DestLinkedid") or call.record.linkedid,
            at,
        )
        if dest is None or dest.role in ("caller", "caller_partner"):
            return None
        if dest.attempt is not None:
            if queue and not dest.attempt.queue:
                dest.attempt.queue = queue
            return dest.attempt
        attempt = ev.AttemptRecord(
            uniqueid=dest_uid,
            channel=dest.name,
            interface=interface or interface_of(dest.name),
            offered_at=at,
            queue=queue or call.record.queue,
        )
        dest.role, dest.attempt = "agent", attempt
        partner = self._channels.get(self._by_name.get(local_partner_name(dest.name), ""))
        if partner is not None:
            partner.role, partner.attempt = "agent_partner", attempt
        call.record.attempts.append(attempt)
        if call.record.direction == "outbound" and not call.record.dialed_number:
            # click-to-call: the agent's phone is the first channel; it dials the customer
            target = _value(e, "DialString") or _value(e, "DestExten")
            call.record.dialed_number = caller_id_number(target.rsplit("/", 1)[-1].split("@")[0])
        self._emit(
            ev.CALL_OFFERED,
            ev.CallOffered(
                call.record.linkedid,
                at,
                attempt.interface,
                dest.name,
                dest_uid,
                attempt.queue,
                call.record.caller_number,
                call.record.caller_channel,
            ),
        )
        return attempt

    def _on_dialbegin(self, e: Mapping[str, Any], at: datetime) -> None:
        self._offer(e, at)

    def _on_agentcalled(self, e: Mapping[str, Any], at: datetime) -> None:
        self._offer(e, at, interface=_value(e, "Interface"), queue=_value(e, "Queue"))

    def _attempt_of(self, e: Mapping[str, Any]) -> tuple[ev.AttemptRecord, _Call] | None:
        dest = self._channels.get(_value(e, "DestUniqueid"))
        if dest is None or dest.attempt is None:
            return None
        call = self._calls.get(dest.linkedid)
        return (dest.attempt, call) if call else None

    def _close_attempt(
        self, call: _Call, attempt: ev.AttemptRecord, outcome: str, at: datetime
    ) -> None:
        if attempt.outcome != "ringing":
            return
        if outcome == "answered":
            attempt.outcome, attempt.answered_at = "answered", at
            record = call.record
            if record.answered_at is None:
                record.answered_at = at
                if record.direction != "outbound":  # click-to-call: the clicker's phone
                    record.agent_interface = attempt.interface
            if not call.current_agent:
                call.current_agent = attempt.uniqueid
            self._emit(
                ev.CALL_ANSWERED,
                ev.CallAnswered(
                    record.linkedid,
                    at,
                    attempt.interface,
                    attempt.uniqueid,
                    (at - record.started_at).total_seconds(),
                    record.caller_number,
                    attempt.channel,
                    record.caller_channel,
                ),
            )
        else:
            attempt.outcome, attempt.ended_at = outcome, at
        self._emit(
            ev.CALL_OFFER_ENDED,
            ev.CallOfferEnded(
                call.record.linkedid, at, attempt.interface, attempt.uniqueid, attempt.outcome
            ),
        )

    def _on_dialend(self, e: Mapping[str, Any], at: datetime) -> None:
        found = self._attempt_of(e)
        if found is None:
            return
        attempt, call = found
        status = _value(e, "DialStatus")
        if status == "CANCEL":
            outcome = "caller_gone" if call.record.hangup_by == "caller" else "cancelled"
        else:
            outcome = _DIAL_OUTCOMES.get(status, "failed")
        self._close_attempt(call, attempt, outcome, at)

    def _on_agentconnect(self, e: Mapping[str, Any], at: datetime) -> None:
        found = self._attempt_of(e)
        if found:
            self._close_attempt(found[1], found[0], "answered", at)

    def _on_agentringnoanswer(self, e: Mapping[str, Any], at: datetime) -> None:
        found = self._attempt_of(e)
        if found:
            self._close_attempt(found[1], found[0], "noanswer", at)

    def _on_agentcomplete(self, e: Mapping[str, Any], at: datetime) -> None:
        found = self._channel_call(_value(e, "Uniqueid"))
        reason = _value(e, "Reason")
        if found and not found[1].record.hangup_by and reason in ("caller", "agent"):
            found[1].record.hangup_by = reason

    def _on_queuecallerjoin(self, e: Mapping[str, Any], at: datetime) -> None:
        found = self._channel_call(_value(e, "Uniqueid"))
        if found is None:
            return
        record = found[1].record
        record.queue = _value(e, "Queue")
        try:
            position = int(_value(e, "Position") or 0)
        except ValueError:
            position = 0
        self._emit(ev.CALL_QUEUED, ev.CallQueued(record.linkedid, at, record.queue, position))

    # ------------------------------------------------------------------ hangups
    def _blame(self, channel: _Channel, call: _Call, soft: bool) -> str:
        """Who ended the call, judged from the first hangup signal on a channel that matters."""
        if channel.role == "caller":
            # A Local ;1 caller is a dialplan playing the caller: its own Hangup() is the caller's.
            if not soft or channel.name.endswith(";1"):
                return "caller"
            return "system"
        if channel.role == "caller_partner":
            return "system" if soft else "caller"
        if (
            channel.role in ("agent", "agent_partner")
            and channel.attempt is not None
            and channel.attempt.uniqueid == call.current_agent
        ):
            return "agent"
        return ""

    def _on_hangup_request(self, e: Mapping[str, Any], at: datetime, *, soft: bool) -> None:
        found = self._channel_call(_value(e, "Uniqueid"))
        if found is None:
            return
        channel, call = found
        if not call.record.hangup_by:
            call.record.hangup_by = self._blame(channel, call, soft)

    def _on_hangup(self, e: Mapping[str, Any], at: datetime) -> None:
        uid = _value(e, "Uniqueid")
        found = self._channel_call(uid)
        if found is None:
            self._forget_channel(uid)
            return
        channel, call = found
        if not call.record.hangup_by:
            call.record.hangup_by = self._blame(channel, call, soft=False)
        cause = _value(e, "Cause")
        text = _value(e, "Cause-txt")
        if channel.role == "caller" or not call.caller_cause:
            call.caller_cause = cause
            call.record.hangup_cause = f"{cause} {text}".strip()[:40]
        self._channel_gone(channel, call, at, cause)

    def _forget_channel(self, uid: str) -> None:
        channel = self._channels.pop(uid, None)
        if channel is not None and self._by_name.get(channel.name) == uid:
            del self._by_name[channel.name]

    def _channel_gone(self, channel: _Channel, call: _Call, at: datetime, cause: str) -> None:
        self._end_hold(call, channel.uniqueid, at, channel.name)
        if channel.uniqueid in call.spans:
            call.spans[channel.uniqueid][1] = at
        attempt = channel.attempt
        if attempt is not None:
            if attempt.outcome == "ringing":
                code = int(cause) if cause.isdigit() else 0
                outcome = {17: "busy", 21: "rejected", 18: "noanswer", 19: "noanswer"}.get(
                    code, "caller_gone" if call.record.hangup_by == "caller" else "failed"
                )
                self._close_attempt(call, attempt, outcome, at)
            elif attempt.ended_at is None:
                attempt.ended_at = at
            if attempt.uniqueid == call.current_agent:
                call.current_agent = ""
        self._forget_channel(channel.uniqueid)
        call.channels.discard(channel.uniqueid)
        if not call.channels:
            self._end_call(call, at)

    def _end_call(self, call: _Call, at: datetime, *, estimated: bool = False) -> None:
        record = call.record
        record.ended_at = at
        record.end_estimated = estimated
        for uid in list(call.holds):
            self._end_hold(call, uid, at)
        for attempt in record.attempts:
            if attempt.outcome == "ringing":
                gone = "caller_gone" if record.hangup_by == "caller" else "cancelled"
                self._close_attempt(call, attempt, gone, at)
            elif attempt.ended_at is None:
                attempt.ended_at = at
        if not record.hangup_by:
            record.hangup_by = "unknown" if estimated else "system"
        cause = int(call.caller_cause) if call.caller_cause.isdigit() else 0
        if record.answered_at is not None:
            record.disposition = "answered"
        elif call.originate_failed or cause not in NORMAL_CAUSES:
            record.disposition = "failed"
        elif record.hangup_by in ("caller", "unknown"):
            record.disposition = "abandoned"
        else:
            record.disposition = "missed"
        del self._calls[record.linkedid]
        self._recent[record.linkedid] = call
        for uid in call.uniqueids:
            self._recent_uids[uid] = record.linkedid
        while len(self._recent) > self._recent_limit:
            self._recent.popitem(last=False)
        while len(self._recent_uids) > self._recent_limit * 8:
            self._recent_uids.popitem(last=False)
        self._reconcile(call)
        if not estimated:
            self._unsettled[record.linkedid] = at + CDR_SETTLE
            while len(self._unsettled) > self._recent_limit:
                self._unsettled.popitem(last=False)
        self._emit(ev.CALL_ENDED, ev.CallEnded(record.linkedid, at, record.snapshot()))

    # ------------------------------------------------------------------ hold / park
    def _start_hold(self, call: _Call, key: str, channel: str, at: datetime) -> None:
        if key in call.holds:
            return
        if not call.holds:
            call.hold_since = at  # overlapping holds (both legs, hold then park) count once
        call.holds[key] = at
        self._emit(ev.CALL_HOLD, ev.CallHold(call.record.linkedid, at, channel, True))

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
        self._emit(ev.CALL_HOLD, ev.CallHold(call.record.linkedid, at, channel, False))

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

    # ------------------------------------------------------------------ bridges / transfers
    def _on_bridgeenter(self, e: Mapping[str, Any], at: datetime) -> None:
        found = self._channel_call(_value(e, "Uniqueid"))
        if found:
            found[1].bridge_place[found[0].uniqueid] = (_value(e, "Context"), _value(e, "Exten"))

    def _on_bridgeleave(self, e: Mapping[str, Any], at: datetime) -> None:
        found = self._channel_call(_value(e, "Uniqueid"))
        if found is None:
            return
        channel, call = found
        before = call.bridge_place.pop(channel.uniqueid, None)
        place = (_value(e, "Context"), _value(e, "Exten"))
        if (
            channel.role in ("caller", "caller_partner")
            and call.current_agent
            and before is not None
            and place != before
        ):
            # The caller's side left the agent for another dialplan place without a
            # BlindTransfer/AttendedTransfer event: an AMI Redirect (or a dialplan goto).
            self._transfer(call, "redirect", f"{place[1]}@{place[0]}", at)

    def _agent_interface(self, call: _Call) -> str:
        channel = self._channels.get(call.current_agent)
        if channel is not None and channel.attempt is not None:
            return channel.attempt.interface
        for attempt in call.record.attempts:
            if attempt.uniqueid == call.current_agent:
                return attempt.interface
        return ""

    def _transfer(self, call: _Call, kind: str, to: str, at: datetime, source: str = "") -> None:
        from_interface = source or self._agent_interface(call)
        call.record.transfers.append(ev.TransferRecord(kind, at, from_interface, to))
        call.current_agent = ""
        self._emit(
            ev.CALL_TRANSFERRED,
            ev.CallTransferred(call.record.linkedid, at, kind, from_interface, to),
        )

    def _interface_of_uid(self, uid: str, name: str) -> str:
        channel = self._channels.get(uid)
        if channel is not None and channel.attempt is not None:
            return channel.attempt.interface
        return interface_of(name) if name else ""

    def _on_blindtransfer(self, e: Mapping[str, Any], at: datetime) -> None:
        if _value(e, "Result") != "Success":
            return
        linkedid = _value(e, "TransfereeLinkedid") or _value(e, "TransfererLinkedid")
        call = self._calls.get(linkedid)
        if call is None:
            return
        source = self._interface_of_uid(
            _value(e, "TransfererUniqueid"), _value(e, "TransfererChannel")
        )
        to = f"{_value(e, 'Extension')}@{_value(e, 'Context')}"
        self._transfer(call, "blind", to, at, source)

    def _on_attendedtransfer(self, e: Mapping[str, Any], at: datetime) -> None:
        if _value(e, "Result") != "Success":
            return
        linkedid = _value(e, "TransfereeLinkedid") or _value(e, "OrigTransfererLinkedid")
        call = self._calls.get(linkedid)
        if call is None:
            return
        transferer_uid = _value(e, "OrigTransfererUniqueid")
        source = self._interface_of_uid(transferer_uid, _value(e, "OrigTransfererChannel"))
        transferer = self._channels.get(transferer_uid)
        old = transferer.attempt.uniqueid if transferer and transferer.attempt else ""
        target = next(
            (
                a
                for a in reversed(call.record.attempts)
                if a.outcome == "answered" and a.ended_at is None and a.uniqueid != old
            ),
            None,
        )
        outside = self._channels.get(_value(e, "TransferTargetUniqueid"))
        if target is None and outside is not None and outside.linkedid != linkedid:
            # A phone's own transfer: the consultation was a separate call (its own
            # Linkedid). Its target now talks to our caller: adopt that leg.
            interface = outside.attempt.interface if outside.attempt else interface_of(outside.name)
            self._transfer(call, "attended", interface, at, source)
            self._adopt(call, outside, interface, at)
            return
        to = (
            target.interface
            if target
            else f"{_value(e, 'TransferTargetExten')}@{_value(e, 'TransferTargetContext')}"
        )
        self._transfer(call, "attended", to, at, source)
        if target is not None:
            call.current_agent = target.uniqueid

    def _adopt(self, call: _Call, channel: _Channel, interface: str, at: datetime) -> None:
        """Move a channel (and its Local partner) from another call into ``call`` as the
        leg of an agent who now talks to the caller."""
        moving = [channel]
        partner = self._channels.get(self._by_name.get(local_partner_name(channel.name), ""))
        if partner is not None and partner.linkedid == channel.linkedid:
            moving.append(partner)
        previous = self._calls.get(channel.linkedid)
        attempt = ev.AttemptRecord(channel.uniqueid, channel.name, interface, at)
        for leg in moving:
            if previous is not None:
                previous.channels.discard(leg.uniqueid)
            leg.linkedid = call.record.linkedid
            leg.role = "agent" if leg is channel else "agent_partner"
            leg.attempt = attempt
            call.channels.add(leg.uniqueid)
            call.uniqueids.add(leg.uniqueid)
        call.record.attempts.append(attempt)
        self._emit(
            ev.CALL_OFFERED,
            ev.CallOffered(call.record.linkedid, at, interface, channel.name, channel.uniqueid,
                           "", call.record.caller_number, call.record.caller_channel),
        )  # fmt: skip
        self._close_attempt(call, attempt, "answered", at)
        if previous is not None and not previous.channels:
            self._end_call(previous, at)

    # ------------------------------------------------------------------ originate
    def _apply_originate(
        self, call: _Call, action_id: str, success: bool, reason: str, at: datetime
    ) -> None:
        call.record.originate_action_id = action_id
        if action_id in self._outbound_actions:
            del self._outbound_actions[action_id]
            call.record.direction = "outbound"
            # Click-to-call rings the agent's phone first: that channel is the call's first,
            # and the agent who clicked is the one the call is credited to (not the trunk).
            call.record.agent_interface = interface_of(call.record.caller_channel)
            if not call.record.attempts:  # the phone's own exten (Local/101@…), not the customer
                call.record.dialed_number = ""
        if not success:
            call.originate_failed = True

    def _on_originateresponse(self, e: Mapping[str, Any], at: datetime) -> None:
        action_id = _value(e, "ActionID")
        uid = _value(e, "Uniqueid")
        success = _value(e, "Response") == "Success"
        reason = _value(e, "Reason")
        linkedid = ""
        found = self._channel_call(uid) if uid else None
        if found is not None:
            linkedid = found[1].record.linkedid
            self._apply_originate(found[1], action_id, success, reason, at)
        elif uid:
            # The race seen on real Asterisk: the response can precede the channel's events.
            self._pending_originates[uid] = (action_id, success, reason, at)
            while len(self._pending_originates) > 1000:
                self._pending_originates.popitem(last=False)
        else:
            self._outbound_actions.pop(action_id, None)  # failed before any channel existed
        self._emit(
            ev.ORIGINATE_RESULT,
            ev.OriginateResult(action_id, uid, linkedid, success, reason, at),
        )

    # ------------------------------------------------------------------ devices
    def _on_devicestate(self, e: Mapping[str, Any], at: datetime) -> None:
        device = _value(e, "Device")
        if device:
            self._emit(
                ev.AGENT_DEVICE_STATE,
                ev.AgentDeviceState(device, _value(e, "State"), at, "DeviceStateChange"),
            )

    def _on_contactstatus(self, e: Mapping[str, Any], at: datetime) -> None:
        endpoint = _value(e, "EndpointName") or _value(e, "AOR")
        if endpoint:
            self._emit(
                ev.AGENT_DEVICE_STATE,
                ev.AgentDeviceState(
                    f"PJSIP/{endpoint}", _value(e, "ContactStatus"), at, "ContactStatus"
                ),
            )

    # ------------------------------------------------------------------ CDR reconciliation
    def _on_cdr(self, e: Mapping[str, Any], at: datetime) -> None:
        uid = _value(e, "UniqueID")
        cdr = {
            key: _value(e, key)
            for key in ("UniqueID", "Channel", "DestinationChannel", "Disposition", "Duration")
        }
        channel = self._channels.get(uid)
        if channel is not None and channel.linkedid in self._calls:
            self._calls[channel.linkedid].cdrs.append(cdr)
            return
        linkedid = self._recent_uids.get(uid, "")
        call = self._recent.get(linkedid)
        if call is not None:
            call.cdrs.append(cdr)
            self._reconcile(call)

    def _reconcile(self, call: _Call, *, settled: bool = False) -> None:
        """Compare Asterisk's CDRs with the record; each disagreeing field is reported once.

        Per leg, as each CDR comes: a dialled agent's answered or not. Per caller-side
        channel, the durations of its chain of CDRs (one per Dial attempt, then one for
        what followed) against the channel's life: a chain longer than the life is wrong
        at once; a shorter one may still be arriving (a call re-routed after no answer has
        several), so it is reported only once ``settled`` (``CDR_SETTLE`` after the end).
        """
        record = call.record
        at = record.ended_at or self._last_ts or self._clock.now()
        attempts = {a.channel: a for a in record.attempts}
        chains: dict[str, list[int]] = {}
        for cdr in call.cdrs:
            attempt = attempts.get(cdr["DestinationChannel"])
            if attempt is not None and attempt.outcome != "ringing":
                ours = attempt.outcome == "answered"
                theirs = cdr["Disposition"] == "ANSWERED"
                if ours != theirs:
                    self._mismatch(
                        call,
                        f"answered:{attempt.uniqueid}",
                        "answered",
                        cdr["Disposition"],
                        attempt.outcome,
                        at,
                    )
            if cdr["UniqueID"] in call.spans:
                seconds = int(cdr["Duration"]) if cdr["Duration"].isdigit() else 0
                chains.setdefault(cdr["UniqueID"], []).append(seconds)
        if record.ended_at is None or record.end_estimated:
            return
        for uid, durations in chains.items():
            start, end = call.spans[uid]
            if start is None or end is None:
                continue
            ours_s = (end - start).total_seconds()
            chain_s = sum(durations)
            slack = 1.0 + len(durations)  # each Duration is truncated to whole seconds
            if chain_s > ours_s + slack or (settled and chain_s < ours_s - slack):
                self._mismatch(call, "duration", "duration", str(chain_s), f"{ours_s:.1f}", at)

    def _mismatch(
        self, call: _Call, key: str, name: str, theirs: str, ours: str, at: datetime
    ) -> None:
        if key in call.flagged:
            return
        call.flagged.add(key)
        self._emit(ev.CDR_MISMATCH, ev.CdrMismatch(call.record.linkedid, name, theirs, ours, at))

    # ------------------------------------------------------------------ resynchronisation
    def resync(self, snapshot: AsteriskSnapshot) -> None:
        """Make the tracker's live state equal Asterisk's after a (re)connect.

        Channels we knew that Asterisk no longer has hung up while we were away:
        their calls end at ``snapshot.at`` (marked ``end_estimated``). Channels we
        never saw become calls/attempts as best the listing allows.
        """
        at = snapshot.at
        live = {c.uniqueid: c for c in snapshot.channels if c.uniqueid}
        for uid in [u for u in self._channels if u not in live]:
            found = self._channel_call(uid)
            if found is None:
                self._forget_channel(uid)
                continue
            channel, call = found
            if not call.record.hangup_by and call.channels == {uid}:
                call.record.hangup_by = "unknown"
            self._end_hold(call, uid, at)
            attempt = channel.attempt
            if attempt is not None and attempt.outcome == "ringing":
                self._close_attempt(call, attempt, "cancelled", at)
            elif attempt is not None and attempt.ended_at is None:
                attempt.ended_at = at
            if attempt is not None and attempt.uniqueid == call.current_agent:
                call.current_agent = ""
            self._forget_channel(uid)
            call.channels.discard(uid)
            if not call.channels:
                self._end_call(call, at, estimated=True)
        by_name = {c.name: c for c in live.values()}
        # New channels: callers first (uniqueid == linkedid), then the oldest first.
        ordered = sorted(
            (c for c in live.values() if c.uniqueid not in self._channels),
            key=lambda c: (c.uniqueid != c.linkedid, -c.seconds),
        )
        for snap in ordered:
            known = self._register(
                snap.uniqueid,
                snap.name,
                snap.linkedid or snap.uniqueid,
                at,
                snap.state,
                snap.context,
                snap.exten,
                snap.caller_number,
                snap.caller_name,
                snap.seconds,
            )
            if known is None:
                continue
            call = self._calls[known.linkedid]
            if known.role == "caller" and not call.record.dialed_number:
                partner = by_name.get(local_partner_name(snap.name))
                if partner is not None and partner.exten not in ("", "s"):
                    call.record.dialed_number = partner.exten
            if known.role == "other" and not snap.name.endswith(";2"):
                attempt = ev.AttemptRecord(
                    uniqueid=snap.uniqueid,
                    channel=snap.name,
                    interface=interface_of(snap.name),
                    offered_at=at - timedelta(seconds=snap.seconds),
                    queue=call.record.queue,
                )
                known.role, known.attempt = "agent", attempt
                partner_uid = self._by_name.get(local_partner_name(snap.name), "")
                if partner_uid in self._channels:
                    self._channels[partner_uid].role = "agent_partner"
                    self._channels[partner_uid].attempt = attempt
                call.record.attempts.append(attempt)
        # Answers and queue positions that happened while we were away.
        caller_bridges: dict[str, set[str]] = {}
        for snap in live.values():
            side = self._channels.get(snap.uniqueid)
            if side is not None and side.role in ("caller", "caller_partner") and snap.bridge:
                caller_bridges.setdefault(side.linkedid, set()).add(snap.bridge)
        for snap in live.values():
            leg = self._channels.get(snap.uniqueid)
            if leg is None or leg.attempt is None:
                continue
            leg.state = snap.state or leg.state
            leg_call = self._calls.get(leg.linkedid)
            if (
                leg_call is not None
                and leg.attempt.outcome == "ringing"
                and snap.bridge
                and snap.bridge in caller_bridges.get(leg.linkedid, set())
            ):
                self._close_attempt(leg_call, leg.attempt, "answered", at)
        for uid, (queue, _position) in snapshot.queue_entries.items():
            found = self._channel_call(uid)
            if found and not found[1].record.queue:
                found[1].record.queue = queue
