"""Compress a transcribed recording to Opus in Ogg (libsndfile, through ``soundfile``).

Run in the speech worker processes (``pool.RecogniserPool.compress``), at their lower
priority, so encoding a long call never takes CPU from the daemon's process. At 8 kHz
telephone quality the Ogg file is about a tenth of the WAV.
"""

from __future__ import annotations

import os
from pathlib import Path

from callcenter.stt.recogniser import AudioError

COMPRESSED_SUFFIX = ".ogg"


def compress_opus(wav: Path) -> Path:
    """Write ``<name>.ogg`` beside the WAV, atomically (a ``.part`` file renamed); the WAV
    stays: the caller deletes it once the transcript naming the Ogg file is committed."""
    import soundfile

    target = wav.with_suffix(COMPRESSED_SUFFIX)
    partial = target.with_name(target.name + ".part")
    try:
        data, rate = soundfile.read(str(wav), dtype="int16")
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise AudioError(f"cannot read {wav.name} to compress it: {exc}") from None
    soundfile.write(str(partial), data, rate, format="OGG", subtype="OPUS")
    if partial.stat().st_size == 0:
        partial.unlink()
        raise AudioError(f"compressing {wav.name} wrote an empty file")
    os.replace(partial, target)
    return target
