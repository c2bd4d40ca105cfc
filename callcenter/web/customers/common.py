"""What the customer pages, API, import and export share: who may use them, the
logged-in user and their language, the visibility rule (agents see the customers
they served), the search filter read from a query string, a temporary .xlsx file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select

from callcenter.auth.scope import customer_filter
from callcenter.core.customers import CUSTOMER_TYPES
from callcenter.core.roles import Role
from callcenter.db.models.customers import Customer
from callcenter.db.repos import customers as repo
from callcenter.i18n import translations
from callcenter.web.access import CurrentUser, current_user
from callcenter.web.auth import request_language

VIEW_ROLES = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
DATA_ROLES = (Role.SUPERVISOR, Role.ADMIN)  # import and export
PAGE_SIZE = 50
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def logged_in_user(request: web.Request) -> CurrentUser:
    user = current_user(request)
    assert user is not None  # the access middleware lets only logged-in users through
    return user


def gettext_for(request: web.Request) -> Any:
    return translations(request_language(request)).gettext


def sees_all(user: CurrentUser) -> bool:
    return user.role in (Role.SUPERVISOR, Role.ADMIN)


async def visible_customer(request: web.Request, session: Any, customer_id: int) -> Customer:
    """The customer, if this user may see it; 404 otherwise (no hint that it exists)."""
    user = logged_in_user(request)
    query = select(Customer.id).where(Customer.id == customer_id, customer_filter(user))
    if (await session.execute(query)).first() is None:
        raise web.HTTPNotFound(text=gettext_for(request)("No such customer."))
    customer = await repo.get_customer(session, customer_id)
    if customer is None:
        raise web.HTTPNotFound(text=gettext_for(request)("No such customer."))
    return customer


def filter_from(query: Any) -> repo.CustomerFilter:
    kind = query.get("type", "")
    return repo.CustomerFilter(
        text=query.get("q", "")[:200],
        province=query.get("province", "")[:80],
        customer_type=kind if kind in CUSTOMER_TYPES else "",
        tag=query.get("tag", "")[:40],
    )


@contextlib.asynccontextmanager
async def temporary_xlsx() -> AsyncIterator[Path]:
    fd, name = await asyncio.to_thread(tempfile.mkstemp, ".xlsx")
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        await asyncio.to_thread(path.unlink, True)
