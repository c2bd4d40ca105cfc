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

One module per concern, each a class over the shared state of ``base.py``, layered
so each sees only what it uses: ``model`` (snapshots, per-channel and per-call
data), ``base`` (state, lookups, queries), ``channels`` (new channels, caller ID,
recording, originate responses), ``offers`` (agent legs dialled and how they
ended), ``holds`` (hold and park time), ``cdr`` (CDR reconciliation), ``hangups``
(who hung up, the call's end), ``transfers`` (bridges, blind/attended transfers,
redirects), ``resync`` (after a reconnect) and ``tracker`` (:class:`CallTracker`:
the event → handler table, event times). Import from this package.
"""

from callcenter.core.calltracker.model import (
    CDR_SETTLE,
    NORMAL_CAUSES,
    AsteriskSnapshot,
    ChannelSnapshot,
    Emit,
)
from callcenter.core.calltracker.tracker import CallTracker

__all__ = [
    "CDR_SETTLE",
    "NORMAL_CAUSES",
    "AsteriskSnapshot",
    "CallTracker",
    "ChannelSnapshot",
    "Emit",
]
