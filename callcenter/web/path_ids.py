"""Numeric path ids that cannot name a row are a 404 before any handler runs.

Routes such as ``/api/agent/tasks/{id:\\d+}`` accept any run of digits; a handler's
``int(...)`` then hands the database a number over its integer range and the driver
raises (SQLite: OverflowError; PostgreSQL: out of int32 range): a 500 for a mistyped
or hostile URL. Found by the schemathesis run (tests/security/test_api_fuzz.py).
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from callcenter.i18n import N_
from callcenter.web.admin_common import row_id
from callcenter.web.auth import gettext_for

NO_SUCH_ROW = N_("Nothing has this number.")
_GROUP = re.compile(r"\(\?P<(\w+)>\\d\+\)")
_numeric: dict[int, tuple[str, ...]] = {}


def _numeric_params(resource: web.AbstractResource | None) -> tuple[str, ...]:
    """Names of the resource's ``\\d+`` parameters (cached per resource)."""
    if resource is None:
        return ()
    key = id(resource)
    if key not in _numeric:
        pattern = resource.get_info().get("pattern")
        _numeric[key] = tuple(_GROUP.findall(pattern.pattern)) if pattern is not None else ()
    return _numeric[key]


@web.middleware
async def ids_in_range(request: web.Request, handler: Any) -> web.StreamResponse:
    info = request.match_info
    for name in _numeric_params(info.route.resource):
        if row_id(info[name]) is None:
            text = gettext_for(request, NO_SUCH_ROW)
            if request.path.startswith("/api/"):
                raise web.HTTPNotFound(
                    text=json.dumps({"error": text}), content_type="application/json"
                )
            raise web.HTTPNotFound(text=text)
    return await handler(request)
