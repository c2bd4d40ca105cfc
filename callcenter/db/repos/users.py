"""Users: create, find, list and change them, with the rules that keep accounts sound.

Every rule breach raises a :class:`UserError` (a ``ValueError``) whose message
says what to fix; nothing is written in that case. Changing a password or a
role bumps ``session_version``, which logs the user out everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.auth.passwords import (
    WeakPasswordError,
    check_strength,
    hash_password_async,
)
from callcenter.core.roles import Role
from callcenter.core.softphone import (
    PhoneKind,
    browser_interface,
    is_browser_interface,
    new_sip_secret,
)
from callcenter.db.models.org import Department
from callcenter.db.models.users import User
from callcenter.i18n import N_, SUPPORTED_LANGUAGES

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")

#: Fields :func:`update_user` may change directly (password and role have their own functions).
EDITABLE_FIELDS = frozenset(
    {
        "full_name",
        "email",
        "language",
        "department_id",
        "is_department_head",
        "department_priority",
        "interface",
        "extension",
        "active",
    }
)


class UserError(ValueError):
    """A change to a user that breaks a rule; ``msgid``/``params`` let the UI translate it."""

    def __init__(self, msgid: str, **params: Any) -> None:
        self.msgid = msgid
        self.params = params
        super().__init__(msgid.format(**params))


class DuplicateUsernameError(UserError):
    pass


class InvalidUsernameError(UserError):
    pass


class WeakPasswordUserError(UserError):
    pass


class UnknownRoleError(UserError):
    pass


class UnknownDepartmentError(UserError):
    pass


class InvalidFieldError(UserError):
    pass


def normalize_username(username: str) -> str:
    """Usernames compare without case or surrounding blanks ('  An.Nguyen ' is 'an.nguyen')."""
    return username.strip().lower()


def _check_username(username: str) -> str:
    name = normalize_username(username)
    if not name:
        raise InvalidUsernameError(N_("Username must not be empty."))
    if not USERNAME_PATTERN.match(name):
        raise InvalidUsernameError(
            N_(
                "Username {name!r} is not valid: use 2–64 letters a–z, digits, dot, dash or "
                "underscore, starting with a letter or digit."
            ),
            name=name,
        )
    return name


def _check_role(role: str | Role) -> Role:
    try:
        return Role(str(role))
    except ValueError:
        raise UnknownRoleError(
            N_("Unknown role {role!r}: use one of {roles}."),
            role=str(role),
            roles=", ".join(r.value for r in Role),
        ) from None


def _check_password(password: str, username: str) -> None:
    try:
        check_strength(password, username=username)
    except WeakPasswordError as exc:
        raise WeakPasswordUserError(exc.msgid, **exc.params) from None


async def _check_department(session: AsyncSession, department_id: int | None) -> None:
    if department_id is not None and await session.get(Department, department_id) is None:
        raise UnknownDepartmentError(N_("Department {id} does not exist."), id=department_id)


def _check_language(language: str) -> str:
    if language not in SUPPORTED_LANGUAGES:
        raise InvalidFieldError(
            N_("Unknown language {language!r}: use one of {languages}."),
            language=language,
            languages=", ".join(SUPPORTED_LANGUAGES),
        )
    return language


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: str | Role,
    full_name: str = "",
    interface: str = "",
    department_id: int | None = None,
    is_department_head: bool = False,
    language: str = "vi",
    **fields: Any,
) -> User:
    """Add a user (flushed, not committed). Raises :class:`UserError` and adds nothing on bad input."""
    name = _check_username(username)
    checked_role = _check_role(role)
    _check_password(password, name)
    _check_language(language)
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise InvalidFieldError(
            N_("Unknown user fields: {fields}."), fields=", ".join(sorted(unknown))
        )
    if await get_user_by_username(session, name) is not None:
        raise DuplicateUsernameError(N_("Username {name!r} is already taken."), name=name)
    await _check_department(session, department_id)
    user = User(
        username=name,
        password_hash=await hash_password_async(password),
        role=checked_role.value,
        full_name=full_name.strip(),
        interface=interface.strip(),
        department_id=department_id,
        is_department_head=is_department_head,
        language=language,
        session_version=1,
        **fields,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent insert won the race for the name: undo everything
        await session.rollback()
        raise DuplicateUsernameError(N_("Username {name!r} is already taken."), name=name) from None
    return user


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_username(session: AsyncSession, username: str) -> User | None:
    result = await session.execute(
        select(User).where(User.username == normalize_username(username))
    )
    return result.scalar_one_or_none()


async def list_users(
    session: AsyncSession,
    *,
    role: str | Role | None = None,
    department_id: int | None = None,
    active: bool | None = None,
) -> Sequence[User]:
    query = select(User).order_by(User.username)
    if role is not None:
        query = query.where(User.role == str(role))
    if department_id is not None:
        query = query.where(User.department_id == department_id)
    if active is not None:
        query = query.where(User.active.is_(active))
    return (await session.execute(query)).scalars().all()


async def count_users(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count(User.id)))).scalar_one())


async def update_user(session: AsyncSession, user: User, **changes: Any) -> User:
    """Change plain fields (see ``EDITABLE_FIELDS``); all are checked before any is set."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise InvalidFieldError(
            N_("These fields cannot be changed here: {fields}."), fields=", ".join(sorted(unknown))
        )
    if "language" in changes:
        _check_language(changes["language"])
    if "department_id" in changes:
        await _check_department(session, changes["department_id"])
    if "active" in changes and not changes["active"]:
        user.session_version += 1  # a deactivated user is logged out at once
    for name, value in changes.items():
        setattr(user, name, value.strip() if isinstance(value, str) else value)
    await session.flush()
    return user


async def set_password(session: AsyncSession, user: User, password: str) -> User:
    """Replace the password and log the user out of every other session."""
    _check_password(password, user.username)
    user.password_hash = await hash_password_async(password)
    user.session_version += 1
    await session.flush()
    return user


async def set_role(session: AsyncSession, user: User, role: str | Role) -> User:
    """Change the role; existing sessions end, so the new rights apply from the next login."""
    checked = _check_role(role)
    if user.role != checked.value:
        user.role = checked.value
        user.session_version += 1
        await session.flush()
    return user


async def end_sessions(session: AsyncSession, user: User) -> None:
    """Invalidate every cookie issued to this user (logout, lost device)."""
    user.session_version += 1
    await session.flush()


async def set_phone_kind(session: AsyncSession, user: User, kind: str, desk_interface: str) -> User:
    """Make ``user``'s phone a desk phone at ``desk_interface`` or the agent page itself.

    A browser phone is dialled at its own endpoint (``PJSIP/webrtc-<id>``) and gets a
    generated SIP password the first time; the password is kept when the user goes back
    to a desk phone (the endpoint is no longer provisioned, so it cannot register).
    """
    try:
        chosen = PhoneKind(kind or PhoneKind.DESK)
    except ValueError:
        raise InvalidFieldError(N_("Unknown phone type.")) from None
    if not user.id:
        await session.flush()  # a new user: the endpoint is named from the id
    user.phone_kind = chosen.value
    if chosen is PhoneKind.BROWSER:
        user.interface = browser_interface(user.id)
        if not user.sip_secret:
            user.sip_secret = new_sip_secret()
    else:
        if is_browser_interface(desk_interface):
            desk_interface = ""
        user.interface = desk_interface.strip()
    await session.flush()
    return user


async def rotate_sip_secret(session: AsyncSession, user: User) -> User:
    """A new SIP password for ``user``'s browser phone; the old one stops working once
    Asterisk reloads the generated endpoints."""
    user.sip_secret = new_sip_secret()
    await session.flush()
    return user
