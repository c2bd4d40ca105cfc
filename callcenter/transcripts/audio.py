"""A recording's files: the mixed file for playback and, where MixMonitor wrote the two
directions separately (``r()``/``t()``), one file per speaker. (Compression to Opus runs
in the speech workers: ``stt.codec``.)

Names: ``<uniqueid>.wav`` (mixed), ``<uniqueid>-customer.wav`` and
``<uniqueid>-agent.wav`` (what each side said). Only base names are used, inside the
recordings folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePath

from callcenter.stt.recogniser import AudioError

SPEAKERS = ("agent", "customer")


@dataclass(frozen=True, slots=True)
class RecordingFiles:
    mixed: Path
    parts: tuple[tuple[str, Path], ...]  # (speaker, file); empty when only the mix exists

    def sources(self) -> list[tuple[str, Path]]:
        """What to transcribe: each speaker's file, or the mix without a speaker label."""
        return list(self.parts) or [("", self.mixed)]

    def wav_files(self) -> list[Path]:
        return [self.mixed, *(path for _speaker, path in self.parts)]


def inside(folder: Path, name: str) -> Path:
    """``name``'s base name inside ``folder``; refuses names that point elsewhere."""
    base = PurePath(name.replace("\\", "/")).name
    if not base or base in (".", ".."):
        raise AudioError(f"bad recording name: {name!r}")
    root = folder.resolve()
    path = (root / base).resolve()
    if not path.is_relative_to(root):
        raise AudioError(f"recording outside the recordings folder: {name!r}")
    return path


def speaker_file(mixed: Path, speaker: str) -> Path:
    return mixed.with_name(f"{mixed.stem}-{speaker}{mixed.suffix}")


def find(folder: Path, name: str) -> RecordingFiles:
    """The files of one recording; :class:`AudioError` if the mix is missing or empty."""
    mixed = inside(folder, name)
    if not mixed.is_file():
        raise AudioError(f"recording file missing: {mixed.name}")
    if mixed.stat().st_size == 0:
        raise AudioError(f"recording file is empty: {mixed.name}")
    parts = tuple(
        (speaker, speaker_file(mixed, speaker))
        for speaker in SPEAKERS
        if speaker_file(mixed, speaker).is_file()
    )
    return RecordingFiles(mixed, parts)


def remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
