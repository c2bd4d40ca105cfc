"""Turn an uploaded recording into a prompt Asterisk can play: 8 kHz mono 16-bit WAV.

Asterisk ships no Vietnamese sounds, so admins upload their own. An upload is
trusted only after three checks: its size, its first bytes (a known audio
container, not a renamed document) and sox itself reading it. Conversion runs
in a sox subprocess (never on the event loop) into a temporary file that is
renamed into place, so a failed upload never leaves a half-written prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Longest prompt accepted; a greeting or menu is seconds, not a podcast.
MAX_SECONDS = 600.0
#: Default upload limit (the console may pass a smaller one).
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
SOX_TIMEOUT_SECONDS = 60.0

_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def menu_prompt_code(hotline_number: str) -> str:
    """The prompt code of one hotline's own IVR menu: ``menu-`` and the number's digits.

    Hotline numbers may carry a ``+``; prompt codes may not, so both the admin
    console and the ACD derive the code here.
    """
    return "menu-" + "".join(ch for ch in hotline_number if ch.isdigit())[:26]


def N_(message: str) -> str:
    """Mark a msgid for extraction without translating it here."""
    return message


class PromptRejected(ValueError):
    """An upload that cannot become a prompt; ``message`` is an English msgid."""

    def __init__(self, message: str, **params: Any) -> None:
        self.message = message
        self.field = "audio"
        self.params = params
        super().__init__(message.format(**params) if params else message)


@dataclass(frozen=True)
class ConvertedPrompt:
    """A converted recording waiting next to its final place until :func:`install_prompt`."""

    filename: str
    path: Path
    staged: Path
    duration_seconds: float


def install_prompt(prompt: ConvertedPrompt) -> Path:
    """Put a converted recording in place (an atomic rename), once the database points at it."""
    os.replace(prompt.staged, prompt.path)
    return prompt.path


def discard_prompt(prompt: ConvertedPrompt) -> None:
    """Forget a converted recording whose database change did not happen."""
    with contextlib.suppress(FileNotFoundError):
        prompt.staged.unlink()


def _stage_upload(prompts_dir: Path, data: bytes, kind: str) -> Path:
    """A private work folder next to the prompts (same file system: the final rename is atomic)."""
    prompts_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".upload-", dir=prompts_dir))
    (work / f"upload.{kind}").write_bytes(data)
    return work


def human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


def sniff_audio(head: bytes) -> str | None:
    """The container sox should read (its file-type name), or None if not accepted audio.
    Raises PromptRejected for real audio in a format this server cannot convert."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b".snd":
        return "au"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        raise PromptRejected(
            N_("MP3 files cannot be converted on this server; please upload WAV, FLAC or OGG.")
        )
    if head[4:8] == b"ftyp":
        raise PromptRejected(
            N_("M4A/MP4 files cannot be converted on this server; please upload WAV, FLAC or OGG.")
        )
    return None


async def _run(*args: str) -> tuple[int, str, str]:
    try:
        process = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
    except FileNotFoundError:
        raise PromptRejected(
            N_("sox is not installed on the server; prompts cannot be converted.")
        ) from None
    try:
        async with asyncio.timeout(SOX_TIMEOUT_SECONDS):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise PromptRejected(N_("Converting the recording took too long.")) from None
    return process.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


async def _duration(sox: str, path: Path) -> float | None:
    code, out, _err = await _run(sox, "--i", "-D", str(path))  # type from the extension
    if code != 0:
        return None
    try:
        return float(out.strip())
    except ValueError:
        return None


async def convert_prompt(
    data: bytes,
    *,
    code: str,
    prompts_dir: Path,
    max_bytes: int = DEFAULT_MAX_BYTES,
    sox: str = "sox",
) -> ConvertedPrompt:
    """Check an uploaded recording and convert it for ``prompts_dir/<code>.wav`` (8 kHz, mono,
    16-bit signed PCM), staged until :func:`install_prompt`. Raises PromptRejected with a
    clear message; nothing is written then."""
    if not _CODE_RE.match(code):
        raise PromptRejected(
            N_("The code must be 1–32 lowercase letters, digits, '-' or '_' (e.g. sales).")
        )
    if not data:
        raise PromptRejected(N_("The file is empty; choose a recording to upload."))
    if len(data) > max_bytes:
        raise PromptRejected(
            N_("The file is too large ({size}); the limit is {limit}."),
            size=human_size(len(data)),
            limit=human_size(max_bytes),
        )
    kind = sniff_audio(data[:16])
    if kind is None:
        raise PromptRejected(
            N_("This file is not an audio recording. Upload WAV, FLAC, OGG, AIFF or AU.")
        )
    sox_path = shutil.which(sox) or sox
    work = await asyncio.to_thread(_stage_upload, prompts_dir, data, kind)
    try:
        source = work / f"upload.{kind}"
        seconds = await _duration(sox_path, source)
        if seconds is None:
            raise PromptRejected(N_("The audio file is damaged or cannot be read."))
        if seconds < 0.1:
            raise PromptRejected(N_("The recording is empty (no sound)."))
        if seconds > MAX_SECONDS:
            raise PromptRejected(
                N_("The recording is too long ({seconds} s); at most {limit} s."),
                seconds=round(seconds),
                limit=int(MAX_SECONDS),
            )
        converted = work / "converted.wav"
        status, _out, err = await _run(
            sox_path,
            "-t",
            kind,
            str(source),
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            str(converted),
        )
        if status != 0:
            raise PromptRejected(
                N_("The recording could not be converted: {reason}"),
                reason=(err.strip().splitlines() or ["sox failed"])[-1],
            )
        final_seconds = await _duration(sox_path, converted) or seconds
        target = prompts_dir / f"{code}.wav"
        staged = prompts_dir / f".staged-{work.name}-{code}.wav"
        await asyncio.to_thread(os.replace, converted, staged)
    finally:
        await asyncio.to_thread(shutil.rmtree, work, True)
    return ConvertedPrompt(
        filename=target.name,
        path=target,
        staged=staged,
        duration_seconds=round(final_seconds, 2),
    )


def remove_prompt_file(prompts_dir: Path, filename: str) -> None:
    """Delete a stored prompt file (ignoring one already gone); refuses paths outside."""
    target = (prompts_dir / filename).resolve()
    if target.parent != prompts_dir.resolve():
        raise ValueError(f"refusing to delete {filename!r} outside {prompts_dir}")
    with contextlib.suppress(FileNotFoundError):
        target.unlink()
