"""The demo has department staff with the published demo password, in their departments."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.auth.passwords import verify_password
from callcenter.db.models import Department, User
from callcenter.demo import DEMO_PASSWORD, seed_demo_logins
from callcenter.seed import seed_reference_data


async def test_demo_department_staff_can_log_in(session_factory: async_sessionmaker[Any]) -> None:
    async with session_factory() as session:
        await seed_reference_data(session)
        await seed_demo_logins(session)
        await seed_demo_logins(session)  # twice: nothing doubled
        await session.commit()
        rows = (
            await session.execute(
                select(User, Department.code)
                .join(Department, Department.id == User.department_id)
                .where(User.role == "department")
            )
        ).all()
    staff = {user.username: (code, user) for user, code in rows}
    assert staff["dichvu1"][0] == "service" and staff["dichvu1"][1].is_department_head
    assert staff["dichvu2"][0] == "service" and not staff["dichvu2"][1].is_department_head
    assert staff["phutung1"][0] == "parts"
    assert all(verify_password(user.password_hash, DEMO_PASSWORD) for _, user in staff.values())
