"""Default Vietnamese prompts, generated with espeak-ng and converted by sox for Asterisk.

Asterisk ships no Vietnamese sounds, so a fresh installation would be silent.
These defaults (the names the production dialplan plays, plus the digits used
to announce a caller's position) are spoken by espeak-ng's Vietnamese voice and
converted to what Asterisk plays without transcoding: 8 kHz, mono, 16-bit WAV.
The admin replaces any of them by uploading a recording.

    python -m callcenter.prompts_default /var/lib/asterisk/sounds/callcenter
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: file name (without .wav) → Vietnamese text
PROMPTS: dict[str, str] = {
    "recording-notice": "Cuộc gọi này có thể được ghi âm để nâng cao chất lượng phục vụ.",
    "closed": "Tổng đài hiện đã ngoài giờ làm việc.",
    "holiday": "Hôm nay là ngày nghỉ lễ, tổng đài tạm nghỉ.",
    "callback-offer": "Để được gọi lại, xin bấm phím một.",
    "menu": "Kinh doanh, bấm phím một. Dịch vụ, bấm phím hai. Phụ tùng, bấm phím ba. "
    "Đại lý, bấm phím bốn.",
    "invalid": "Phím quý khách chọn không hợp lệ. Xin vui lòng chọn lại.",
    "please-wait": "Tất cả điện thoại viên đang bận. Xin quý khách vui lòng giữ máy.",
    "position": "Quý khách đang ở vị trí số",
    "sorry": "Xin lỗi, hiện chưa có điện thoại viên nào trả lời. Xin quý khách gọi lại sau.",
    "overflow": "Quý khách đã chờ lâu. Để được gọi lại, xin bấm phím một.",
    "callback-registered": "Cảm ơn quý khách. Chúng tôi sẽ gọi lại trong thời gian sớm nhất.",
    "leave-message": "Xin quý khách để lại lời nhắn sau tiếng bíp, rồi gác máy.",
    "survey": "Xin quý khách chấm điểm chất lượng phục vụ, từ một đến năm.",
    "survey-thanks": "Cảm ơn quý khách đã đánh giá. Xin chào quý khách.",
}

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín", "mười")


def all_prompts() -> dict[str, str]:
    """Every default prompt, digits included (``digits/0`` … ``digits/10``)."""
    prompts = dict(PROMPTS)
    prompts.update({f"digits/{n}": word for n, word in enumerate(DIGITS)})
    return prompts


class PromptToolMissing(RuntimeError):
    """espeak-ng or sox is not installed."""


def synthesize(text: str, target: Path) -> Path:
    """Speak ``text`` in Vietnamese into ``target`` (8 kHz mono 16-bit WAV)."""
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if espeak is None or sox is None:
        raise PromptToolMissing("espeak-ng and sox are needed to generate the default prompts")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        raw = Path(work) / "speech.wav"
        subprocess.run(
            [espeak, "-v", "vi", "-s", "150", "-w", str(raw), text], check=True, capture_output=True
        )
        subprocess.run(
            [
                sox,
                str(raw),
                "-r",
                "8000",
                "-c",
                "1",
                "-b",
                "16",
                "-e",
                "signed-integer",
                str(target),
            ],
            check=True,
            capture_output=True,
        )
    return target


def generate(
    directory: Path, names: list[str] | None = None, *, overwrite: bool = False
) -> list[Path]:
    """Write the default prompts into ``directory``; existing files are kept unless ``overwrite``."""
    prompts = all_prompts()
    written = []
    for name in names or list(prompts):
        target = directory / f"{name}.wav"
        if target.exists() and not overwrite:
            continue
        written.append(synthesize(prompts[name], target))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    try:
        written = generate(args.directory, overwrite=args.overwrite)
    except PromptToolMissing as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{len(written)} prompts written to {args.directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
