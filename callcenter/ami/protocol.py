"""panoramisk's AMI protocol with a guarded parser.

Why a subclass: panoramisk 1.4 decodes each TCP read on its own (a UTF-8
character split across two reads is lost: Vietnamese names are) and keeps
appending to its buffer until it finds CRLFCRLF, so a peer that never ends a
frame grows our memory forever. Here bytes are framed first (64 KiB limit,
then the connection is dropped), each frame is decoded whole and parsed by
panoramisk's ``Message``; replies still go through panoramisk's ``Action``
futures (including EventList … Complete lists). A frame that is not AMI is
logged with its start and skipped; nothing a peer sends can raise out of here.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from callcenter.ami.framing import MAX_FRAME_BYTES, FrameSplitter, FrameTooLarge, parse_frame

if TYPE_CHECKING:
    from callcenter.ami.link import AmiLink

log = logging.getLogger(__name__)


class GuardedAMIProtocol(AMIProtocol):  # type: ignore[misc]
    def __init__(self, link: AmiLink | None = None, max_frame: int = MAX_FRAME_BYTES) -> None:
        self.link = link
        self.max_frame = max_frame
        self.splitter = FrameSplitter(max_frame)
        self.dropped_for_size = False

    # panoramisk expects a "factory" with these two attributes when it closes
    forgetable_actions = ("ping", "login")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.factory = self
        self.awaiting_actions: deque[Any] = deque()
        self.encoding = "utf8"
        self.log = log

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.splitter.feed(data)
        except FrameTooLarge as exc:
            log.error("AMI peer sent an oversized frame (%s); dropping the connection", exc)
            self.dropped_for_size = True
            self.abort()
            return
        for frame in frames:
            message = parse_frame(frame)
            if message is None:
                continue
            try:
                self.handle_message(message)
            except Exception:
                log.exception("AMI message skipped, it could not be handled: %r", frame[:200])

    def handle_message(self, message: Message) -> None:
        response = self.responses.get(message.id)
        if response is None and message.action_id:
            response = self.responses.get(message.action_id)
        if response is not None:
            if response.add_message(message):
                self.responses.pop(response.id, None)
                if response.action_id:
                    self.responses.pop(response.action_id, None)
            # Our own Originate's result is also a call fact the tracker needs.
            if message.get("Event") == "OriginateResponse":
                self.dispatch(message)
        elif "event" in message:
            self.dispatch(message)

    def dispatch(self, message: Message) -> None:
        if self.link is not None:
            self.link.on_message(message)

    def abort(self) -> None:
        transport = getattr(self, "transport", None)
        if transport is not None:
            transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if getattr(self, "closed", False):
            return
        self.closed = True
        for action in list(self.responses.values()):
            if not action.future.done():
                action.future.set_exception(ConnectionError("AMI connection lost"))
        self.responses.clear()
        if self.link is not None:
            self.link.on_connection_lost(self, exc)

    def close(self) -> None:
        transport = getattr(self, "transport", None)
        if transport is not None:
            transport.close()
