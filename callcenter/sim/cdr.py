"""CDRs as Asterisk 22's CDR engine posts them (``cdr.conf`` defaults), for what the
daemon checks: one chain of records per "party A" channel, split at each Dial/Queue.

Read off the production traces (``tests/sim/reference/production``):

* A channel that was dialled (the callee of Dial/Queue, the ``;1`` half of a dialled
  Local pair) is only ever party B: it posts no CDR of its own.
* A party A's first record starts when the channel is created. A Dial that ends without
  an answer closes the record there (``NO ANSWER``/``BUSY``, party B the callee); an
  answered one closes it when the bridge ends (``ANSWERED``, with the context and
  extension the channel is at then — a transfer's target). What follows starts a new
  record, but only once the channel runs another application (a caller who just hangs
  up in the bridge has no extra record).
* The last record ends at the hangup; its application is the last one run before the
  ``h`` extension.
* A channel that never answered posts nothing (``unanswered = no``).
* The whole chain is posted when the channel is destroyed, just before its Hangup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from callcenter.sim.channels import Channel

if TYPE_CHECKING:
    from callcenter.sim.pbx import Pbx

DISPOSITION = {"ANSWER": "ANSWERED", "BUSY": "BUSY", "CONGESTION": "FAILED"}


@dataclass
class Record:
    start: float
    party_b: str = ""
    app: str = ""
    data: str = ""
    context: str = ""
    exten: str = ""
    disposition: str = ""
    end: float | None = None


def _open(chan: Channel) -> Record | None:
    record: Record | None = chan.extra.get("cdr_open")
    return record


def mark_dialled(chan: Channel) -> None:
    """``chan`` was created by Dial/Queue for a callee: party B only."""
    chan.extra["cdr_party_b"] = True


def app_started(pbx: Pbx, chan: Channel) -> None:
    """A dialplan application runs on ``chan`` (outside ``h``): the open record (or a new
    one, after a closed one) names it."""
    if chan.extra.get("cdr_party_b") or chan.in_h:
        return
    record = _open(chan)
    if record is None:
        record = Record(start=chan.extra.get("cdr_since", chan.created))
        chan.extra["cdr_open"] = record
    record.app, record.data = chan.app, chan.appdata
    record.context, record.exten = chan.context, chan.exten


def _close(pbx: Pbx, chan: Channel, disposition: str, party_b: Channel | None) -> None:
    record = _open(chan)
    if record is None or chan.extra.get("cdr_party_b"):
        return
    if party_b is not None:
        record.party_b = party_b.name
    record.disposition = disposition
    record.context, record.exten = chan.context, chan.exten
    record.end = pbx.clock.monotonic()
    chan.extra.setdefault("cdr_done", []).append(record)
    chan.extra["cdr_open"] = None
    chan.extra["cdr_since"] = record.end


def dial_ended(pbx: Pbx, chan: Channel, callee: Channel, status: str) -> None:
    """Dial's DialEnd: an answer keeps the record open for the bridge; anything else
    closes it with that status."""
    record = _open(chan)
    if record is None:
        return
    if status == "ANSWER":
        record.party_b = callee.name
        return
    _close(pbx, chan, DISPOSITION.get(status, "NO ANSWER"), callee)


def bridge_ended(pbx: Pbx, chan: Channel) -> None:
    """The caller left the bridge of an answered Dial/Queue: that record is complete."""
    record = _open(chan)
    if record is not None and record.party_b:
        _close(pbx, chan, "ANSWERED", None)


def post(pbx: Pbx, chan: Channel) -> None:
    """The channel is being destroyed: close the open record and post the chain."""
    if chan.extra.get("cdr_party_b"):
        return
    record = _open(chan)
    if record is not None:
        app, data, context, exten = record.app, record.data, record.context, record.exten
        _close(pbx, chan, "ANSWERED" if chan.answered_at is not None else "NO ANSWER", None)
        record.app, record.data, record.context, record.exten = app, data, context, exten
    if chan.answered_at is None:
        return
    for done in chan.extra.get("cdr_done", []):
        _emit(pbx, chan, done)


def _emit(pbx: Pbx, chan: Channel, record: Record) -> None:
    now_wall, now = pbx.clock.now().timestamp(), pbx.clock.monotonic()
    end = record.end if record.end is not None else now
    answer = max(record.start, chan.answered_at or record.start)

    def wall(moment: float) -> str:
        return datetime.fromtimestamp(now_wall - (now - moment), UTC).strftime("%Y-%m-%d %H:%M:%S")

    pbx.emit(
        "Cdr",
        "cdr",
        [
            ("AccountCode", ""),
            ("Source", chan.cid_num),
            ("Destination", record.exten),
            ("DestinationContext", record.context),
            ("CallerID", f'"{chan.cid_name}" <{chan.cid_num}>' if chan.cid_num else ""),
            ("Channel", chan.name),
            ("DestinationChannel", record.party_b),
            ("LastApplication", record.app),
            ("LastData", record.data),
            ("StartTime", wall(record.start)),
            ("AnswerTime", wall(answer)),
            ("EndTime", wall(end)),
            ("Duration", str(int(end - record.start))),
            ("BillableSeconds", str(int(end - answer))),
            ("Disposition", record.disposition),
            ("AMAFlags", "DOCUMENTATION"),
            ("UniqueID", chan.uniqueid),
            ("UserField", ""),
        ],
    )
