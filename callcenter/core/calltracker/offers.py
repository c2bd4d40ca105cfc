"""Offers: each agent leg dialled for a call (Dial or a queue), and how it ended."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from callcenter.core import call_events as ev
from callcenter.core.calltracker.channels import Channels
from callcenter.core.calltracker.model import _DIAL_OUTCOMES, _Call, _Channel, _value
from callcenter.core.interfaces import interface_of, local_partner_name
from callcenter.core.phones import caller_id_number


class Offers(Channels):
    # ------------------------------------------------------------------ offers
    def _offer(
        self, e: Mapping[str, Any], at: datetime, interface: str = "", queue: str = ""
    ) -> ev.AttemptRecord | None:
        source = self._channel_call(_value(e, "Uniqueid"))
        dest_uid = _value(e, "DestUniqueid")
        if source is None or not dest_uid:
            return None  # an Originate's own dial, or a channel we do not track
        call = source[1]
        self._forwarded_through(source[0], call, dialing=True)
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

    def _forwarded_through(self, channel: _Channel, call: _Call, *, dialing: bool) -> None:
        """A dialled Local channel whose other half answered and then dials (or joins a
        queue) is the caller's way in (call forwarding into the hotline), not an agent: its
        halves join the caller's side and its attempt, with any answer it gave, is undone,
        so the attempts, the answer and the agent come from the dials made beyond it."""
        attempt = channel.attempt
        if channel.role != "agent_partner" or attempt is None:
            return
        if dialing and attempt.outcome != "answered":
            return  # an agent's own Local leg ringing a phone (follow-me) stays an attempt
        record = call.record
        if attempt in record.attempts:
            record.attempts.remove(attempt)
        for uid in (attempt.uniqueid, self._by_name.get(local_partner_name(attempt.channel), "")):
            half = self._channels.get(uid)
            if half is not None and half.attempt is attempt:
                half.role, half.attempt = "caller_partner", None
        if call.current_agent == attempt.uniqueid:
            call.current_agent = ""
        if attempt.outcome == "answered" and not any(
            a.outcome == "answered" for a in record.attempts
        ):
            record.answered_at = None
            if record.direction != "outbound":
                record.agent_interface = ""

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
        self._forwarded_through(found[0], found[1], dialing=False)
        record = found[1].record
        record.queue = _value(e, "Queue")
        try:
            position = int(_value(e, "Position") or 0)
        except ValueError:
            position = 0
        self._emit(ev.CallQueued(record.linkedid, at, record.queue, position))
