"""Resynchronisation: make the tracker's live state equal Asterisk's after a (re)connect."""

from __future__ import annotations

from datetime import timedelta

from callcenter.core import call_events as ev
from callcenter.core.calltracker.hangups import Hangups
from callcenter.core.calltracker.model import AsteriskSnapshot
from callcenter.core.interfaces import interface_of, local_partner_name


class Resync(Hangups):
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
        self._emit(ev.CallsResynced(frozenset(self._calls), at))
