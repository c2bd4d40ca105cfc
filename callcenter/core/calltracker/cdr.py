"""CDR reconciliation: Asterisk's own records checked against the tracker's, per ended call."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from callcenter.core import call_events as ev
from callcenter.core.calltracker.base import TrackerBase
from callcenter.core.calltracker.model import _Call, _value


class CdrCheck(TrackerBase):
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
        self._emit(ev.CdrMismatch(call.record.linkedid, name, theirs, ours, at))
