"""The job sheet as a PDF: what a print station or a printer queue takes without a browser.

WeasyPrint lays out the same HTML the print page serves (A4, DejaVu Sans for Vietnamese)
into a PDF. It is CPU work of tens of milliseconds, so callers run it in a thread, never
on the event loop.
"""

from __future__ import annotations

import weasyprint  # type: ignore[import-untyped]


def render_pdf(html: str) -> bytes:
    """The PDF of a self-contained HTML page (its styles inline, no outside resources)."""
    document: bytes = weasyprint.HTML(string=html).write_pdf()
    return document
