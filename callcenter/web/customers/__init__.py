"""Customers, one room: search, the customer page (details, vehicles, calls, tickets,
history), the edit form, the JSON API, and Excel import (upload → preview → confirm →
progress) and export.

Agents, supervisors and admins use the pages; agents see only the customers
they served (``auth/scope.customer_filter``). Import and export are for
supervisors and admins; every export is written to the audit log. Imports run
as background tasks (one per import) so the page can show a progress bar while
the daemon keeps answering calls.

- ``pages.py`` — the HTML pages and forms;
- ``api.py`` — ``/api/customers`` and ``/api/customers/by-phone/{number}``;
- ``schemas.py`` — the JSON shapes and their OpenAPI schemas;
- ``imports.py`` — Excel import, its background jobs and progress polling;
- ``exports.py`` — Excel export;
- ``common.py`` — roles, the logged-in user, visibility, the search filter.

The business rules live in ``core/customers.py``, the queries in ``db/repos/customers.py``.
"""

from __future__ import annotations

from aiohttp import web

from callcenter.web.customers import api, exports, imports, pages


def setup(app: web.Application) -> None:
    """Register the room's routes (pages, API, import, export) and the import jobs' lifetime."""
    app[imports.IMPORT_JOBS] = {}
    app.cleanup_ctx.append(imports.jobs_ctx)
    app.router.add_routes(pages.routes)
    app.router.add_routes(api.routes)
    app.router.add_routes(imports.routes)
    app.router.add_routes(exports.routes)
