"""People who log in: agents, supervisors, department staff and admins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.base import Base
from callcenter.db.models._common import utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(160), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[str] = mapped_column(String(24), default="agent", index=True)
    language: Mapped[str] = mapped_column(String(8), default="vi")
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    is_department_head: Mapped[bool] = mapped_column(default=False)
    department_priority: Mapped[int] = mapped_column(
        default=0, doc="Order within the department (lower gets tickets first)"
    )
    interface: Mapped[str] = mapped_column(
        String(120), default="", doc="Asterisk dial string of the agent's phone, e.g. PJSIP/101"
    )
    extension: Mapped[str] = mapped_column(String(20), default="")
    phone_kind: Mapped[str] = mapped_column(
        String(16),
        default="desk",
        server_default="desk",
        doc="desk: a SIP phone dialled at ``interface``; browser: the agent page's softphone",
    )
    sip_secret: Mapped[str] = mapped_column(
        String(64),
        default="",
        server_default="",
        doc="The browser softphone's SIP password (generated; only its owner ever gets it)",
    )
    active: Mapped[bool] = mapped_column(default=True)
    outbound_mode: Mapped[bool] = mapped_column(
        default=False,
        server_default=false(),
        doc="Blending: working outbound (kept so a daemon restart does not forget it)",
    )
    session_version: Mapped[int] = mapped_column(
        default=1, doc="Bumped on password or role change; older sessions become invalid"
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
