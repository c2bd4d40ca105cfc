"""Calls as the call tracker sees them: one record per call, one attempt per offer to an agent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.db.base import Base


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    linkedid: Mapped[str] = mapped_column(
        String(64), unique=True, doc="Asterisk Linkedid of the call"
    )
    direction: Mapped[str] = mapped_column(String(10), default="inbound")
    caller_number: Mapped[str] = mapped_column(String(40), default="", index=True)
    caller_name: Mapped[str] = mapped_column(String(120), default="")
    dialed_number: Mapped[str] = mapped_column(String(40), default="")
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(index=True)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    wait_seconds: Mapped[float] = mapped_column(default=0.0)
    talk_seconds: Mapped[float] = mapped_column(default=0.0)
    hold_seconds: Mapped[float] = mapped_column(default=0.0)
    disposition: Mapped[str] = mapped_column(String(16), default="active", index=True)
    hangup_cause: Mapped[str] = mapped_column(String(40), default="")
    hangup_by: Mapped[str] = mapped_column(String(16), default="")
    recording_path: Mapped[str] = mapped_column(String(300), default="")
    queue: Mapped[str] = mapped_column(String(80), default="")
    route_group: Mapped[str] = mapped_column(
        String(32), default="", doc="ACD group the caller was routed to (hotline's or IVR choice)"
    )
    agent_interface: Mapped[str] = mapped_column(
        String(120), default="", doc="Interface of the first agent who answered"
    )
    end_estimated: Mapped[bool] = mapped_column(
        default=False, doc="Ended while the AMI link was down: ended_at is the resync time"
    )

    attempts: Mapped[list[CallAttempt]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="CallAttempt.id"
    )
    transfers: Mapped[list[CallTransfer]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="CallTransfer.id"
    )


class CallAttempt(Base):
    """One offer of a call to one agent's phone, and what became of it."""

    __tablename__ = "call_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    interface: Mapped[str] = mapped_column(String(120), default="")
    offered_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(
        String(16),
        default="ringing",
        doc="answered, noanswer, busy, rejected, caller_gone, cancelled, failed",
    )
    uniqueid: Mapped[str] = mapped_column(
        String(64), default="", index=True, doc="Asterisk Uniqueid of the dialled channel"
    )
    queue: Mapped[str] = mapped_column(String(80), default="")
    answered_at: Mapped[datetime | None]

    call: Mapped[Call] = relationship(back_populates="attempts")


class CallTransfer(Base):
    """A transfer of the call away from an agent: blind, attended or redirect."""

    __tablename__ = "call_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    from_interface: Mapped[str] = mapped_column(String(120), default="")
    target: Mapped[str] = mapped_column(String(120), default="")

    call: Mapped[Call] = relationship(back_populates="transfers")
