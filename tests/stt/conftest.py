from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stt.speech_audio import model_folder


@pytest.fixture(scope="session")
def vosk_recogniser() -> Iterator[object]:
    """The real Korean model, loaded once per test session (about 530 MB)."""
    from callcenter.stt.vosk_engine import VoskRecogniser

    yield VoskRecogniser(model_folder())
