"""Print jobs: the rendered job sheet (``tickets.render_print_sheet``) handed to a printer.

``CommandPrinter`` pipes each job's PDF to a print command — CUPS's ``lp -d <queue>``,
one queue per department (``{department}`` in the command is the department's code);
``SpoolPrinter`` writes each job as PDF and HTML into a spool folder that a print station
watches (or a person opens); ``LogPrinter`` only logs and keeps jobs in memory (the demo,
tests, and a daemon configured with neither). A command that fails raises, so the outbox
retries the job with back-off like an email: a printer out of paper loses no sheet. The
department's page can also print the same sheet, or download its PDF, on demand.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

from callcenter.notify.outbox import OutgoingMessage
from callcenter.notify.pdf import render_pdf

log = logging.getLogger(__name__)


def _department(message: OutgoingMessage) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", message.recipient)[:48] or "department"


class CommandPrinter:
    def __init__(self, command: list[str], *, timeout_seconds: float = 60.0) -> None:
        self.command = command
        self.timeout_seconds = timeout_seconds

    async def send(self, message: OutgoingMessage) -> None:
        document = await asyncio.to_thread(render_pdf, message.body_html)
        argv = [part.replace("{department}", _department(message)) for part in self.command]
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            async with asyncio.timeout(self.timeout_seconds):
                output, _ = await process.communicate(document)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise RuntimeError(f"print command {argv[0]} did not finish") from None
        if process.returncode != 0:
            said = output.decode(errors="replace").strip()[:200]
            raise RuntimeError(f"print command {argv[0]} exited {process.returncode}: {said}")
        log.info("print job %s sent to %s", message.id, " ".join(argv))


class SpoolPrinter:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, message: OutgoingMessage) -> Path:
        return self.folder / _department(message) / f"job-{message.id}.pdf"

    async def send(self, message: OutgoingMessage) -> None:
        path = self.path_for(message)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            for target, content in (
                (path.with_suffix(".html"), message.body_html.encode("utf-8")),
                (path, render_pdf(message.body_html)),
            ):
                partial = target.with_suffix(target.suffix + ".part")
                partial.write_bytes(content)
                partial.replace(target)  # the station never sees half a file; a retry overwrites

        await asyncio.to_thread(write)


class LogPrinter:
    def __init__(self) -> None:
        self.jobs: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> None:
        log.info("print job %s for %s: %s", message.id, message.recipient, message.subject)
        self.jobs.append(message)
