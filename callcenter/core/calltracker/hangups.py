"""Hangups: who ended the call, each channel that goes, and the call's end and disposition."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from callcenter.core import call_events as ev
from callcenter.core.calltracker.cdr import CdrCheck
from callcenter.core.calltracker.holds import Holds
from callcenter.core.calltracker.model import CDR_SETTLE, NORMAL_CAUSES, _Call, _Channel, _value
from callcenter.core.calltracker.offers import Offers


class Hangups(Offers, Holds, CdrCheck):
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
        self._emit(ev.CallEnded(record.linkedid, at, record.snapshot()))
