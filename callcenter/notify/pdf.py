"""The job sheet as a PDF: what a print station or a printer queue takes without a browser.

WeasyPrint lays out the same HTML the print page serves (A4, DejaVu Sans for Vietnamese)
into a PDF. It is CPU work of tens of milliseconds, so callers run it in a thread, never
on the event loop. It is imported on first use: importing it parses its stylesheets
(a noticeable start-up cost for a daemon that may never print), and its progress log is
kept at warnings so a print job does not write a dozen INFO lines.
"""

from __future__ import annotations

import logging
from typing import Any


def _weasyprint() -> Any:
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    import weasyprint  # type: ignore[import-untyped]

    return weasyprint


def render_pdf(html: str) -> bytes:
    """The PDF of a self-contained HTML page (its styles inline, no outside resources)."""
    document: bytes = _weasyprint().HTML(string=html).write_pdf()
    return document
