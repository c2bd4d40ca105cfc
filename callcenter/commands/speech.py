"""``callcenter speech check`` and ``callcenter speech transcribe FILE``: does the configured
speech model load, and what does it make of a recording (the "doctor" for transcription)."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from callcenter.config import Settings
from callcenter.stt.pool import (
    EngineFailed,
    EngineSpec,
    RecogniserPool,
    WorkerDied,
    check_model,
    default_worker_count,
)
from callcenter.stt.recogniser import AudioError


def _spec(settings: Settings) -> EngineSpec | None:
    speech = settings.speech
    if not speech.model_path:
        return None
    return EngineSpec(speech.engine, speech.model_path, speech.niceness)


def _cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    spec = _spec(settings)
    if spec is None:
        print("speech: no model configured (speech.model_path): recordings are not transcribed")
        return 2
    workers = settings.speech.workers
    count = default_worker_count() if workers is None else workers
    started = time.perf_counter()
    try:
        info = asyncio.run(check_model(spec))
    except (EngineFailed, WorkerDied) as exc:
        print(f"speech: the model does not load: {exc}")
        return 2
    print(
        f"speech: OK, {info['engine']} model {info['model']} loads from {spec.model_path} "
        f"in {time.perf_counter() - started:.1f} s; "
        + (f"{count} worker process(es)" if count else "transcription is off (speech.workers=0)")
    )
    return 0


def _cmd_transcribe(args: argparse.Namespace, settings: Settings) -> int:
    spec = _spec(settings)
    if spec is None:
        print("speech: no model configured (speech.model_path)")
        return 2

    async def run() -> Any:
        pool = RecogniserPool(spec, 1)
        await pool.start()
        try:
            return await pool.transcribe(Path(args.file))
        finally:
            await pool.close()

    try:
        result = asyncio.run(run())
    except (EngineFailed, WorkerDied, AudioError) as exc:
        print(f"speech: {exc}")
        return 2
    print(result.text)
    print(
        f"-- {len(result.words)} words, {result.duration:.1f} s of audio at "
        f"{result.sample_rate} Hz in {result.elapsed:.1f} s "
        f"({1 / result.real_time_factor if result.real_time_factor else 0:.1f}x real time)"
    )
    return 0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    speech = subparsers.add_parser("speech", help="offline transcription: check the model")
    speech_sub = speech.add_subparsers(dest="speech_command", required=True)
    check = speech_sub.add_parser("check", help="say whether the configured model loads")
    check.set_defaults(func=_cmd_check)
    transcribe = speech_sub.add_parser("transcribe", help="transcribe one WAV file")
    transcribe.add_argument("file")
    transcribe.set_defaults(func=_cmd_transcribe)
