"""Every sound the production dialplan plays, and the ``callcenter`` music class.

Asterisk ships no Vietnamese prompts and this project ships no music: a fresh
Asterisk would disable the ``callcenter`` class at boot (its folder is empty),
``MusicOnHold`` would return at once and waiting callers would hear the
announcements back to back. :func:`provision` writes both, idempotently:

- prompts (:mod:`callcenter.prompts_default`, espeak-ng + sox) into
  ``<sounds_dir>/callcenter/`` — Asterisk's sounds folder, where the dialplan's
  ``callcenter/<name>`` is looked up;
- a calm melody made by sox's synthesiser (sine notes of a pentatonic scale, so
  it is ours and free by construction) into the music class's folder.

All files are 8 kHz mono 16-bit WAV: what Asterisk plays without transcoding.
Each file is written next to its final place and renamed, so Asterisk never
plays half a file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.prompts_default import PromptToolMissing, all_prompts, synthesize

#: The folder (under Asterisk's sounds folder) the dialplan's prompts live in.
PROMPT_FOLDER = "callcenter"

#: The melodies of the ``callcenter`` class: (file name, notes as (Hz, seconds)).
#: A slow C-major pentatonic line; 0 Hz is a rest.
_C, _D, _E, _G, _A, _C5 = 261.63, 293.66, 329.63, 392.0, 440.0, 523.25
MELODIES: dict[str, list[tuple[float, float]]] = {
    "calm-1": [
        (_E, 1.2),
        (_G, 1.2),
        (_A, 1.6),
        (_G, 1.2),
        (_E, 1.2),
        (_D, 1.6),
        (_C, 2.0),
        (0, 0.8),
        (_D, 1.2),
        (_E, 1.2),
        (_G, 1.6),
        (_E, 1.2),
        (_D, 1.2),
        (_C, 2.4),
        (0, 0.8),
    ]
    * 2,
    "calm-2": [
        (_G, 1.2),
        (_A, 1.2),
        (_C5, 1.6),
        (_A, 1.2),
        (_G, 1.6),
        (_E, 2.0),
        (0, 0.8),
        (_D, 1.2),
        (_E, 1.2),
        (_G, 1.2),
        (_A, 1.6),
        (_G, 1.2),
        (_E, 2.4),
        (0, 0.8),
    ]
    * 2,
}
#: Asterisk's core ``beep`` (``Record`` plays it before recording a message).
BEEP: list[tuple[float, float]] = [(1000.0, 0.25)]
#: Peak level of the music (0–1): soft, under the announcements.
MUSIC_VOLUME = 0.25


@dataclass
class SoundsReport:
    """What :func:`provision` wrote (paths) and kept (already there)."""

    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def prompt_names() -> list[str]:
    """Every prompt name the generator writes, as the dialplan names it (``callcenter/…``)."""
    return [f"{PROMPT_FOLDER}/{name}" for name in all_prompts()]


def core_sound_names() -> list[str]:
    """Asterisk core sounds the dialplan's applications play by themselves (``Record``: beep)."""
    return ["beep"]


def music_names() -> list[str]:
    return [f"{name}.wav" for name in MELODIES]


def _sox() -> str:
    sox = shutil.which("sox")
    if sox is None:
        raise PromptToolMissing("sox is needed to generate the music on hold")
    return sox


def synthesize_melody(notes: list[tuple[float, float]], target: Path) -> Path:
    """Render ``notes`` with sox's sine synthesiser (soft attack and release per note)."""
    args = [_sox(), "-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"]
    chains: list[str] = []
    for index, (hertz, seconds) in enumerate(notes):
        if index:
            chains.append(":")
        if hertz <= 0:
            chains += ["synth", f"{seconds}", "sine", "0", "vol", "0"]
        else:
            chains += [
                "synth", f"{seconds}", "sine", f"{hertz}",
                "fade", "q", "0.15", f"{seconds}", "0.5",
                "vol", f"{MUSIC_VOLUME}",
            ]  # fmt: skip
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = _staging(target)
    try:
        subprocess.run([*args, str(staged), *chains], check=True, capture_output=True)
        os.replace(staged, target)
    finally:
        staged.unlink(missing_ok=True)
    return target


def _staging(target: Path) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".wav", dir=target.parent)
    os.close(handle)
    return Path(name)


def _write_prompt(text: str, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = _staging(target)
    try:
        synthesize(text, staged)
        os.replace(staged, target)
    finally:
        staged.unlink(missing_ok=True)
    return target


def provision(sounds_dir: Path, moh_dir: Path, *, overwrite: bool = False) -> SoundsReport:
    """Write every dialplan prompt under ``sounds_dir/callcenter/`` and the music into ``moh_dir``.

    ``sounds_dir`` is Asterisk's sounds folder (``/var/lib/asterisk/sounds``);
    ``moh_dir`` the ``callcenter`` class's folder (``musiconhold.conf``). Files
    already there (e.g. a recording the admin uploaded) are kept unless ``overwrite``.
    Raises :class:`PromptToolMissing` when espeak-ng or sox is not installed.
    """
    report = SoundsReport()
    for name, text in all_prompts().items():
        target = sounds_dir / PROMPT_FOLDER / f"{name}.wav"
        if target.exists() and not overwrite:
            report.kept.append(target)
            continue
        report.written.append(_write_prompt(text, target))
    beep = sounds_dir / "beep.wav"  # Record() plays Asterisk's core "beep" (no sound package here)
    if beep.exists() and not overwrite:
        report.kept.append(beep)
    else:
        report.written.append(synthesize_melody(BEEP, beep))
    for name, notes in MELODIES.items():
        target = moh_dir / f"{name}.wav"
        if target.exists() and not overwrite:
            report.kept.append(target)
            continue
        report.written.append(synthesize_melody(notes, target))
    return report


def provision_data_dir(data_dir: Path, *, overwrite: bool = False) -> SoundsReport:
    """Provision an Asterisk whose ``astdatadir`` is ``data_dir`` (e.g. a private test instance).

    ``musiconhold.conf`` names the class's folder relative to ``astdatadir``
    (``moh/callcenter``), and prompts live in ``sounds/``.
    """
    return provision(data_dir / "sounds", data_dir / "moh" / "callcenter", overwrite=overwrite)
