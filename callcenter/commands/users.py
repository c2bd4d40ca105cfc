"""`callcenter user ...`: add, list, set-password, set-role — for scripting and the first admin.

Passwords are never taken from the command line (it shows in ``ps`` and shell
history): ``--password-stdin`` reads one line from standard input, otherwise
the command asks twice on the terminal. Every change is written to the audit
log with the address ``cli``. Problems end with one line and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.config import Settings
from callcenter.core.roles import Role
from callcenter.db.engine import check_database, make_engine, sessionmaker
from callcenter.db.models.org import Department
from callcenter.db.models.users import User
from callcenter.db.repos import audit
from callcenter.db.repos.users import (
    UserError,
    create_user,
    get_user_by_username,
    list_users,
    set_password,
    set_role,
)

T = TypeVar("T")

CLI_ADDRESS = "cli"


class CommandError(Exception):
    """What went wrong, in one line for stderr."""


def read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise CommandError("no terminal to ask for the password: use --password-stdin")
    first = getpass.getpass("Password: ")
    second = getpass.getpass("Password again: ")
    if first != second:
        raise CommandError("the two passwords differ; nothing was changed")
    return first


async def _with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = make_engine(settings.database.url)
    try:
        await check_database(engine)
        async with sessionmaker(engine)() as session:
            try:
                return await work(session)
            except DBAPIError as exc:
                first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
                raise CommandError(
                    f"database error: {first} (is the schema up to date? run: callcenter db upgrade)"
                ) from None
    finally:
        await engine.dispose()


def _run(settings: Settings, work: Callable[[AsyncSession], Awaitable[str]]) -> int:
    try:
        message = asyncio.run(_with_session(settings, work))
    except (CommandError, UserError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(message)
    return 0


async def _department_id(session: AsyncSession, code: str | None) -> int | None:
    if not code:
        return None
    found = (
        await session.execute(select(Department).where(Department.code == code.strip().lower()))
    ).scalar_one_or_none()
    if found is None:
        codes = (await session.execute(select(Department.code).order_by(Department.code))).scalars()
        raise CommandError(
            f"department {code!r} does not exist (known: {', '.join(codes) or 'none'})"
        )
    return int(found.id)


async def _existing(session: AsyncSession, username: str) -> User:
    user = await get_user_by_username(session, username)
    if user is None:
        raise CommandError(f"user {username!r} does not exist")
    return user


def _cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    try:
        password = read_password(args)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def work(session: AsyncSession) -> str:
        department_id = await _department_id(session, args.department)
        user = await create_user(
            session,
            username=args.name,
            password=password,
            role=args.role,
            full_name=args.full_name,
            interface=args.interface,
            department_id=department_id,
            is_department_head=args.head,
            language=args.language,
        )
        await audit.record(
            session,
            action="user.create",
            username="cli",
            target=f"user:{user.username}",
            address=CLI_ADDRESS,
            details={"role": user.role, "interface": user.interface},
        )
        await session.commit()
        return f"user {user.username} added (id {user.id}, role {user.role})"

    return _run(settings, work)


def _cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(session: AsyncSession) -> str:
        users = await list_users(session, role=args.role)
        departments = {d.id: d.code for d in (await session.execute(select(Department))).scalars()}
        header = ("username", "role", "name", "interface", "department", "active")
        rows = [header] + [
            (
                u.username,
                u.role + (" (head)" if u.is_department_head else ""),
                u.full_name,
                u.interface,
                departments.get(u.department_id, "") if u.department_id else "",
                "yes" if u.active else "no",
            )
            for u in users
        ]
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
        return "\n".join(
            "  ".join(
                str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
            for row in rows
        )

    return _run(settings, work)


def _cmd_set_password(args: argparse.Namespace, settings: Settings) -> int:
    try:
        password = read_password(args)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def work(session: AsyncSession) -> str:
        user = await _existing(session, args.name)
        await set_password(session, user, password)
        await audit.record(
            session,
            action="user.password",
            username="cli",
            target=f"user:{user.username}",
            address=CLI_ADDRESS,
        )
        await session.commit()
        return f"password of {user.username} changed; their sessions have ended"

    return _run(settings, work)


def _cmd_set_role(args: argparse.Namespace, settings: Settings) -> int:
    async def work(session: AsyncSession) -> str:
        user = await _existing(session, args.name)
        old = user.role
        await set_role(session, user, args.role)
        if old == user.role:
            return f"{user.username} already has the role {old}; nothing changed"
        await audit.record(
            session,
            action="user.role",
            username="cli",
            target=f"user:{user.username}",
            address=CLI_ADDRESS,
            details={"from": old, "to": user.role},
        )
        await session.commit()
        return (
            f"role of {user.username} changed from {old} to {user.role}; their sessions have ended"
        )

    return _run(settings, work)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    roles = [role.value for role in Role]
    user = subparsers.add_parser("user", help="add and change users (agents, staff, admins)")
    sub = user.add_subparsers(dest="user_command", required=True)

    add = sub.add_parser("add", help="add a user")
    add.add_argument("name", help="login name: a-z, digits, dot, dash, underscore")
    add.add_argument("--role", required=True, choices=roles)
    add.add_argument("--full-name", default="", help="name shown in the interface")
    add.add_argument("--interface", default="", help="the agent's phone, e.g. PJSIP/101")
    add.add_argument("--department", help="department code (for department staff)")
    add.add_argument("--head", action="store_true", help="department head")
    add.add_argument("--language", default="vi", choices=["vi", "en"])
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=_cmd_add)

    listing = sub.add_parser("list", help="list users")
    listing.add_argument("--role", choices=roles)
    listing.set_defaults(func=_cmd_list)

    password = sub.add_parser("set-password", help="change a user's password (ends their sessions)")
    password.add_argument("name")
    password.add_argument("--password-stdin", action="store_true")
    password.set_defaults(func=_cmd_set_password)

    role = sub.add_parser("set-role", help="change a user's role (ends their sessions)")
    role.add_argument("name")
    role.add_argument("role", choices=roles)
    role.set_defaults(func=_cmd_set_role)
