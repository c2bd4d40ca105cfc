"""Default Vietnamese prompts: espeak-ng speech converted to 8 kHz mono 16-bit WAV."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from callcenter.prompts_default import all_prompts, generate, shutil


@pytest.mark.skipif(
    not (shutil.which("espeak-ng") and shutil.which("sox")), reason="needs espeak-ng and sox"
)
def test_generated_prompts_are_what_asterisk_plays(tmp_path: Path) -> None:
    written = generate(tmp_path, ["closed", "digits/3", "digits/10"])
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "closed.wav",
        "digits/3.wav",
        "digits/10.wav",
    ]
    for path in written:
        with wave.open(str(path)) as audio:
            assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (
                8000,
                1,
                2,
            )
            seconds = audio.getnframes() / audio.getframerate()
        assert seconds > 0.2, f"{path.name} is silent"
    closed = written[0].stat().st_size
    assert closed > written[1].stat().st_size  # a sentence is longer than a digit
    assert generate(tmp_path, ["closed"]) == []  # existing prompts are kept


def test_every_dialplan_prompt_and_all_digits_have_a_default() -> None:
    dialplan = (Path(__file__).resolve().parents[2] / "asterisk" / "extensions.conf").read_text()
    prompts = all_prompts()
    for name in (
        "recording-notice",
        "closed",
        "menu",
        "invalid",
        "please-wait",
        "sorry",
        "overflow",
        "callback-registered",
        "callback-offer",
    ):
        assert f"callcenter/{name}" in dialplan and name in prompts
    assert all(f"digits/{n}" in prompts for n in range(10))
