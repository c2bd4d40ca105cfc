"""A migrated SQLite database for a test in a fraction of Alembic's time (a copy of the template).

``tests/conftest.py`` migrates one database per run (``migrated_templates``); a
test gets a copy of it at its own ``settings`` path instead of running the
Alembic chain again (the ``migrated_settings`` fixtures of the auth and agent tests).
"""

from __future__ import annotations

import asyncio

from callcenter.config import Settings
from callcenter.db.engine import sqlite_path
from tests.conftest import MigratedTemplates


async def copy_migrated(settings: Settings, templates: MigratedTemplates) -> Settings:
    """Put a copy of the session's migrated template at ``settings``' SQLite path."""
    path = sqlite_path(settings.database.url)
    assert path is not None, "copy_migrated is for the SQLite settings of tests/conftest.py"
    await asyncio.to_thread(templates.sqlite_copy, path)  # Alembic runs its own loop
    return settings
