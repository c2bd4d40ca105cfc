"""Excel export of the filtered customers (same columns as the import); every export
is written to the audit log.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from callcenter.db.repos.audit import record
from callcenter.excel import export
from callcenter.registry import SESSIONMAKER
from callcenter.web.access import allow
from callcenter.web.auth import client_address
from callcenter.web.customers.common import (
    DATA_ROLES,
    XLSX_TYPE,
    filter_from,
    logged_in_user,
    temporary_xlsx,
)

routes = web.RouteTableDef()


@routes.get("/customers/export.xlsx", name="customer_export")
@allow(*DATA_ROLES)
async def export_download(request: web.Request) -> web.StreamResponse:
    """The filtered customers as .xlsx (same columns as the import); audited."""
    where = filter_from(request.query)
    user = logged_in_user(request)
    async with temporary_xlsx() as path:
        count = await export.export_customers(request.app[SESSIONMAKER], where, path)
        async with request.app[SESSIONMAKER]() as session, session.begin():
            await record(
                session,
                action="export",
                user=user,
                target="customers",
                address=client_address(request),
                details={"count": count, **where.__dict__},
            )
        response = web.StreamResponse(
            headers={
                "Content-Type": XLSX_TYPE,
                "Content-Disposition": 'attachment; filename="customers.xlsx"',
            }
        )
        await response.prepare(request)
        handle = await asyncio.to_thread(path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, 1 << 20):
                await response.write(chunk)
        finally:
            handle.close()
        await response.write_eof()
    return response
