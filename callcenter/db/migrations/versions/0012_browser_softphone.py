"""Browser softphone (issue 17): each user's phone kind (desk or browser) and the
browser endpoint's generated SIP password.

Only ADD COLUMN (with a server default) and, going down, native DROP COLUMN: ``users``
is never rebuilt on SQLite.

Revision ID: 0012
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("phone_kind", sa.String(16), nullable=False, server_default="desk")
    )
    op.add_column(
        "users", sa.Column("sip_secret", sa.String(64), nullable=False, server_default="")
    )


def downgrade() -> None:
    op.drop_column("users", "sip_secret")
    op.drop_column("users", "phone_kind")
