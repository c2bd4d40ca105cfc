"""Departments (who tickets are forwarded to: e-mail, phone, member agents) and ticket
categories.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import Category, Department, User
from callcenter.db.repos.routing.common import (
    EMAIL_RE,
    N_,
    PHONE_RE,
    InvalidConfig,
    _all,
    _bounded,
    _coded_row,
    _delete,
    _get,
    _name,
)


@dataclass
class DepartmentInput:
    code: str
    name: str
    name_en: str = ""
    email: str = ""
    phone: str = ""
    active: bool = True


async def save_department(
    session: AsyncSession, data: DepartmentInput, department_id: int | None = None
) -> Department:
    code, department = await _coded_row(
        session,
        Department,
        data.code,
        department_id,
        N_("A department with code {value} already exists."),
    )
    email = data.email.strip()
    if email and not EMAIL_RE.match(email):
        raise InvalidConfig(N_("{value} is not an email address."), field="email", value=email)
    phone = re.sub(r"[\s.-]", "", data.phone)
    if not PHONE_RE.match(phone):
        raise InvalidConfig(N_("The phone must contain only digits (and + * #)."), field="phone")
    department.code = code
    department.name = _name(data.name)
    department.name_en = data.name_en.strip()[:120]
    department.email = email
    department.phone = phone
    department.active = data.active
    session.add(department)
    await session.flush()
    return department


@dataclass(frozen=True)
class DepartmentMember:
    user_id: int
    priority: int
    is_head: bool = False


async def set_department_members(
    session: AsyncSession, department_id: int, members: Sequence[DepartmentMember]
) -> None:
    """Make exactly these users the department's members, in this priority order;
    users who were members and are not listed leave the department."""
    await _get(session, Department, department_id)
    wanted = {m.user_id: m for m in members}
    if len(wanted) != len(members):
        raise InvalidConfig(N_("A person is listed twice in the department."), field="members")
    for member in members:
        _bounded(member.priority, 0, 999, "members")
    users = {
        u.id: u for u in (await session.scalars(select(User).where(User.id.in_(wanted)))).all()
    }
    if set(users) != set(wanted):
        raise InvalidConfig(N_("One of the chosen people no longer exists."), field="members")
    current = (await session.scalars(select(User).where(User.department_id == department_id))).all()
    for user in current:
        if user.id not in wanted:
            user.department_id = None
            user.is_department_head = False
            user.department_priority = 0
    for user_id, member in wanted.items():
        user = users[user_id]
        user.department_id = department_id
        user.department_priority = member.priority
        user.is_department_head = member.is_head
    await session.flush()


async def department_members(session: AsyncSession, department_id: int) -> list[User]:
    rows = await session.scalars(
        select(User)
        .where(User.department_id == department_id)
        .order_by(User.department_priority, User.username)
    )
    return list(rows.all())


async def delete_department(session: AsyncSession, department_id: int) -> Department:
    """Delete a department; its categories and people keep existing, unassigned."""
    await set_department_members(session, department_id, [])
    return await _delete(session, Department, department_id)


async def list_departments(session: AsyncSession) -> list[Department]:
    return await _all(session, Department, Department.code)


@dataclass
class CategoryInput:
    code: str
    name: str
    name_en: str = ""
    department_id: int | None = None
    sla_hours: int = 24
    active: bool = True


async def save_category(
    session: AsyncSession, data: CategoryInput, category_id: int | None = None
) -> Category:
    code, category = await _coded_row(
        session,
        Category,
        data.code,
        category_id,
        N_("A category with code {value} already exists."),
    )
    if data.department_id is not None:
        await _get(session, Department, data.department_id)
    category.code = code
    category.name = _name(data.name, limit=160)
    category.name_en = data.name_en.strip()[:160]
    category.department_id = data.department_id
    category.sla_hours = _bounded(data.sla_hours, 1, 720, "sla_hours")
    category.active = data.active
    session.add(category)
    await session.flush()
    return category


async def delete_category(session: AsyncSession, category_id: int) -> Category:
    return await _delete(session, Category, category_id)


async def list_categories(session: AsyncSession) -> list[Category]:
    return await _all(session, Category, Category.code)
