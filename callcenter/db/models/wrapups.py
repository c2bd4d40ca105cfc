"""After-call work: what the agent decided each call becomes (issue 8).

One row per call handled by an agent, written when the agent saves the wrap-up
form or when the wrap-up time runs out. It links the call to the ticket it
created or was added to, so reports count every call by category even when
several calls share one ticket.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.base import Base


class CallWrapUp(Base):
    __tablename__ = "call_wrapups"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    outcome: Mapped[str] = mapped_column(
        String(16), doc="new_ticket, add_to_open, info_only, uncategorized"
    )
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), index=True
    )
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    priority: Mapped[str] = mapped_column(String(12), default="normal")
    notes: Mapped[str] = mapped_column(Text, default="")
    timed_out: Mapped[bool] = mapped_column(default=False)
    saved_at: Mapped[datetime] = mapped_column(index=True)
