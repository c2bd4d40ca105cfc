"""The organisation: handling departments and the call categories mapped to them."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.db.base import Base


class Department(Base):
    """A team that handles tickets (Kinh doanh, Dịch vụ, Phụ tùng, Đại lý, CSKH)."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(
        String(40), default="", doc="Number or extension for transfers"
    )
    notify_channels: Mapped[str] = mapped_column(
        String(64), default="inbox,email", doc="Comma list: inbox, email, sms, print"
    )
    sms_number: Mapped[str] = mapped_column(String(20), default="", doc="E.164, for SMS")
    active: Mapped[bool] = mapped_column(default=True)

    categories: Mapped[list[Category]] = relationship(back_populates="department")


class Category(Base):
    """What a call is about; decides which department gets the ticket and its SLA."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    name_en: Mapped[str] = mapped_column(String(160), default="")
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    sla_hours: Mapped[int] = mapped_column(default=24)
    active: Mapped[bool] = mapped_column(default=True)

    department: Mapped[Department | None] = relationship(back_populates="categories")
