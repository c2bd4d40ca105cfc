"""The AMI adapter of the call-control port: each port action is the AMI action Asterisk
documents, and AMI failures become the port's errors (no AMI type leaks out)."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.ami.control import AmiCallControl
from callcenter.ami.link import AmiActionError, AmiNotConnected
from callcenter.core.call_control import CallControlError, CallControlUnavailable, ListenMode


class Link:
    """Only what AmiCallControl calls on the link, recorded."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, Any, Any]] = []
        self.error = error
        self.connected = True

    def __getattr__(self, name: str) -> Any:
        async def action(*args: Any, **kwargs: Any) -> Any:
            if self.error is not None:
                raise self.error
            self.calls.append((name, args, kwargs))
            return "action-1"

        return action


async def test_listen_in_originates_the_supervisor_into_chanspy() -> None:
    link = Link()
    control = AmiCallControl(link)  # type: ignore[arg-type]
    whisper = ListenMode.WHISPER
    assert await control.listen_in("PJSIP/900", "PJSIP/101-0000000a", mode=whisper) == "action-1"
    assert await control.listen_in("PJSIP/900", "PJSIP/102-0000000b") == "action-1"
    assert await control.listen_in("PJSIP/900", "PJSIP/103-0c", mode=ListenMode.BARGE)
    (name, args, kwargs), (_n, _a, quiet), (_n2, _a2, barge) = link.calls
    assert (name, args) == ("originate", ("PJSIP/900",))
    assert (kwargs["context"], kwargs["exten"]) == ("cc-listen", "whisper")
    assert kwargs["variables"] == {"CC_SPY_CHANNEL": "PJSIP/101-0000000a"}
    assert quiet["exten"] == "s"
    assert (barge["exten"], barge["variables"]) == ("barge", {"CC_SPY_CHANNEL": "PJSIP/103-0c"})


async def test_port_actions_map_to_ami_actions() -> None:
    link = Link()
    control = AmiCallControl(link)  # type: ignore[arg-type]
    await control.attended_transfer("PJSIP/101-0a", "agents", "102")
    await control.mute_recording("PJSIP/trunk-0b", True)
    await control.queue_pause("PJSIP/101", True, queue="cc-fallback", reason="lunch")
    await control.park("PJSIP/trunk-0b", timeout_channel="PJSIP/101-0a")
    assert [(n, a, k) for n, a, k in link.calls] == [
        ("atxfer", ("PJSIP/101-0a", "agents", "102"), {}),
        ("mixmonitor_mute", ("PJSIP/trunk-0b", True), {}),
        ("queue_pause", ("cc-fallback", "PJSIP/101", True, "lunch"), {}),
        ("park", ("PJSIP/trunk-0b",), {"timeout_channel": "PJSIP/101-0a"}),
    ]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (AmiNotConnected("link down"), CallControlUnavailable),
        (AmiActionError("Hangup", "No such channel"), CallControlError),
        (TimeoutError(), CallControlError),
    ],
)
async def test_ami_failures_become_port_errors(error: Exception, expected: type) -> None:
    control = AmiCallControl(Link(error))  # type: ignore[arg-type]
    with pytest.raises(expected):
        await control.hangup("PJSIP/101-0a")
