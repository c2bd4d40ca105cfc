"""After-call survey answers: the score a caller pressed once the agent hung up.

Tied to the call by Asterisk's ``linkedid`` (the key of ``calls``), not by a
foreign key: the answer arrives over FastAGI while the call record is still
being written by the AMI recorder.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.base import Base


class CallSurvey(Base):
    __tablename__ = "call_surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), index=True, doc="calls.linkedid")
    uniqueid: Mapped[str] = mapped_column(
        String(64), unique=True, doc="The caller's channel: one answer per channel"
    )
    score: Mapped[int] = mapped_column(doc="1 (bad) to 5 (excellent)")
    caller: Mapped[str] = mapped_column(String(40), default="")
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    answered_at: Mapped[datetime] = mapped_column(index=True)
