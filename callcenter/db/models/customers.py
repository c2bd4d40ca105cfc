"""Customers, their phone numbers (E.164) and vehicles, the trail of their changes, imports.

Every change to a customer (form, import, call) appends a ``CustomerChange`` with
old and new values, so an import that overwrote an address can be traced and undone
by hand. An import (``CustomerImport``) keeps its counts, progress and rejected rows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.db.base import Base
from callcenter.db.models._common import utcnow


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_search: Mapped[str] = mapped_column(
        String(200), default="", index=True, doc="Lower-case name without diacritics, for search"
    )
    email: Mapped[str] = mapped_column(String(200), default="")
    birthday: Mapped[date | None] = mapped_column(Date)
    province: Mapped[str] = mapped_column(String(80), default="")
    district: Mapped[str] = mapped_column(String(80), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    customer_type: Mapped[str] = mapped_column(String(16), default="individual")
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(24), default="hotline")
    do_not_call: Mapped[bool] = mapped_column(default=False)
    do_not_call_reason: Mapped[str] = mapped_column(String(300), default="")
    do_not_call_by_id: Mapped[int | None] = mapped_column(
        doc="the user who marked it (a plain id: SQLite cannot add a foreign key in place)"
    )
    do_not_call_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    phones: Mapped[list[CustomerPhone]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerPhone.id"
    )
    vehicles: Mapped[list[Vehicle]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="Vehicle.id"
    )


class CustomerPhone(Base):
    """One number of a customer, always normalised to E.164 (+84...)."""

    __tablename__ = "customer_phones"
    __table_args__ = (UniqueConstraint("customer_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(20), index=True)
    is_primary: Mapped[bool] = mapped_column(default=False)
    label: Mapped[str] = mapped_column(String(40), default="")

    customer: Mapped[Customer] = relationship(back_populates="phones")


class Vehicle(Base):
    __tablename__ = "vehicles"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    vin: Mapped[str] = mapped_column(String(17), unique=True)
    model: Mapped[str] = mapped_column(String(120), default="")
    plate: Mapped[str] = mapped_column(String(20), default="", index=True)
    plate_key: Mapped[str] = mapped_column(
        String(20), default="", index=True, doc="Plate without spaces or punctuation, upper-case"
    )
    purchase_date: Mapped[date | None] = mapped_column(Date)
    warranty_end: Mapped[date | None] = mapped_column(Date)
    dealer: Mapped[str] = mapped_column(String(160), default="")

    customer: Mapped[Customer] = relationship(back_populates="vehicles")


class CustomerChange(Base):
    """One change to a customer: who, when, through what, and each field's old and new value."""

    __tablename__ = "customer_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(16), doc="created or updated")
    via: Mapped[str] = mapped_column(String(16), default="web", doc="web, import, api, call")
    import_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer_imports.id", ondelete="SET NULL"), index=True
    )
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    customer: Mapped[Customer] = relationship(lazy="raise")


class CustomerImport(Base):
    """An Excel import: its file, column mapping, preview and result counts, and progress."""

    __tablename__ = "customer_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    stored_path: Mapped[str] = mapped_column(String(500), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    size_bytes: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(
        String(16),
        default="uploaded",
        doc="uploaded, previewing, previewed, importing, done, failed",
    )
    sheet: Mapped[str] = mapped_column(String(120), default="")
    header_row: Mapped[int] = mapped_column(default=0)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    headers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    total_rows: Mapped[int] = mapped_column(default=0, doc="Estimate from the sheet's size")
    processed_rows: Mapped[int] = mapped_column(default=0)
    preview_counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result_counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class CustomerImportReject(Base):
    """A row an import refused, with its original cells and the reason (for the .xlsx)."""

    __tablename__ = "customer_import_rejects"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(
        ForeignKey("customer_imports.id", ondelete="CASCADE"), index=True
    )
    row_number: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    cells: Mapped[list[Any]] = mapped_column(JSON, default=list)
