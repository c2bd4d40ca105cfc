"""One interface rule: every channel name Asterisk gives a phone maps to that phone's key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from callcenter.core.interfaces import interface_key, interface_of, local_partner_name

REFERENCE = Path(__file__).parent / "sim" / "reference"

# (channel, DIALEDPEERNAME, DestChannel, device or dial string as Asterisk or a user writes it,
#  the phone it is)
ROWS = [
    ("PJSIP/agent1-0000000d", "PJSIP/agent1", "PJSIP/agent1"),  # h-pjsip-sipp-call
    ("PJSIP/101-00000003", "PJSIP/101", "PJSIP/101"),
    ("PJSIP/101-0000ABCD", "PJSIP/101", "PJSIP/101"),  # hex case
    ("pjsip/101", "pjsip/101", "PJSIP/101"),  # a user typed it in lower case
    ("Local/401@sim-agent-0000000d;1", "Local/401@sim-agent", "Local/401@sim-agent"),
    ("Local/401@sim-agent-0000000d;2", "Local/401@sim-agent", "Local/401@sim-agent"),
    ("Local/101@sim-agents-00000001;1", "Local/101@sim-agents", "Local/101@sim-agents"),
    ("Local/100@hotline-queue-00000013;2", "Local/100@hotline-queue", "Local/100@hotline-queue"),
    ("Local/201@agents/n", "Local/201@agents", "Local/201@agents"),  # dial string option
    ("Local/201@agents;2", "Local/201@agents", "Local/201@agents"),
    (" PJSIP/102 ", "PJSIP/102", "PJSIP/102"),
]


@pytest.mark.parametrize(("name", "spelled", "phone"), ROWS)
def test_every_name_of_a_phone_has_the_phone_key(name: str, spelled: str, phone: str) -> None:
    assert interface_of(name) == spelled
    assert interface_key(name) == interface_key(phone) == phone.lower()


def test_different_phones_stay_different() -> None:
    keys = {
        interface_key(n) for n in ("PJSIP/101", "PJSIP/1010", "Local/101@agents", "PJSIP/trunk")
    }
    assert len(keys) == 4
    # 8 hex digits only: an endpoint named with a shorter suffix is not cut
    assert interface_key("PJSIP/desk-0001") == "pjsip/desk-0001"


def test_every_channel_in_the_real_traces_maps_to_its_base_name() -> None:
    """Each channel name of the recorded Asterisk traces (Channel, DestChannel, DIALEDPEERNAME
    values) maps to the interface it was dialled as, both halves of a Local pair alike."""
    names: set[str] = set()
    for trace in REFERENCE.glob("*.txt"):
        text = trace.read_text(errors="replace")
        names |= set(re.findall(r"(?:Channel|Value): ((?:PJSIP|Local)/[^\s]+)", text))
    channels = {n for n in names if re.search(r"-[0-9a-f]{8}(;[12])?$", n)}
    assert len(channels) > 40
    for channel in channels:
        base = re.sub(r"-[0-9a-f]{8}(;[12])?$", "", channel)
        assert interface_key(channel) == base.lower(), channel
        partner = local_partner_name(channel)
        if partner:
            assert interface_key(partner) == interface_key(channel)
