"""Worker processes that each load the model once and transcribe one file at a time.

Why processes and not threads: recognition is CPU-bound C++ that holds the GIL for
long stretches in places, and a crash in it (or the kernel's OOM killer) must not
take the daemon with it. Each worker is started with ``spawn`` (no copy of the
daemon's event loop or sockets), lowers its own priority (``os.nice``) so calls win
the CPU, loads the model, says it is ready, then answers requests over a pipe.

The parent waits for answers with ``loop.add_reader`` on the pipe, never blocking the
event loop. A worker that dies (killed, crashed) is noticed as an end-of-file on its
pipe: the request fails with :class:`WorkerDied` and a fresh worker replaces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from callcenter.stt.codec import compress_opus
from callcenter.stt.recogniser import AudioError, Recogniser, Transcription

log = logging.getLogger(__name__)

#: How much lower than the daemon the workers run (``os.nice`` increment).
DEFAULT_NICENESS = 10


class WorkerDied(Exception):
    """The worker process ended while transcribing (killed, crashed, out of memory)."""


class EngineFailed(Exception):
    """The engine raised on this file, or could not load its model; the message says why."""


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """What a worker process builds: picklable, so it crosses the process boundary."""

    engine: str
    model_path: str
    niceness: int = DEFAULT_NICENESS


def default_worker_count() -> int:
    """Cores − 1, at least 1: one core stays with the daemon and Asterisk."""
    return max(1, (os.cpu_count() or 1) - 1)


def build_recogniser(spec: EngineSpec) -> Recogniser:
    if spec.engine == "vosk":
        from callcenter.stt.vosk_engine import VoskRecogniser

        return VoskRecogniser(spec.model_path)
    raise EngineFailed(f"unknown speech engine {spec.engine!r}")


def _worker_main(spec: EngineSpec, conn: Connection) -> None:
    """The worker process: lower priority, load once, then one request at a time."""
    with contextlib.suppress(OSError):
        os.nice(spec.niceness)
    try:
        recogniser = build_recogniser(spec)
    except Exception as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", {"engine": recogniser.engine, "model": recogniser.model}))
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        operation, path = request
        try:
            if operation == "compress":
                answer: Any = str(compress_opus(Path(path)))
            else:
                answer = recogniser.transcribe(Path(path)).to_dict()
        except AudioError as exc:
            conn.send(("audio_error", str(exc)))
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        else:
            conn.send(("done", answer))


async def _receive(conn: Connection) -> Any:
    """The next message on ``conn`` without blocking the loop; EOF when the peer died."""
    loop = asyncio.get_running_loop()
    while not conn.poll():
        readable: asyncio.Future[None] = loop.create_future()

        def wake(future: asyncio.Future[None] = readable) -> None:
            if not future.done():
                future.set_result(None)

        loop.add_reader(conn.fileno(), wake)
        try:
            await readable
        finally:
            loop.remove_reader(conn.fileno())
    return conn.recv()


class Worker:
    """One process and its pipe."""

    def __init__(self, spec: EngineSpec, index: int) -> None:
        self.spec = spec
        self.index = index
        self.process: BaseProcess | None = None
        self.conn: Connection | None = None
        self.started = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def start(self) -> dict[str, Any]:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_worker_main,
            args=(self.spec, child),
            name=f"stt-worker-{self.index}",
            daemon=True,
        )
        await asyncio.to_thread(process.start)  # spawning imports Python: not on the loop
        child.close()
        self.process, self.conn = process, parent
        self.started += 1
        try:
            kind, payload = await _receive(parent)
        except (EOFError, OSError):
            await self.stop()
            raise WorkerDied("the worker ended while loading the model") from None
        if kind != "ready":
            await self.stop()
            raise EngineFailed(str(payload))
        info: dict[str, Any] = payload
        return info

    async def ask(self, operation: str, path: Path) -> Any:
        """One request ("transcribe" or "compress") and its answer; WorkerDied if it dies."""
        assert self.conn is not None
        try:
            self.conn.send((operation, str(path)))
            kind, payload = await _receive(self.conn)
        except (EOFError, OSError, BrokenPipeError):
            code = await self._reap()
            raise WorkerDied(f"the worker process ended (exit code {code})") from None
        if kind == "done":
            return payload
        if kind == "audio_error":
            raise AudioError(payload)
        raise EngineFailed(str(payload))

    async def _reap(self) -> int | None:
        process = self.process
        if process is None:
            return None
        await asyncio.to_thread(process.join, 5)
        code = process.exitcode
        await self.stop()
        return code

    async def stop(self) -> None:
        process, conn = self.process, self.conn
        self.process = self.conn = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send(None)
            conn.close()
        if process is not None:
            await asyncio.to_thread(process.join, 2)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join, 2)
            process.close()


class RecogniserPool:
    """``count`` workers; :meth:`transcribe` waits for a free one. A dead worker is
    replaced before it takes the next file."""

    def __init__(self, spec: EngineSpec, count: int) -> None:
        self.spec = spec
        self.workers = [Worker(spec, index) for index in range(max(1, count))]
        self._free: asyncio.Queue[Worker] = asyncio.Queue()
        self._busy: set[int] = set()
        self.info: dict[str, Any] = {}
        self.replaced = 0

    @property
    def size(self) -> int:
        return len(self.workers)

    def pids(self) -> list[int]:
        return [w.pid for w in self.workers if w.pid is not None]

    def busy_pids(self) -> list[int]:
        return [w.pid for w in self.workers if w.pid is not None and w.index in self._busy]

    async def start(self) -> None:
        """Start every worker (models load in parallel); raise if the model cannot load."""
        try:
            infos = await asyncio.gather(*(w.start() for w in self.workers))
        except BaseException:
            await self.close()
            raise
        self.info = infos[0]
        for worker in self.workers:
            self._free.put_nowait(worker)

    async def transcribe(self, path: Path) -> Transcription:
        return Transcription.from_dict(await self._ask("transcribe", path))

    async def compress(self, path: Path) -> Path:
        """The WAV as Opus in Ogg beside it (``codec.compress_opus``), encoded in a worker."""
        return Path(await self._ask("compress", path))

    async def _ask(self, operation: str, path: Path) -> Any:
        worker = await self._free.get()
        self._busy.add(worker.index)
        try:
            if worker.process is None:  # died last time: replace it first
                await worker.start()
                self.replaced += 1
                log.warning("speech worker %d replaced", worker.index)
            return await worker.ask(operation, path)
        finally:
            self._busy.discard(worker.index)
            self._free.put_nowait(worker)

    async def close(self) -> None:
        await asyncio.gather(*(w.stop() for w in self.workers), return_exceptions=True)


async def check_model(spec: EngineSpec) -> dict[str, Any]:
    """Load the model in one throw-away worker: what ``callcenter doctor`` reports."""
    worker = Worker(spec, 0)
    try:
        return await worker.start()
    finally:
        await worker.stop()
