"""Channels appear and change: a new channel joins (or starts) its call; caller ID, state,
recording path; the response to an Originate, which may come before its channel."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from callcenter.core import call_events as ev
from callcenter.core.calltracker.base import TrackerBase
from callcenter.core.calltracker.model import _Call, _Channel, _value
from callcenter.core.interfaces import interface_of, local_partner_name
from callcenter.core.phones import caller_id_number

log = logging.getLogger(__name__)


class Channels(TrackerBase):
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

    def _on_newcallerid(self, e: Mapping[str, Any], at: datetime) -> None:
        """The caller ID set after the call started (a call entering through a Local channel
        gets it after both halves exist): keep it and say so, so a pop already built with
        an empty number is refreshed before the answer."""
        found = self._channel_call(_value(e, "Uniqueid"))
        if not found or found[0].role not in ("caller", "caller_partner"):
            return
        channel, call = found
        record = call.record
        number = caller_id_number(_value(e, "CallerIDNum"))
        name = _value(e, "CallerIDName")
        if channel.role == "caller_partner" and (record.caller_number or not number):
            return  # the caller's own half has the caller ID already
        if (number, name) == (record.caller_number, record.caller_name):
            return
        record.caller_number, record.caller_name = number, name
        self._emit(ev.CallerIdChanged(record.linkedid, at, number, name, channel.name))

    def _on_newstate(self, e: Mapping[str, Any], at: datetime) -> None:
        channel = self._channels.get(_value(e, "Uniqueid"))
        if channel is not None:
            channel.state = _value(e, "ChannelStateDesc")

    def _on_varset(self, e: Mapping[str, Any], at: datetime) -> None:
        variable = _value(e, "Variable")
        if variable == "CC_GROUP":
            self._on_route_group(e)
            return
        if variable != "MIXMONITOR_FILENAME":
            return
        path = _value(e, "Value")
        found = self._channel_call(_value(e, "Uniqueid"))
        if found and path and found[1].record.recording_path != path:
            record = found[1].record
            record.recording_path = path
            self._emit(ev.CallRecording(record.linkedid, at, path))

    def _on_route_group(self, e: Mapping[str, Any]) -> None:
        """The group the daemon routes the caller to (the hotline's, or the IVR menu's
        choice, which is set later and wins): reports count calls by it. Stored with the
        call's next fact (answer, hang-up), so no event of its own."""
        found = self._channel_call(_value(e, "Uniqueid"))
        group = _value(e, "Value")
        if found and group and found[0].role in ("caller", "caller_partner"):
            found[1].record.route_group = group

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
            ev.OriginateResult(action_id, uid, linkedid, success, reason, at),
        )
