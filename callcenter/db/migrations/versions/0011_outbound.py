"""Outbound work (issue 16): do-not-call reason and marker, call lists (lead lists and care
campaigns) with their items, opportunities, care rules and what they fired.

``customers`` only gets ADD COLUMN (never rebuilt on SQLite).

Revision ID: 0011
Revises: 0009 (the head main had when this branch was merged)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db.base

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = callcenter.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "customers",
        sa.Column("do_not_call_reason", sa.String(length=300), nullable=False, server_default=""),
    )
    op.add_column(
        "customers",
        sa.Column("do_not_call_by_id", sa.Integer(), nullable=True),
    )
    op.add_column("customers", sa.Column("do_not_call_at", UTC, nullable=True))
    op.create_table(
        "call_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("filter", sa.JSON(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("order_by", sa.String(length=12), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("agent_ids", sa.JSON(), nullable=False),
        sa.Column("group", sa.String(length=48), nullable=False),
        sa.Column("script", sa.Text(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("skipped_do_not_call", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["import_id"], ["customer_imports.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "call_list_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("conversion", sa.String(length=12), nullable=False),
        sa.Column("handled_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["list_id"], ["call_lists.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["handled_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("list_id", "customer_id"),
    )
    op.create_index("ix_call_list_items_list_id", "call_list_items", ["list_id"])
    op.create_index("ix_call_list_items_customer_id", "call_list_items", ["customer_id"])
    op.create_index("ix_call_list_items_task_id", "call_list_items", ["task_id"])
    op.create_index("ix_call_list_items_status", "call_list_items", ["status"])
    op.create_table(
        "opportunities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("vehicle_model", sa.String(length=120), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("value_vnd", sa.BigInteger(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["item_id"], ["call_list_items.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_opportunities_customer_id", "opportunities", ["customer_id"])
    op.create_table(
        "care_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("offset_days", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("group", sa.String(length=48), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "care_firings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("vehicle_key", sa.String(length=17), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("fired_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["rule_id"], ["care_rules.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rule_id", "customer_id", "vehicle_key", "on_date"),
    )
    op.create_index("ix_care_firings_customer_id", "care_firings", ["customer_id"])


def downgrade() -> None:
    op.drop_table("care_firings")
    op.drop_table("care_rules")
    op.drop_table("opportunities")
    op.drop_table("call_list_items")
    op.drop_table("call_lists")
    for column in ("do_not_call_at", "do_not_call_by_id", "do_not_call_reason"):
        op.drop_column("customers", column)  # native DROP COLUMN: never rebuild customers
