"""What every writer of the routing configuration shares: the :class:`InvalidConfig`
error and its ``N_`` msgid marker, the allowed values (strategies, overflow actions,
menu keys), field validators (codes, names, bounds, agent interfaces) and the small
row helpers (get, unique check, delete) that raise a message an admin can act on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

RowT = TypeVar("RowT")


def N_(message: str) -> str:
    """Mark a msgid for extraction without translating it here."""
    return message


class InvalidConfig(ValueError):
    """A value the admin must correct. ``field`` names the form field it belongs to."""

    def __init__(self, message: str, *, field: str = "", **params: Any) -> None:
        self.message = message
        self.field = field
        self.params = params
        super().__init__(message.format(**params) if params else message)


STRATEGIES = ("least_recent", "fewest_calls", "round_robin", "ring_all")
OVERFLOW_ACTIONS = ("callback", "voicemail")
MENU_KEYS = frozenset("0123456789*#")


CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
HOTLINE_RE = re.compile(r"^\+?[0-9]{3,20}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^[0-9+*#]{0,40}$")

#: Asterisk channel technologies an agent's phone may use (canonical spelling): a
#: PJSIP endpoint (desk phone or the browser softphone) or a Local channel.
TECHNOLOGIES = ("PJSIP", "Local")
_TECH_BY_LOWER = {tech.lower(): tech for tech in TECHNOLOGIES}
#: Technologies people know from older Asterisk that the project's Asterisk 22 has
#: no driver for (chan_sip is gone; no IAX2/DAHDI module is loaded; "WebRTC" is a PJSIP
#: endpoint, not a technology): refused with their own message.
RETIRED_TECHNOLOGIES = frozenset({"sip", "iax2", "dahdi", "webrtc", "zap", "skinny", "mgcp"})
# The part after TECH/: no blanks, commas (Dial's argument separator), '&' (handled apart),
# '$', '{', '}' (dialplan variable expansion), quotes, ';', '|', '(' or ')'.
_RESOURCE_RE = re.compile(r"^[A-Za-z0-9_.+@:/#*-]{1,100}$")


def normalize_interface(text: str) -> str:
    """Check an Asterisk dial string (``PJSIP/101``, ``Local/101@agents``, ``A&B``) and
    return it with the technology spelled canonically; empty means "no phone"."""
    value = text.strip()
    if not value:
        return ""
    if len(value) > 120:
        raise InvalidConfig(
            N_("The phone interface is too long (at most 120 characters)."), field="interface"
        )
    parts = []
    for part in value.split("&"):
        tech, slash, resource = part.partition("/")
        if tech.strip().lower() in RETIRED_TECHNOLOGIES:
            raise InvalidConfig(
                N_(
                    "Asterisk 22 cannot dial {value}: use PJSIP/<endpoint> (desk phone or "
                    "browser softphone) or Local/<extension>@<context>."
                ),
                field="interface",
                value=value,
            )
        canonical = _TECH_BY_LOWER.get(tech.lower())
        if canonical == "Local" and "@" not in resource:
            raise InvalidConfig(
                N_("A Local phone is written Local/<extension>@<context>, e.g. Local/201@agents."),
                field="interface",
            )
        if (
            not slash
            or canonical is None
            or not _RESOURCE_RE.match(resource)
            or resource.endswith("/")
        ):
            raise InvalidConfig(
                N_(
                    "The phone interface {value} is not an Asterisk dial string such as "
                    "PJSIP/101 (technology: {technologies})."
                ),
                field="interface",
                value=value,
                technologies=", ".join(TECHNOLOGIES),
            )
        parts.append(f"{canonical}/{resource}")
    return "&".join(parts)


def _code(value: str, field_name: str = "code") -> str:
    value = value.strip().lower()
    if not CODE_RE.match(value):
        raise InvalidConfig(
            N_("The code must be 1–32 lowercase letters, digits, '-' or '_' (e.g. sales)."),
            field=field_name,
        )
    return value


def check_code(value: str) -> str:
    """A short unique code as stored (lowercase), or InvalidConfig naming the rule."""
    return _code(value)


def _name(value: str, field_name: str = "name", limit: int = 120) -> str:
    value = value.strip()
    if not value:
        raise InvalidConfig(N_("The name must not be empty."), field=field_name)
    if len(value) > limit:
        raise InvalidConfig(
            N_("The name is too long (at most {limit} characters)."),
            field=field_name,
            limit=limit,
        )
    return value


def _bounded(value: int, low: int, high: int, field_name: str) -> int:
    if not low <= value <= high:
        raise InvalidConfig(
            N_("The value must be between {low} and {high}."),
            field=field_name,
            low=low,
            high=high,
        )
    return value


def _choice(value: str, choices: Sequence[str], field_name: str) -> str:
    if value not in choices:
        raise InvalidConfig(N_("Please choose one of the listed options."), field=field_name)
    return value


async def _unique(
    session: AsyncSession,
    column: Any,
    value: Any,
    own_id: int | None,
    field_name: str,
    message: str,
) -> None:
    model = column.class_
    existing = await session.scalar(select(model).where(column == value))
    if existing is not None and getattr(existing, "id", None) != own_id:
        raise InvalidConfig(message, field=field_name, value=value)


async def _get(session: AsyncSession, model: type[RowT], ident: int) -> RowT:
    row = await session.get(model, ident)
    if row is None:
        raise InvalidConfig(N_("This entry no longer exists; it may have been deleted."))
    return row


async def _coded_row(
    session: AsyncSession, model: Any, raw_code: str, own_id: int | None, duplicate: str
) -> tuple[str, Any]:
    """The checked code of a code-keyed entry and the row to write: a new one when ``own_id``
    is None, else the stored one. ``duplicate`` is the message when another row has the code."""
    code = _code(raw_code)
    await _unique(session, model.code, code, own_id, "code", duplicate)
    row = model() if own_id is None else await _get(session, model, own_id)
    return code, row


async def _delete(session: AsyncSession, model: type[RowT], ident: int) -> RowT:
    row = await _get(session, model, ident)
    await session.delete(row)
    await session.flush()
    return row


async def _all(session: AsyncSession, model: type[RowT], order_by: Any) -> list[RowT]:
    return list((await session.scalars(select(model).order_by(order_by))).all())
