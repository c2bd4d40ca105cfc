"""Sounds for the private Asterisk: the project's prompts, the agents' speech, hold music.

Prompts come from the project's own generator (``callcenter.prompts_default``), so the
tier hears exactly what a fresh installation would. Generated once per test run into a
cache folder and copied into each instance's sounds directory.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from callcenter import prompts_default

AGENT_SPEECH = "Xin chào, em nghe."


def build_sounds(cache: Path) -> Path:
    """``cache/sounds`` with ``callcenter/*`` (project prompts) and ``tier/agent-speech``."""
    sounds = cache / "sounds"
    if not (sounds / "tier" / "agent-speech.wav").exists():
        prompts_default.generate(sounds / "callcenter")
        prompts_default.synthesize(AGENT_SPEECH, sounds / "tier" / "agent-speech.wav")
    return sounds


def make_hold_music_with_sox(directory: Path) -> None:
    """TEMPORARY: music files for the ``callcenter`` class, made with sox.

    Another change adds project code that provisions the class's folder (issue 11,
    item 5); the harness switches to it then. Until then the tier makes two short
    8 kHz mono WAV tunes so ``MusicOnHold`` has something to play.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for name, notes in (("tune-a", ("C4", "E4", "G4")), ("tune-b", ("A3", "C4", "E4"))):
        target = directory / f"{name}.wav"
        if target.exists():
            continue
        subprocess.run(
            [
                "sox",
                "-n",
                "-r",
                "8000",
                "-c",
                "1",
                "-b",
                "16",
                str(target),
                "synth",
                "6",
                "pluck",
                notes[0],
                "pluck",
                notes[1],
                "pluck",
                notes[2],
                "vol",
                "0.3",
            ],
            check=True,
            capture_output=True,
        )


def install_media(cache: Path, sounds: Path, moh: Path) -> None:
    """Copy the cached sounds into an instance and give the music class its files."""
    built = build_sounds(cache)
    for sub in ("callcenter", "tier"):
        shutil.copytree(built / sub, sounds / sub, dirs_exist_ok=True)
    make_hold_music_with_sox(moh / "callcenter")
