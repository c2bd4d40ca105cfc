"""Logging set-up: human-readable lines by default, one JSON object per line on request.

Code about a call binds its id with :func:`call_context`; every log line written
inside carries ``call_id`` without the caller having to pass it around.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

current_call_id: contextvars.ContextVar[str] = contextvars.ContextVar("call_id", default="-")


@contextlib.contextmanager
def call_context(call_id: str) -> Iterator[None]:
    token = current_call_id.set(call_id)
    try:
        yield
    finally:
        current_call_id.reset(token)


class _CallIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "call_id"):
            record.call_id = current_call_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "call_id": getattr(record, "call_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_CallIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s [call=%(call_id)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Alembic announces each of its own plugins as it is imported: noise at every start.
    logging.getLogger("alembic.runtime.plugins").setLevel(max(root.level, logging.WARNING))
