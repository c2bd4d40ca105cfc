"""Vosk (Kaldi) as a :class:`~callcenter.stt.recogniser.Recogniser`.

The model is loaded once per process (about 0.5 GB for a big model, 50 MB for
``vosk-model-small-vn``); each file gets a fresh ``KaldiRecognizer`` at the file's own
sample rate, with word timings and confidences switched on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from callcenter.stt.recogniser import Transcription, Word, open_pcm, timed

ENGINE = "vosk"


class ModelMissing(Exception):
    """The configured model folder does not hold a Vosk model."""


def model_name(model_path: Path) -> str:
    """A model's name for the record: its folder name, or the package's for ``…/model``."""
    path = model_path.resolve()
    return path.parent.name if path.name == "model" else path.name


class VoskRecogniser:
    engine = ENGINE

    def __init__(self, model_path: str | Path) -> None:
        import vosk

        path = Path(model_path)
        if not path.is_dir() or (not (path / "am").is_dir() and not (path / "final.mdl").exists()):
            raise ModelMissing(f"no Vosk model in {path} (speech.model_path)")
        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self._model = vosk.Model(str(path))
        self.model = model_name(path)

    def transcribe(self, path: Path) -> Transcription:
        wav, audio = open_pcm(path)
        started = timed()
        try:
            recogniser = self._vosk.KaldiRecognizer(self._model, float(audio.sample_rate))
            recogniser.SetWords(True)
            words: list[Word] = []
            for chunk in audio.chunks:
                if recogniser.AcceptWaveform(chunk):
                    words.extend(_words(json.loads(recogniser.Result())))
            words.extend(_words(json.loads(recogniser.FinalResult())))
        finally:
            wav.close()
        return Transcription(
            text=" ".join(w.word for w in words),
            words=words,
            engine=self.engine,
            model=self.model,
            duration=audio.duration,
            elapsed=timed() - started,
            sample_rate=audio.sample_rate,
        )


def _words(result: dict[str, Any]) -> list[Word]:
    return [
        Word(
            str(w["word"]),
            round(float(w["start"]), 3),
            round(float(w["end"]), 3),
            round(float(w.get("conf", 1.0)), 3),
        )
        for w in result.get("result", [])
    ]
