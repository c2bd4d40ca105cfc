"""Background tasks that are watched: a failure is logged once with its cause, then handled.

The daemon's long-running loops (the AMI link, the call-record writer, the ACD's timers
and state writer, the disk-space monitor) run through :func:`supervise`. A loop that
raises is restarted after a backoff that doubles up to a ceiling, or, when it cannot
usefully restart, the daemon is asked to stop with a clear message (``on_fatal``).
:func:`stop` ends a task at shutdown and logs, rather than swallows, what it raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class TaskFailed(Exception):
    """A background task failed too often to go on; the message names it and its cause."""


def supervise(
    name: str,
    factory: Callable[[], Coroutine[Any, Any, None]],
    *,
    backoff: float = 1.0,
    backoff_max: float = 30.0,
    on_fatal: Callable[[str], None] | None = None,
    max_restarts: int = 5,
    sleep: Sleep = asyncio.sleep,
) -> asyncio.Task[None]:
    """Run ``factory()`` in a task; if it raises, restart it with backoff.

    The first failure of a kind (type and message) is logged with its traceback; the same
    failure again is counted on one line, so a crash loop does not flood the log. A run
    that lasted ``backoff_max`` seconds or more counts as healthy: the backoff and the
    count start over. With ``on_fatal`` (the daemon's ``SHUTDOWN``), more than
    ``max_restarts`` failures in a row stop the daemon with one line instead. A coroutine
    that returns normally is done: loops that should never end do not return.
    """

    async def run() -> None:
        loop = asyncio.get_running_loop()
        delay = backoff
        failures = 0
        seen: dict[tuple[type[BaseException], str], int] = {}
        while True:
            started = loop.time()
            try:
                await factory()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if loop.time() - started >= backoff_max:
                    delay, failures = backoff, 0
                failures += 1
                kind = (type(exc), str(exc))
                seen[kind] = seen.get(kind, 0) + 1
                if on_fatal is not None and failures > max_restarts:
                    log.error("%s failed %d times in a row; stopping", name, failures)
                    on_fatal(
                        f"{name} failed {failures} times in a row: {type(exc).__name__}: {exc}"
                    )
                    return
                if seen[kind] == 1:
                    log.error("%s failed; restarting in %.1f s", name, delay, exc_info=exc)
                else:
                    log.warning(
                        "%s failed again (%d times: %s); restarting in %.1f s",
                        name,
                        seen[kind],
                        type(exc).__name__,
                        delay,
                    )
            await sleep(delay)
            delay = min(delay * 2, backoff_max)

    return asyncio.get_running_loop().create_task(run(), name=name)


async def stop(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait for it; log (do not hide) anything it raised but the cancel."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # we are being cancelled ourselves, not just the task
    except Exception:
        log.exception("background task %s failed while stopping", task.get_name())
