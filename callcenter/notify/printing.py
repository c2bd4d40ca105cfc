"""Print jobs: the rendered job sheet (``tickets.render_print_sheet``) handed to a printer.

``SpoolPrinter`` writes each job as an HTML file into a spool folder that a print
station watches (or a person opens); ``LogPrinter`` keeps jobs in memory for the demo
and tests. The department's page can also print the same sheet on demand.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

from callcenter.notify.outbox import OutgoingMessage

log = logging.getLogger(__name__)


class SpoolPrinter:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, message: OutgoingMessage) -> Path:
        department = re.sub(r"[^A-Za-z0-9_-]", "_", message.recipient)[:48] or "department"
        return self.folder / department / f"job-{message.id}.html"

    async def send(self, message: OutgoingMessage) -> None:
        path = self.path_for(message)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".part")
            partial.write_text(message.body_html, encoding="utf-8")
            partial.replace(path)  # the print station never sees half a file; a retry overwrites

        await asyncio.to_thread(write)


class LogPrinter:
    def __init__(self) -> None:
        self.jobs: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> None:
        log.info("print job %s for %s: %s", message.id, message.recipient, message.subject)
        self.jobs.append(message)
