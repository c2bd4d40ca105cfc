"""A TRUNCATE of a table the reports read marks every stored day of its reports stale
(PostgreSQL; SQLite has no TRUNCATE): the row triggers of 0016 see no rows then, so a
truncate used to leave the stored days counting rows that were gone.

Revision ID: 0017
Revises: 0016
"""

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the tables and the reports each feeds, as 0016 marks them
_ROLLUP = importlib.import_module("callcenter.db.migrations.versions.0016_report_rollup")


def _kinds(table: str) -> list[str]:
    return sorted({kind for kind, *_ in _ROLLUP.MARKS[table]})


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    past, far = _ROLLUP.PAST["postgresql"], _ROLLUP.FAR["postgresql"]
    for table in _ROLLUP.MARKS:
        name = f"report_stale_{table}_truncate"
        marks = " ".join(
            f"INSERT INTO report_stale (kind, at_from, at_to) VALUES ('{kind}', {past}, {far});"
            for kind in _kinds(table)
        )
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"{marks} RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {name} AFTER TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _ROLLUP.MARKS:
        name = f"report_stale_{table}_truncate"
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
