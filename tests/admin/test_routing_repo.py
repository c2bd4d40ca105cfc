"""The routing configuration repository on SQLite and PostgreSQL: writes, rules, the snapshot."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.core.acd import Strategy
from callcenter.db.models import AgentGroup, AgentGroupMember, Hotline, User
from callcenter.db.repos import routing
from callcenter.db.repos.routing import (
    CategoryInput,
    DepartmentInput,
    DepartmentMember,
    GroupInput,
    HotlineInput,
    InvalidConfig,
    OpeningInterval,
)
from callcenter.localtime import DEFAULT_ZONE


async def add_user(session: Any, username: str, interface: str = "", role: str = "agent") -> User:
    user = User(username=username, role=role, interface=interface)
    session.add(user)
    await session.flush()
    return user


async def test_snapshot_carries_groups_members_hotlines_and_settings(
    session_factory: async_sessionmaker[Any],
) -> None:
    async with session_factory() as session:
        an = await add_user(session, "an", "PJSIP/101")
        binh = await add_user(session, "binh", "PJSIP/102")
        sales = await routing.save_group(session, GroupInput(code="Sales", name="Kinh doanh"))
        service = await routing.save_group(
            session, GroupInput(code="service", name="Dịch vụ", strategy="fewest_calls")
        )
        await routing.set_group_members(session, sales.id, [(binh.id, 1), (an.id, 2)])
        await routing.save_hotline(
            session,
            HotlineInput(
                number="1900 1234",
                name="CSKH",
                group_id=sales.id,
                menu_enabled=True,
                menu={"1": "sales", "2": "service"},
            ),
        )
        await routing.save_settings(
            session, {"wrapup_seconds": 45}, datetime(2026, 11, 23, tzinfo=UTC)
        )
        await session.commit()
    async with session_factory() as session:
        config = await routing.load_routing_config(session)
    assert list(config.groups) == ["sales", "service"]  # codes are stored lowercase
    assert [m.username for m in config.groups["sales"].members] == ["binh", "an"]
    assert config.groups["sales"].members[0].interface == "PJSIP/102"
    hotline = config.hotlines["19001234"]  # blanks removed
    assert hotline.group_code == "sales" and dict(hotline.menu) == {"1": "sales", "2": "service"}
    assert config.settings.wrapup_seconds == 45
    assert config.settings.missed_calls_before_pause == 2  # default when never set
    # The core's own types, ready for the ACD.
    groups = config.group_configs()
    assert groups["sales"].members == {binh.id: 1, an.id: 2}
    assert groups["service"].strategy is Strategy.FEWEST_CALLS
    assert config.acd_settings().wrapup_seconds == 45.0
    assert service.id != sales.id


async def test_rule_breaches_write_nothing(session_factory: async_sessionmaker[Any]) -> None:
    async with session_factory() as session:
        group = await routing.save_group(session, GroupInput(code="sales", name="Kinh doanh"))
        await session.commit()
        bad: list[tuple[Any, str]] = [
            (routing.save_group(session, GroupInput(code="sales", name="X")), "already exists"),
            (routing.save_group(session, GroupInput(code="Bán hàng", name="X")), "code must"),
            (routing.save_group(session, GroupInput(code="x", name=" ")), "must not be empty"),
            (
                routing.save_group(
                    session, GroupInput(code="x", name="X", ring_timeout_seconds=500)
                ),
                "between 5 and 120",
            ),
            (routing.save_hotline(session, HotlineInput("12ab", "", group.id)), "3–20 digits"),
            (routing.save_hotline(session, HotlineInput("19001234", "", None)), "Choose the group"),
            (
                routing.save_hotline(
                    session, HotlineInput("19001234", "", group.id, True, {"1": "nope"})
                ),
                "unknown group",
            ),
            (
                routing.save_hotline(session, HotlineInput("19001234", "", group.id, True, {})),
                "at least one key",
            ),
            (routing.set_group_members(session, group.id, [(999, 1)]), "no longer exists"),
            (
                routing.save_category(
                    session, CategoryInput(code="c", name="C", department_id=12345)
                ),
                "no longer exists",
            ),
            (
                routing.save_department(
                    session, DepartmentInput(code="d", name="D", email="not-an-email")
                ),
                "not an email",
            ),
        ]
        for attempt, fragment in bad:
            with pytest.raises(InvalidConfig) as caught:
                await attempt
            assert fragment in str(caught.value)
            await session.rollback()
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(AgentGroup)) == 1
        assert await session.scalar(select(func.count()).select_from(Hotline)) == 0


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("PJSIP/101", "PJSIP/101"),
        (" pjsip/101 ", "PJSIP/101"),
        ("Local/101@agents", "Local/101@agents"),
        ("PJSIP/0901234567@trunk-viettel", "PJSIP/0901234567@trunk-viettel"),
        ("local/201@agents", "Local/201@agents"),
        ("PJSIP/101&PJSIP/201", "PJSIP/101&PJSIP/201"),
        ("", ""),
    ],
)
def test_interface_accepts_asterisk_dial_strings(typed: str, stored: str) -> None:
    assert routing.normalize_interface(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "101",
        "PJSIP/",
        "PJSIP 101",
        "XYZ/101",
        "PJSIP/101,30",
        "PJSIP/${EXTEN}",
        "PJSIP/1 01",
        "PJSIP/101&",
    ],
)
def test_interface_refuses_what_asterisk_would_not_dial(typed: str) -> None:
    with pytest.raises(InvalidConfig) as caught:
        routing.normalize_interface(typed)
    assert caught.value.field == "interface"
    assert "PJSIP/101" in str(caught.value)


@pytest.mark.parametrize(
    "typed",
    ["SIP/agent-7", "sip/101", "WebRTC/101", "IAX2/provider/0901234567", "DAHDI/g1/0901234567",
     "PJSIP/101&SIP/102"],
)  # fmt: skip
def test_interface_refuses_technologies_asterisk_22_has_no_driver_for(typed: str) -> None:
    """chan_sip is gone from Asterisk 21+; IAX2/DAHDI are not loaded; a browser is PJSIP."""
    with pytest.raises(InvalidConfig) as caught:
        routing.normalize_interface(typed)
    assert caught.value.field == "interface"
    assert "Asterisk 22 cannot dial" in str(caught.value) and "PJSIP/<endpoint>" in str(
        caught.value
    )


def test_a_local_phone_names_its_context() -> None:
    with pytest.raises(InvalidConfig, match="Local/<extension>@<context>"):
        routing.normalize_interface("Local/201")


async def test_hours_holidays_and_tet(session_factory: async_sessionmaker[Any]) -> None:
    weekdays = [OpeningInterval(d, time(7, 30), time(11, 30)) for d in range(5)] + [
        OpeningInterval(d, time(13, 0), time(17, 0)) for d in range(5)
    ]
    async with session_factory() as session:
        group = await routing.save_group(session, GroupInput(code="sales", name="Kinh doanh"))
        await routing.save_hotline(session, HotlineInput("19001234", "CSKH", group.id))
        await routing.set_business_hours(session, None, weekdays)
        await session.commit()

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=DEFAULT_ZONE)

    async with session_factory() as session:
        config = await routing.load_routing_config(session)
    monday = date(2026, 11, 23)
    assert config.is_open("19001234", at(monday, 8))
    assert not config.is_open("19001234", at(monday, 12))  # lunch break
    assert not config.is_open("19001234", at(monday, 7, 29))
    assert not config.is_open("19001234", at(date(2026, 11, 28), 9))  # Saturday
    tet = date(2026, 2, 17)  # Tết Nguyên Đán, a Tuesday
    assert config.closed_reason(tet) == "Tết Nguyên Đán"
    assert not config.is_open("19001234", at(tet, 9))
    assert not config.is_open("0000", at(monday, 9))  # unknown hotline

    async with session_factory() as session:
        await routing.save_holiday(session, tet, "Trực Tết", closed=False)
        await routing.save_holiday(session, monday, "Nghỉ nội bộ", closed=True)
        await session.commit()
        config = await routing.load_routing_config(session)
    assert config.is_open("19001234", at(tet, 9))
    assert not config.is_open("19001234", at(monday, 9))
    assert config.closed_reason(monday) == "Nghỉ nội bộ"

    with pytest.raises(InvalidConfig, match="after the opening"):
        routing.check_intervals([OpeningInterval(0, time(17), time(8))])
    with pytest.raises(InvalidConfig, match="overlap"):
        routing.check_intervals(
            [OpeningInterval(0, time(8), time(12)), OpeningInterval(0, time(11), time(17))]
        )


async def test_department_members_priority_and_head(
    session_factory: async_sessionmaker[Any],
) -> None:
    async with session_factory() as session:
        dept = await routing.save_department(
            session, DepartmentInput(code="parts", name="Phụ tùng")
        )
        a = await add_user(session, "a", role="department")
        b = await add_user(session, "b", role="department")
        c = await add_user(session, "c", role="department")
        await routing.set_department_members(
            session,
            dept.id,
            [DepartmentMember(b.id, 1, True), DepartmentMember(a.id, 2), DepartmentMember(c.id, 3)],
        )
        await session.commit()
        assert [u.username for u in await routing.department_members(session, dept.id)] == [
            "b",
            "a",
            "c",
        ]
        await routing.set_department_members(session, dept.id, [DepartmentMember(a.id, 1, True)])
        await session.commit()
        left = await session.get(User, b.id)
        assert left is not None and left.department_id is None and not left.is_department_head
        with pytest.raises(InvalidConfig, match="twice"):
            await routing.set_department_members(
                session, dept.id, [DepartmentMember(a.id, 1), DepartmentMember(a.id, 2)]
            )


async def test_user_groups_and_deleting_a_used_group(
    session_factory: async_sessionmaker[Any],
) -> None:
    async with session_factory() as session:
        sales = await routing.save_group(session, GroupInput(code="sales", name="Kinh doanh"))
        parts = await routing.save_group(session, GroupInput(code="parts", name="Phụ tùng"))
        a = await add_user(session, "a")
        b = await add_user(session, "b")
        await routing.set_user_groups(session, a.id, [sales.id])
        await routing.set_user_groups(session, b.id, [sales.id, parts.id])
        await routing.set_user_groups(session, a.id, [parts.id])
        await routing.save_hotline(session, HotlineInput("19001234", "", sales.id))
        await session.commit()
        assert await routing.groups_of_users(session) == {a.id: ["parts"], b.id: ["parts", "sales"]}
        rows = (
            await session.scalars(select(AgentGroupMember).order_by(AgentGroupMember.priority))
        ).all()
        assert [(r.group_id, r.user_id) for r in rows if r.group_id == parts.id] == [
            (parts.id, b.id),
            (parts.id, a.id),  # joined last, so rings after b on a tie
        ]
        with pytest.raises(InvalidConfig, match="19001234"):
            await routing.delete_group(session, sales.id)
        await routing.delete_group(session, parts.id)
        await session.commit()
        assert await routing.groups_of_users(session) == {b.id: ["sales"]}
