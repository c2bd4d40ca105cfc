"""What every admin console page shares: form reading, error messages, and applying a change.

A change is applied in one transaction together with its audit entry, and only
after the commit is ``config_changed`` published on the bus, so the ACD never
reloads a half-written configuration. Bad input raises one of the rule errors
of the repositories; :func:`form_error` turns it into one translated message
tied to the form field it concerns, and the page is shown again with what the
admin typed (nothing is lost, nothing is changed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.core.events import ConfigChanged
from callcenter.db.repos import audit
from callcenter.db.repos.routing import InvalidConfig
from callcenter.db.repos.users import (
    DuplicateUsernameError,
    InvalidUsernameError,
    UnknownDepartmentError,
    UnknownRoleError,
    UserError,
    WeakPasswordUserError,
)
from callcenter.i18n import N_
from callcenter.prompts import PromptRejected
from callcenter.registry import BUS, CLOCK, SESSIONMAKER
from callcenter.web.access import current_user
from callcenter.web.auth import client_address, gettext_for

T = TypeVar("T")

#: Errors that mean "the admin must correct the input" (never a server fault).
RULE_ERRORS = (InvalidConfig, UserError, PromptRejected)

#: The console's sections, in menu order: (path, label).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("/admin", N_("Overview")),
    ("/admin/users", N_("Users and phones")),
    ("/admin/groups", N_("Agent groups")),
    ("/admin/hotlines", N_("Hotlines")),
    ("/admin/departments", N_("Departments")),
    ("/admin/categories", N_("Categories")),
    ("/admin/category-keywords", N_("Category keywords")),  # the transcripts room
    ("/admin/hours", N_("Business hours and holidays")),
    ("/admin/pause-reasons", N_("Pause reasons")),
    ("/admin/settings", N_("System settings")),
    ("/admin/prompts", N_("Prompts")),
    ("/admin/surveys", N_("Surveys")),
    ("/admin/audit", N_("Audit log")),
)

NOTICES = {
    "created": N_("Created."),
    "saved": N_("Saved. The change is in effect now."),
    "deleted": N_("Deleted."),
    "uploaded": N_("The recording was converted and saved."),
}


#: Row ids are 32-bit integers (PostgreSQL ``integer``); a larger one names no row, and
#: passing it to the database would fail with a server error instead of "not found".
MAX_ROW_ID = 2**31 - 1


def row_id(raw: str) -> int | None:
    """The row id written in ``raw``, or None if it cannot be one."""
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if 1 <= value <= MAX_ROW_ID else None


class FormInputError(InvalidConfig):
    """A form value of the wrong shape (text where a number belongs)."""


@dataclass
class FormError:
    """One translated message and the field it belongs to ("" = the whole form)."""

    message: str
    field: str = ""


def form_error(request: web.Request, exc: Exception) -> FormError:
    """Translate a rule error for the admin who made it."""
    if isinstance(exc, InvalidConfig | PromptRejected):
        return FormError(gettext_for(request, exc.message, **exc.params), exc.field)
    if isinstance(exc, UserError):
        fields: list[tuple[type[UserError], str]] = [
            (DuplicateUsernameError, "username"),
            (InvalidUsernameError, "username"),
            (WeakPasswordUserError, "password"),
            (UnknownRoleError, "role"),
            (UnknownDepartmentError, "department_id"),
        ]
        name = next((f for cls, f in fields if isinstance(exc, cls)), "")
        return FormError(gettext_for(request, exc.msgid, **exc.params), name)
    raise exc


class Form:
    """Typed reading of a posted form; wrong shapes raise :class:`FormInputError`."""

    def __init__(self, data: MultiDictProxy[Any] | Mapping[str, Any]) -> None:
        self.data = data

    def text(self, name: str) -> str:
        value = self.data.get(name, "")
        return value.strip() if isinstance(value, str) else ""

    def integer(self, name: str) -> int:
        raw = self.text(name)
        try:
            return int(raw)
        except ValueError:
            raise FormInputError(N_("Enter a whole number."), field=name) from None

    def optional_integer(self, name: str) -> int | None:
        return self.integer(name) if self.text(name) else None

    def optional_row_id(self, name: str) -> int | None:
        """A chosen entry (a select of ids); blank is None."""
        raw = self.text(name)
        if not raw:
            return None
        ident = row_id(raw)
        if ident is None:
            raise FormInputError(
                N_("This entry no longer exists; it may have been deleted."), field=name
            )
        return ident

    def checkbox(self, name: str) -> bool:
        return self.text(name) in ("on", "1", "true", "yes")

    def values(self) -> dict[str, str]:
        """The raw values, to refill the form after an error."""
        result: dict[str, str] = {}
        for key in self.data:
            value = self.data.get(key)
            if isinstance(value, str) and key != "csrf_token":
                result[key] = value
        return result


async def read_form(request: web.Request) -> Form:
    return Form(await request.post())


@dataclass
class Change:
    """What a change did, for the audit log: its target and any details worth keeping."""

    target: str
    details: dict[str, Any] = field(default_factory=dict)
    action: str = "config.change"


async def apply_change(
    request: web.Request,
    area: str,
    change: Callable[[AsyncSession], Awaitable[Change]],
) -> Change:
    """Run ``change`` and its audit entry in one transaction, then tell the ACD to reload."""
    user = current_user(request)
    app = request.app
    async with app[SESSIONMAKER]() as session:
        try:
            done = await change(session)
            await audit.record(
                session,
                action=done.action,
                user=user,
                target=done.target,
                address=client_address(request),
                details={"area": area, **done.details},
                at=app[CLOCK].now(),
            )
            await session.commit()
        except IntegrityError:
            await session.rollback()
            raise InvalidConfig(
                N_("Someone else changed the same entry at the same moment; please try again.")
            ) from None
        except BaseException:
            await session.rollback()
            raise
    app[BUS].publish(ConfigChanged(area=area))
    return done


def render(
    request: web.Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    error: FormError | None = None,
) -> web.Response:
    """Render an admin page with the menu, the notice of the last change and any error."""
    notice = NOTICES.get(request.query.get("done", ""))
    context = {
        "sections": SECTIONS,
        "path": request.path,
        "notice": gettext_for(request, notice) if notice and error is None else "",
        "error": error,
        "errors": {error.field: error.message} if error and error.field else {},
        **context,
    }
    response = aiohttp_jinja2.render_template(template, request, context)
    response.set_status(status)
    return response


def done(path: str, what: str) -> web.HTTPFound:
    """Post/redirect/get: the browser shows the page again without re-posting."""
    return web.HTTPFound(f"{path}?done={what}")


def entity_id(request: web.Request) -> int:
    ident = row_id(request.match_info["id"])
    if ident is None:
        raise web.HTTPNotFound()
    return ident
