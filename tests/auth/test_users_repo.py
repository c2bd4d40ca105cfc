"""The users repository on both backends: rules, clear errors, nothing written on bad input."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.auth.passwords import verify_password
from callcenter.db.models import Department, User
from callcenter.db.repos.users import (
    DuplicateUsernameError,
    InvalidUsernameError,
    UnknownDepartmentError,
    UnknownRoleError,
    UserError,
    WeakPasswordUserError,
    create_user,
    get_user_by_username,
    list_users,
    set_password,
    set_role,
    update_user,
)
from tests.auth_helpers import DEFAULT_PASSWORD, make_user


async def user_count(factory: async_sessionmaker[Any]) -> int:
    async with factory() as session:
        return int((await session.execute(select(func.count(User.id)))).scalar_one())


async def test_create_and_find_user(session_factory: async_sessionmaker[Any]) -> None:
    async with session_factory() as session:
        department = Department(code="dv", name="Dịch vụ")
        session.add(department)
        await session.flush()
        user = await create_user(
            session,
            username="  Lan.Tran ",
            password=DEFAULT_PASSWORD,
            role="department",
            full_name="Trần Thị Lan",
            department_id=department.id,
            is_department_head=True,
        )
        await session.commit()
    async with session_factory() as session:
        found = await get_user_by_username(session, "LAN.TRAN")
        assert found is not None and found.id == user.id
        assert found.username == "lan.tran" and found.full_name == "Trần Thị Lan"
        assert found.is_department_head and found.role == "department"
        assert verify_password(found.password_hash, DEFAULT_PASSWORD)
        assert DEFAULT_PASSWORD not in found.password_hash
        assert [u.username for u in await list_users(session, role="department")] == ["lan.tran"]
        assert await list_users(session, role="agent") == []


BAD_INPUT: list[tuple[dict[str, Any], type[UserError], str]] = [
    ({"username": "an", "password": ""}, WeakPasswordUserError, "must not be empty"),
    ({"username": "an", "password": "short"}, WeakPasswordUserError, "at least 10"),
    ({"username": "", "password": DEFAULT_PASSWORD}, InvalidUsernameError, "must not be empty"),
    ({"username": "a b", "password": DEFAULT_PASSWORD}, InvalidUsernameError, "not valid"),
    ({"username": "an", "role": "boss"}, UnknownRoleError, "Unknown role 'boss'"),
    ({"username": "an", "department_id": 999}, UnknownDepartmentError, "999 does not exist"),
]


async def test_bad_input_gets_one_clear_message_and_writes_nothing(
    session_factory: async_sessionmaker[Any],
) -> None:
    for fields, error, fragment in BAD_INPUT:
        arguments: dict[str, Any] = {"password": DEFAULT_PASSWORD, "role": "agent", **fields}
        async with session_factory() as session:
            with pytest.raises(error) as caught:
                await create_user(session, **arguments)
            await session.commit()
        assert fragment in str(caught.value), fields
        assert isinstance(caught.value, ValueError)
    assert await user_count(session_factory) == 0


async def test_duplicate_username_is_refused(session_factory: async_sessionmaker[Any]) -> None:
    await make_user(session_factory, "an.nguyen", "agent")
    async with session_factory() as session:
        with pytest.raises(DuplicateUsernameError, match=r"'an\.nguyen' is already taken"):
            await create_user(
                session, username="AN.NGUYEN", password="Khác-hẳn-mật-khẩu-456", role="admin"
            )
    assert await user_count(session_factory) == 1
    async with session_factory() as session:
        kept = await get_user_by_username(session, "an.nguyen")
        assert kept is not None and kept.role == "agent"


async def test_password_and_role_changes_bump_session_version(
    session_factory: async_sessionmaker[Any],
) -> None:
    created = await make_user(session_factory, "binh", "agent")
    assert created.session_version == 1
    async with session_factory() as session:
        user = await session.get(User, created.id)
        assert user is not None
        await update_user(session, user, full_name="Lê Văn Bình", interface="PJSIP/101")
        assert user.session_version == 1  # plain edits keep sessions
        await set_password(session, user, "Mật-khẩu-mới-tinh-789")
        assert user.session_version == 2
        await set_role(session, user, "supervisor")
        assert user.session_version == 3
        await set_role(session, user, "supervisor")  # no change, no logout
        assert user.session_version == 3
        with pytest.raises(WeakPasswordUserError):
            await set_password(session, user, "123")
        with pytest.raises(UserError, match="cannot be changed here: password_hash"):
            await update_user(session, user, password_hash="x")
        await session.commit()
    async with session_factory() as session:
        user = await session.get(User, created.id)
        assert user is not None
        assert (user.role, user.session_version, user.interface) == ("supervisor", 3, "PJSIP/101")
        assert verify_password(user.password_hash, "Mật-khẩu-mới-tinh-789")
