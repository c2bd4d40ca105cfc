"""Jinja2 set-up: autoescaping everywhere, Vietnamese date filters, per-request gettext.

Templates get, on every page rendered through aiohttp_jinja2: ``_()`` /
``gettext`` / ``ngettext`` in the request's language (``lang``), ``csrf_token()``
for forms, ``current_user`` (None for visitors) and ``storage_warning()`` (admins).
The request is put in the template context by the session middleware of
:mod:`callcenter.web.auth`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from callcenter import localtime
from callcenter import tasks as background
from callcenter.i18n import DEFAULT_LANGUAGE, N_, translate, translations
from callcenter.registry import SETTINGS
from callcenter.web import labels

log = logging.getLogger(__name__)

UI_DIR = Path(__file__).resolve().parents[2] / "agent_ui"


def ui_dir() -> Path:
    """agent_ui/ of the checkout (templates and static files)."""
    return UI_DIR


def _request(context: Any) -> web.Request | None:
    request = context.get("request")
    return request if isinstance(request, web.Request) else None


def _language(context: Any) -> str:
    from callcenter.web.auth import request_language

    request = _request(context)
    if request is None:
        return str(context.get("lang") or DEFAULT_LANGUAGE)
    return request_language(request)


@jinja2.pass_context
def _gettext(context: Any, message: str) -> str:
    return translations(_language(context)).gettext(message)


@jinja2.pass_context
def _ngettext(context: Any, singular: str, plural: str, n: int) -> str:
    return translations(_language(context)).ngettext(singular, plural, n)


@jinja2.pass_context
def _csrf_token(context: Any) -> str:
    from callcenter.web.auth import csrf_token

    request = _request(context)
    return "" if request is None else csrf_token(request)


@jinja2.pass_context
def _current_user(context: Any) -> Any:
    from callcenter.web.access import current_user

    request = _request(context)
    return None if request is None else current_user(request)


@jinja2.pass_context
def _lang(context: Any) -> str:
    return _language(context)


LOW_SPACE = N_(
    "The recordings disk is almost full: {free} GB free. Free some space or move old recordings."
)
SPACE_ERROR = N_("The recordings folder cannot be used: {error}")


class StorageMonitor:
    """The recordings volume's free space, measured in the background.

    ``statfs`` can block (a slow or hung network mount), and the warning is on every
    admin page: pages read the last measurement, a task refreshes it in a thread.
    """

    def __init__(self, folder: Path, every: float = 60.0) -> None:
        self.folder = folder
        self.every = every
        self.space: dict[str, Any] | None = None  # None until the first measurement

    async def refresh(self) -> dict[str, Any]:
        from callcenter.web.health import recordings_space

        self.space = await asyncio.to_thread(recordings_space, self.folder)
        return self.space

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.refresh()
            except Exception:  # keep measuring; a bug must not end the task silently
                log.exception("measuring the recordings volume failed")


STORAGE = web.AppKey("storage_monitor", StorageMonitor)


async def _storage_ctx(app: web.Application) -> AsyncIterator[None]:
    monitor = app[STORAGE]
    await monitor.refresh()
    task = background.supervise("storage-monitor", monitor.run)
    yield
    await background.stop(task)


@jinja2.pass_context
def _label(context: Any, table: str, code: str | None) -> str:
    """``label("ticket_status", t.status)``: a stored code's name in the page's language."""
    return _gettext(context, labels.msgid(table, code)) if code else ""


@jinja2.pass_context
def _storage_warning(context: Any) -> str:
    """For admins only: a translated warning when the recordings volume is low or unusable."""
    from callcenter.core.roles import Role
    from callcenter.web.access import current_user

    request = _request(context)
    if request is None:
        return ""
    user = current_user(request)
    if user is None or user.role != Role.ADMIN:
        return ""
    monitor = request.config_dict.get(STORAGE)
    space = None if monitor is None else monitor.space
    if space is None:
        return ""
    language = _language(context)
    if "error" in space:
        return translate(language, SPACE_ERROR, error=space["error"])
    if space["low"]:
        return translate(language, LOW_SPACE, free=f"{space['free_bytes'] / 1024**3:.1f}")
    return ""


def setup(app: web.Application) -> jinja2.Environment:
    zone = app[SETTINGS].tz
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(UI_DIR / "templates")),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True
    )

    def fmt_date(value: date | datetime | None) -> str:
        return "" if value is None else localtime.format_date(value, zone)

    def fmt_datetime(value: datetime | None) -> str:
        return "" if value is None else localtime.format_datetime(value, zone)

    env.filters["date_vi"] = fmt_date
    env.filters["datetime_vi"] = fmt_datetime
    env.globals["csrf_token"] = _csrf_token
    env.globals["current_user"] = _current_user
    env.globals["page_lang"] = _lang
    env.globals["storage_warning"] = _storage_warning
    env.globals["label"] = _label
    app[STORAGE] = StorageMonitor(Path(app[SETTINGS].recordings_dir))
    app.cleanup_ctx.append(_storage_ctx)
    return env
