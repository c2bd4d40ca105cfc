"""Tracker cases the recorded traces do not contain, built as synthetic AMI events.

Header names and values follow Asterisk 22's event documentation and the shape of
the recorded traces (Uniqueid/Linkedid, Timestamp as epoch.micro).
"""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.core import call_events as ev
from callcenter.core.calltracker import CallTracker

T0 = 1795500000.0


def e(name: str, t: float, **headers: str) -> dict[str, str]:
    return {"Event": name, "Timestamp": f"{T0 + t:.6f}", **headers}


def chan(name: str, uid: str, linkedid: str, **more: str) -> dict[str, str]:
    return {"Channel": name, "Uniqueid": uid, "Linkedid": linkedid, **more}


def run(stream: list[dict[str, str]], tracker: CallTracker | None = None) -> list[tuple[type, Any]]:
    out: list[tuple[type, Any]] = []
    tracker = tracker or CallTracker()
    tracker._emit = lambda payload: out.append((type(payload), payload))
    tracker.feed_all(stream)
    return out


def ended(out: list[tuple[type, Any]]) -> ev.CallRecord:
    records = [p.record for name, p in out if name == ev.CallEnded]
    assert len(records) == 1
    return records[0]


CALLER = chan("PJSIP/trunk-00000001", "1.1", "1.1")
AGENT = chan("PJSIP/101-00000002", "1.2", "1.1")


def answered_call(extra: list[dict[str, str]], end_at: float = 60) -> list[dict[str, str]]:
    return [
        e("Newchannel", 0, **CALLER, CallerIDNum="0912345678", CallerIDName="Nguyễn Văn A",
          Exten="19006868", Context="from-trunk"),
        e("Newchannel", 1, **AGENT, Exten="s"),
        e("DialBegin", 1, **CALLER, DestChannel=AGENT["Channel"], DestUniqueid="1.2",
          DestLinkedid="1.1", DialString="101"),
        e("DialEnd", 5, **CALLER, DestChannel=AGENT["Channel"], DestUniqueid="1.2",
          DestLinkedid="1.1", DialStatus="ANSWER"),
        *extra,
        e("HangupRequest", end_at, **AGENT, Cause="16"),
        e("Hangup", end_at, **AGENT, Cause="16", **{"Cause-txt": "Normal Clearing"}),
        e("Hangup", end_at + 0.1, **CALLER, Cause="16", **{"Cause-txt": "Normal Clearing"}),
    ]  # fmt: skip


def test_park_and_hold_count_as_hold_time_and_overlaps_count_once() -> None:
    out = run(answered_call([
        e("Hold", 10, **AGENT),
        e("ParkedCall", 12, ParkeeChannel=CALLER["Channel"], ParkeeUniqueid="1.1",
          ParkeeLinkedid="1.1", ParkingSpace="701"),
        e("Unhold", 15, **AGENT),
        e("UnParkedCall", 20, ParkeeChannel=CALLER["Channel"], ParkeeUniqueid="1.1"),
        e("Hold", 30, **AGENT),
        e("Unhold", 35, **AGENT),
    ]))  # fmt: skip
    record = ended(out)
    assert record.hold_seconds == pytest.approx(15.0)  # 10→20 (hold, then park) + 30→35
    assert record.talk_seconds == pytest.approx(
        60.1 - 5.0 - 15.0, abs=0.01
    )  # end is the last hangup
    assert record.hangup_by == "agent" and record.agent_interface == "PJSIP/101"
    assert record.caller_name == "Nguyễn Văn A" and record.dialed_number == "19006868"


def test_busy_and_rejected_offers_then_missed() -> None:
    third = chan("PJSIP/103-00000004", "1.4", "1.1")
    second = chan("PJSIP/102-00000003", "1.3", "1.1")
    out = run([
        e("Newchannel", 0, **CALLER, CallerIDNum="0912345678", Exten="19006868"),
        e("Newchannel", 1, **second),
        e("DialBegin", 1, **CALLER, DestChannel=second["Channel"], DestUniqueid="1.3"),
        e("DialEnd", 2, **CALLER, DestChannel=second["Channel"], DestUniqueid="1.3", DialStatus="BUSY"),
        e("Hangup", 2, **second, Cause="17"),
        e("Newchannel", 3, **third),
        e("DialBegin", 3, **CALLER, DestChannel=third["Channel"], DestUniqueid="1.4"),
        e("Hangup", 4, **third, Cause="21", **{"Cause-txt": "Call Rejected"}),
        e("SoftHangupRequest", 9, **CALLER, Cause="16"),
        e("Hangup", 9, **CALLER, Cause="16"),
    ])  # fmt: skip
    record = ended(out)
    assert [(a.interface, a.outcome) for a in record.attempts] == [
        ("PJSIP/102", "busy"), ("PJSIP/103", "rejected"),
    ]  # fmt: skip
    assert record.disposition == "missed" and record.hangup_by == "system"


def test_network_failure_is_failed() -> None:
    out = run([
        e("Newchannel", 0, **CALLER, CallerIDNum="0912345678", Exten="19006868"),
        e("Hangup", 1, **CALLER, Cause="38", **{"Cause-txt": "Network out of order"}),
    ])  # fmt: skip
    record = ended(out)
    assert record.disposition == "failed" and record.hangup_cause == "38 Network out of order"


def test_click_to_call_is_outbound_and_knows_the_number_dialled() -> None:
    tracker = CallTracker()
    tracker.expect_originate("cc-originate-1")
    phone = chan("PJSIP/101-00000010", "2.1", "2.1")
    trunk = chan("PJSIP/trunk-00000011", "2.2", "2.1")
    out = run([
        # the response races ahead of the agent phone's channel
        e("OriginateResponse", 0, Response="Success", ActionID="cc-originate-1",
          Uniqueid="2.1", Channel=phone["Channel"], Reason="4"),
        e("Newchannel", 0, **phone, Exten="s", CallerIDNum="101"),
        e("Newchannel", 1, **trunk),
        e("DialBegin", 1, **phone, DestChannel=trunk["Channel"], DestUniqueid="2.2",
          DialString="trunk/0912345678"),
        e("DialEnd", 6, **phone, DestChannel=trunk["Channel"], DestUniqueid="2.2",
          DialStatus="ANSWER"),
        e("HangupRequest", 30, **phone, Cause="16"),
        e("Hangup", 30, **phone, Cause="16"),
        e("Hangup", 30.1, **trunk, Cause="16"),
    ], tracker)  # fmt: skip
    record = ended(out)
    assert record.direction == "outbound" and record.originate_action_id == "cc-originate-1"
    assert record.dialed_number == "+84912345678" and record.disposition == "answered"
    # credited to the agent who clicked (their phone rang first), not to the trunk leg
    assert record.agent_interface == "PJSIP/101"


def test_click_to_call_from_a_local_phone_is_credited_to_it() -> None:
    """Seen on Asterisk 22: the agent's phone is a Local channel, whose first half carries
    the phone's own exten (101); the record's number is the customer's, in E.164."""
    tracker = CallTracker()
    tracker.expect_originate("cc-originate-2")
    phone = chan("Local/101@agents-00000001;1", "4.1", "4.1")
    trunk = chan("PJSIP/trunk-00000012", "4.3", "4.1")
    out = run([
        e("Newchannel", 0, **phone, Exten="101", CallerIDNum="19006868"),
        e("OriginateResponse", 1, Response="Success", ActionID="cc-originate-2",
          Uniqueid="4.1", Channel=phone["Channel"], Reason="4"),
        e("Newchannel", 1, **trunk),
        e("DialBegin", 1, **phone, DestChannel=trunk["Channel"], DestUniqueid="4.3",
          DialString="0988000001@trunk"),
        e("DialEnd", 3, **phone, DestChannel=trunk["Channel"], DestUniqueid="4.3",
          DialStatus="ANSWER"),
        e("Hangup", 9, **trunk, Cause="16"),
        e("Hangup", 9, **phone, Cause="16"),
    ], tracker)  # fmt: skip
    record = ended(out)
    assert (record.direction, record.agent_interface) == ("outbound", "Local/101@agents")
    assert record.dialed_number == "+84988000001" and record.disposition == "answered"


def test_failed_originate_without_a_channel_is_reported_and_forgotten() -> None:
    tracker = CallTracker()
    tracker.expect_originate("cc-originate-9")
    out = run([
        e("OriginateResponse", 0, Response="Failure", ActionID="cc-originate-9",
          Uniqueid="<null>", Channel="PJSIP/105", Reason="0"),
    ], tracker)  # fmt: skip
    (result,) = [p for name, p in out if name == ev.OriginateResult]
    assert (
        result.success is False and result.uniqueid == "" and result.action_id == "cc-originate-9"
    )
    assert "cc-originate-9" not in tracker._outbound_actions


def test_originates_never_answered_are_forgotten_oldest_first() -> None:
    """The memory of expected Originates is bounded; the newest click-to-call still counts."""
    tracker = CallTracker()
    for n in range(10_001):
        tracker.expect_originate(f"cc-originate-{n}")

    def direction(action_id: str, uid: str) -> str:
        phone = chan(f"PJSIP/101-{uid}", uid, uid)
        return ended(run([
            e("Newchannel", 0, **phone, Exten="s", CallerIDNum="101"),
            e("OriginateResponse", 0, Response="Success", ActionID=action_id, Uniqueid=uid,
              Channel=phone["Channel"], Reason="4"),
            e("Hangup", 5, **phone, Cause="16"),
        ], tracker)).direction  # fmt: skip

    assert direction("cc-originate-10000", "3.1") == "outbound"
    assert direction("cc-originate-0", "3.2") == "inbound"  # the oldest made room


def test_contact_status_becomes_a_device_state() -> None:
    out = run([
        e("ContactStatus", 0, URI="sip:101@10.0.0.5:5060", ContactStatus="Unreachable",
          AOR="101", EndpointName="101"),
    ])  # fmt: skip
    (state,) = [p for name, p in out if name == ev.AgentDeviceState]
    assert (state.device, state.state, state.source) == (
        "PJSIP/101",
        "Unreachable",
        "ContactStatus",
    )


def test_events_without_timestamp_use_the_last_asterisk_time() -> None:
    stream = answered_call([])
    del stream[1]["Timestamp"]  # e.g. a list item replayed as an event
    record = ended(run(stream))
    assert record.started_at.timestamp() == pytest.approx(T0)
    assert record.attempts[0].offered_at.timestamp() == pytest.approx(T0 + 1)


def test_a_bad_timestamp_or_cause_is_skipped_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    stream = answered_call([])
    stream[0]["Timestamp"] = "yesterday"
    stream[-1]["Cause"] = "sixteen"
    record = ended(run(stream))
    assert record.disposition == "answered"
    assert "bad Timestamp header" in caplog.text


def test_phone_attended_transfer_adopts_the_consultation_target() -> None:
    """Agent 101 consults 102 from the phone (a second call, its own Linkedid), then transfers."""
    consult_a = chan("PJSIP/101-00000020", "3.1", "3.1")  # 101's consultation leg
    target = chan("PJSIP/102-00000021", "3.2", "3.1")
    setup = answered_call([])[:4]
    out = run([
        *setup,
        e("Hold", 8, **AGENT),
        e("Newchannel", 9, **consult_a, CallerIDNum="101", Exten="102"),
        e("Newchannel", 9.1, **target),
        e("DialBegin", 9.1, **consult_a, DestChannel=target["Channel"], DestUniqueid="3.2",
          DestLinkedid="3.1", DialString="102"),
        e("DialEnd", 11, **consult_a, DestChannel=target["Channel"], DestUniqueid="3.2",
          DestLinkedid="3.1", DialStatus="ANSWER"),
        e("AttendedTransfer", 20, Result="Success",
          OrigTransfererChannel=AGENT["Channel"], OrigTransfererUniqueid="1.2",
          OrigTransfererLinkedid="1.1",
          SecondTransfererChannel=consult_a["Channel"], SecondTransfererUniqueid="3.1",
          SecondTransfererLinkedid="3.1",
          TransfereeChannel=CALLER["Channel"], TransfereeUniqueid="1.1", TransfereeLinkedid="1.1",
          TransferTargetChannel=target["Channel"], TransferTargetUniqueid="3.2",
          TransferTargetLinkedid="3.1", DestType="Bridge", IsExternal="No"),
        e("Hangup", 20.1, **consult_a, Cause="16"),
        e("Hangup", 20.2, **AGENT, Cause="16"),  # 101's first leg leaves, still held
        e("HangupRequest", 50, **target, Cause="16"),
        e("Hangup", 50, **target, Cause="16"),
        e("Hangup", 50.1, **CALLER, Cause="16"),
    ])  # fmt: skip
    records = {p.record.linkedid: p.record for name, p in out if name == ev.CallEnded}
    assert set(records) == {"1.1", "3.1"}
    call = records["1.1"]
    assert [(t.kind, t.from_interface, t.to) for t in call.transfers] == [
        ("attended", "PJSIP/101", "PJSIP/102")
    ]
    assert [(a.interface, a.outcome) for a in call.attempts] == [
        ("PJSIP/101", "answered"), ("PJSIP/102", "answered"),
    ]  # fmt: skip
    assert call.hangup_by == "agent"  # 102, the adopted leg, hung up first
    assert call.ended_at is not None and call.ended_at.timestamp() == pytest.approx(T0 + 50.1)
    assert call.hold_seconds == pytest.approx(20.2 - 8)  # held until 101's leg left
    consult = records["3.1"]  # the consultation itself is an internal call that ended at 20.1
    assert consult.ended_at is not None and consult.ended_at.timestamp() == pytest.approx(T0 + 20.1)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("0399000999", "+84399000999"),  # national, as the trunk sends it
        ("84399000999", "+84399000999"),  # country code without the plus
        ("+84399000999", "+84399000999"),
        ("0084399000999", "+84399000999"),  # international call prefix
        ("02438234567", "+842438234567"),  # Hà Nội landline
        ("01683456789", "+84383456789"),  # pre-2018 mobile prefix 0168 → 038
        ("+15551230001", "+15551230001"),  # a foreign caller
        ("anonymous", "anonymous"),  # withheld: kept as sent, never a number
        ("", ""),
        ("101", "101"),  # an internal extension: not a customer's number
        ("abc#12", "abc#12"),  # garbage: kept as sent
    ],
)
def test_the_caller_number_is_kept_in_e164(sent: str, kept: str) -> None:
    """The record, the published facts and a later caller ID update all carry one form."""
    stream = answered_call([])
    stream[0] = {**stream[0], "CallerIDNum": sent}
    out = run(stream)
    started = [p for kind, p in out if kind is ev.CallStarted]
    offered = [p for kind, p in out if kind is ev.CallOffered]
    answered = [p for kind, p in out if kind is ev.CallAnswered]
    assert [p.caller_number for p in (*started, *offered, *answered)] == [kept] * 3
    assert ended(out).caller_number == kept

    # Caller ID set after the channel exists (CALLERID(num) in the dialplan): same form.
    late = answered_call([])
    late.insert(1, e("NewCallerid", 0.5, **CALLER, CallerIDNum=sent, CallerIDName="B"))
    assert ended(run(late)).caller_number == kept


def test_a_resynced_caller_keeps_the_e164_number() -> None:
    from datetime import UTC, datetime

    from callcenter.core.calltracker import AsteriskSnapshot, ChannelSnapshot

    tracker = CallTracker()
    tracker.resync(
        AsteriskSnapshot(
            datetime.fromtimestamp(T0, UTC),
            [
                ChannelSnapshot(
                    "9.1", "9.1", "PJSIP/trunk-00000009", "Up", caller_number="0912345678"
                )
            ],
        )
    )
    record = tracker.get("9.1")
    assert record is not None and record.caller_number == "+84912345678"


def test_the_routed_group_is_the_last_cc_group_of_the_callers_channel() -> None:
    """Reports count calls by the group the daemon routed them to: the hotline's default
    (set at ``inbound``), replaced by the IVR menu's choice; an agent leg's CC_GROUP and
    an empty value change nothing."""
    record = ended(run(answered_call([
        e("VarSet", 0.5, **CALLER, Variable="CC_GROUP", Value="care"),
        e("VarSet", 3, **CALLER, Variable="CC_GROUP", Value="sales"),
        e("VarSet", 6, **AGENT, Variable="CC_GROUP", Value="other"),
        e("VarSet", 7, **CALLER, Variable="CC_GROUP", Value=""),
    ])))  # fmt: skip
    assert record.route_group == "sales"
    assert ended(run(answered_call([]))).route_group == ""
