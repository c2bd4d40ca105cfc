"""MixMonitor for the simulator: real 8 kHz mono 16-bit WAV files for answered calls.

The conversation is Vietnamese speech from espeak-ng (``-v vi``), resampled with
sox, laid on the call's timeline (silence before the agent answers, then agent
and caller phrases), so transcription and playback have real audio to work on.
Phrases are synthesised once and cached; files are written in a worker thread.
"""

from __future__ import annotations

import array
import asyncio
import logging
import wave
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.prompts_default import PromptToolMissing, synthesize
from callcenter.sim.channels import Channel

log = logging.getLogger(__name__)

RATE = 8000
MAX_SECONDS = 900.0
AGENT_PHRASES = [
    "Xin chào, tổng đài chăm sóc khách hàng xin nghe.",
    "Dạ, em đã ghi nhận, kỹ thuật viên sẽ gọi lại cho anh trong hôm nay.",
]
CALLER_PHRASES = [
    "Chào em, xe tải của tôi bị hỏng phanh trên quốc lộ một.",
    "Cảm ơn em, tôi chờ điện thoại.",
]


def synthesise(text: str, target: Path) -> bool:
    """espeak-ng (Vietnamese) → sox → 8 kHz mono 16-bit WAV. False when a tool is missing."""
    try:
        synthesize(text, target)
    except PromptToolMissing:
        return False
    return True


def read_samples(path: Path) -> array.array[int]:
    with wave.open(str(path), "rb") as wav:
        data = array.array("h")
        data.frombytes(wav.readframes(wav.getnframes()))
    return data


@dataclass
class _Recording:
    path: Path
    started: float
    bridged_at: float | None = None
    #: MixMonitor r()/t(): the recorded channel's own voice (the caller's, since the
    #: dialplan records on the caller's channel) and the voice sent to it (the agent's).
    read_path: Path | None = None
    write_path: Path | None = None
    extra: dict[str, float] = field(default_factory=dict)


class Recorder:
    """Hooks the PBX calls: start (MixMonitor), bridged (agent answered), finish (hangup)."""

    def __init__(self, directory: Path, cache_dir: Path | None = None) -> None:
        self.directory = directory
        self.cache_dir = cache_dir or directory / ".speech-cache"
        self._active: dict[str, _Recording] = {}
        self._agent: list[array.array[int]] = []
        self._caller: list[array.array[int]] = []
        self.written: list[Path] = []
        self._pending: set[asyncio.Task[None]] = set()

    async def prepare(self) -> None:
        """Synthesise the phrases once (in a thread: espeak-ng takes a moment)."""
        await asyncio.to_thread(self._prepare)

    def _prepare(self) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        for phrases, out in ((AGENT_PHRASES, self._agent), (CALLER_PHRASES, self._caller)):
            for index, text in enumerate(phrases):
                target = (
                    self.cache_dir / f"{'agent' if out is self._agent else 'caller'}-{index}.wav"
                )
                if not target.exists() and not synthesise(text, target):
                    log.warning("espeak-ng or sox missing: recordings will be silent")
                    return
                out.append(read_samples(target))

    def start(
        self, chan: Channel, filename: str, at: float, *, read: str = "", write: str = ""
    ) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._active[chan.uniqueid] = _Recording(
            self.directory / Path(filename).name,
            at,
            read_path=self.directory / Path(read).name if read else None,
            write_path=self.directory / Path(write).name if write else None,
        )

    def bridged(self, caller: Channel, agent: Channel, at: float) -> None:
        for chan in (caller, agent):
            rec = self._active.get(chan.uniqueid)
            if rec is not None and rec.bridged_at is None:
                rec.bridged_at = at

    def finish(self, chan: Channel, at: float) -> None:
        rec = self._active.pop(chan.uniqueid, None)
        if rec is None or rec.bridged_at is None:
            return  # only answered calls leave a recording
        task = asyncio.ensure_future(asyncio.to_thread(self._write, rec, at))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def message(self, filename: str, seconds: float) -> None:
        """Record(): a voicemail of the caller's phrases, written like a recording."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / Path(filename).name
        task = asyncio.ensure_future(asyncio.to_thread(self._write_message, path, seconds))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _write_message(self, path: Path, seconds: float) -> None:
        samples = array.array("h", bytes(2 * int(min(seconds, MAX_SECONDS) * RATE)))
        cursor = RATE // 2
        for phrase in self._caller:
            end = min(len(samples), cursor + len(phrase))
            samples[cursor:end] = phrase[: end - cursor]
            cursor = end + RATE // 2
            if cursor >= len(samples):
                break
        _write_wav(path, samples)
        self.written.append(path)

    async def drain(self) -> None:
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def _write(self, rec: _Recording, ended: float) -> None:
        total = min(MAX_SECONDS, max(0.0, ended - rec.started))
        mixed = array.array("h", bytes(2 * int(total * RATE)))
        caller = array.array("h", bytes(2 * int(total * RATE)))
        agent = array.array("h", bytes(2 * int(total * RATE)))
        cursor = int(((rec.bridged_at or rec.started) - rec.started) * RATE)
        turns = [
            (phrase, side)
            for pair in zip(self._agent, self._caller, strict=False)
            for phrase, side in zip(pair, (agent, caller), strict=True)
        ]
        for phrase, side in turns:
            end = min(len(mixed), cursor + len(phrase))
            mixed[cursor:end] = phrase[: end - cursor]
            side[cursor:end] = phrase[: end - cursor]
            cursor = end + RATE // 2
            if cursor >= len(mixed):
                break
        # the direction files first: a file the daemon sees has its speakers beside it
        for path, samples in ((rec.read_path, caller), (rec.write_path, agent)):
            if path is not None:
                _write_wav(path, samples)
        _write_wav(rec.path, mixed)
        self.written.append(rec.path)


def _write_wav(path: Path, samples: array.array[int]) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(samples.tobytes())
