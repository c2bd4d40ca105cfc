"""The recogniser interface and what it returns, independent of the engine behind it.

An engine (Vosk today; sherpa-onnx or another offline engine later) implements
:class:`Recogniser`: it loads its model once in ``__init__`` and turns one WAV file
into a :class:`Transcription` with word timings. Audio is fed at its real sample rate
(8 kHz for telephone recordings), never resampled behind the model's back.
"""

from __future__ import annotations

import time
import wave
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

#: Frames handed to an engine per call: 0.25 s at 8 kHz, small enough to stay responsive.
CHUNK_FRAMES = 2000


class AudioError(Exception):
    """The file cannot be transcribed (missing, empty, not 16-bit PCM); the message says why."""


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True, slots=True)
class Transcription:
    text: str
    words: list[Word]
    engine: str
    model: str
    duration: float  # seconds of audio
    elapsed: float  # wall seconds spent recognising
    sample_rate: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def real_time_factor(self) -> float:
        """Wall time over audio time: 0.2 means five times faster than real time."""
        return self.elapsed / self.duration if self.duration > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcription:
        words = [Word(**w) for w in data["words"]]
        return cls(**{**data, "words": words})


class Recogniser(Protocol):
    """One loaded model; ``transcribe`` handles one file at a time."""

    engine: str
    model: str

    def transcribe(self, path: Path) -> Transcription: ...


@dataclass(frozen=True, slots=True)
class PcmAudio:
    sample_rate: int
    frames: int
    chunks: Iterator[bytes]

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def open_pcm(path: Path) -> tuple[wave.Wave_read, PcmAudio]:
    """Open a mono 16-bit PCM WAV file; raise :class:`AudioError` with the reason if not."""
    if not path.is_file():
        raise AudioError(f"recording file missing: {path.name}")
    if path.stat().st_size == 0:
        raise AudioError(f"recording file is empty: {path.name}")
    try:
        wav = wave.open(str(path), "rb")  # noqa: SIM115 - closed by the caller
    except (wave.Error, EOFError) as exc:
        raise AudioError(f"not a PCM WAV file: {path.name} ({exc})") from None
    if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
        wav.close()
        raise AudioError(f"{path.name}: expected mono 16-bit audio")

    def chunks() -> Iterator[bytes]:
        while True:
            data = wav.readframes(CHUNK_FRAMES)
            if not data:
                return
            yield data

    return wav, PcmAudio(wav.getframerate(), wav.getnframes(), chunks())


def timed() -> float:
    return time.perf_counter()
