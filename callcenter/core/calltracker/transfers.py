"""Bridges and transfers: blind, attended (also a phone's own), and redirects seen as a
caller leaving the agent's bridge for another dialplan place."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from callcenter.core import call_events as ev
from callcenter.core.calltracker.hangups import Hangups
from callcenter.core.calltracker.model import _Call, _Channel, _value
from callcenter.core.interfaces import interface_of, local_partner_name


class Transfers(Hangups):
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
            ev.CallOffered(call.record.linkedid, at, interface, channel.name, channel.uniqueid,
                           "", call.record.caller_number, call.record.caller_channel),
        )  # fmt: skip
        self._close_attempt(call, attempt, "answered", at)
        if previous is not None and not previous.channels:
            self._end_call(previous, at)
