"""Split the AMI byte stream into frames, with a hard size limit.

AMI frames are header lines ending in CRLF, closed by an empty line. The
limit matters: panoramisk's own parser keeps appending to a string until it
sees CRLFCRLF, so a peer that never sends one would grow our memory without
bound. Here a frame (or an unterminated tail) over ``max_frame`` bytes raises
:class:`FrameTooLarge`; the protocol then drops the connection and reconnects.
"""

from __future__ import annotations

import logging

from panoramisk.message import Message

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024
BANNER_PREFIX = b"Asterisk Call Manager/"
_END = b"\r\n\r\n"


class FrameTooLarge(Exception):
    """A frame exceeded the limit; the connection must be dropped."""


class FrameSplitter:
    """Incremental CRLFCRLF framing over bytes. Also takes the banner line off the front."""

    def __init__(self, max_frame: int = MAX_FRAME_BYTES) -> None:
        self.max_frame = max_frame
        self.banner: str | None = None
        self._buffer = bytearray()
        self._scan_from = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the complete frames (without the blank line)."""
        buffer = self._buffer
        buffer += data
        frames: list[bytes] = []
        if self.banner is None:
            if len(buffer) < len(BANNER_PREFIX) and BANNER_PREFIX.startswith(bytes(buffer)):
                return frames
            if buffer.startswith(BANNER_PREFIX):
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > self.max_frame:
                        self._reset()
                        raise FrameTooLarge(f"banner line over {self.max_frame} bytes")
                    return frames
                self.banner = buffer[:end].decode("utf-8", "replace")
                del buffer[: end + 2]
            else:
                self.banner = ""
        while True:
            end = buffer.find(_END, self._scan_from)
            if end < 0:
                if len(buffer) > self.max_frame:
                    size = len(buffer)
                    self._reset()
                    raise FrameTooLarge(f"unterminated frame of {size} bytes")
                self._scan_from = max(0, len(buffer) - 3)
                return frames
            if end > self.max_frame:
                self._reset()
                raise FrameTooLarge(f"frame of {end} bytes")
            frames.append(bytes(buffer[:end]))
            del buffer[: end + 4]
            self._scan_from = 0

    def _reset(self) -> None:
        self._buffer = bytearray()
        self._scan_from = 0

    @property
    def pending(self) -> int:
        """Bytes waiting for the end of their frame."""
        return len(self._buffer)


def parse_frame(frame: bytes) -> Message | None:
    """Decode one frame with panoramisk's parser; None (and a log line) if it is not AMI."""
    text = frame.decode("utf-8", "replace").strip("\r\n")
    if not text.strip():
        return None
    try:
        message = Message.from_line(text)
    except Exception:
        log.warning("skipped an AMI frame panoramisk could not parse: %r", text[:200])
        return None
    if message is None:
        log.warning("skipped a malformed AMI frame (no Event/Response header): %r", text[:200])
    return message
