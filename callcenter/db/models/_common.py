"""Column helpers shared by the model modules."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Default for created/updated columns; application code passes its clock's time instead."""
    return datetime.now(UTC)
