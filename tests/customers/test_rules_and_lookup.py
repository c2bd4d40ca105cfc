"""Customer rules (VIN, type, merge) and the lookups: by phone in one statement, name, VIN, plate."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from callcenter.core.customers import (
    CustomerData,
    RuleError,
    VehicleData,
    customer_type_for,
    diff,
    merge,
    normalize_vin,
    plate_key,
)
from callcenter.db.repos import customers as repo

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_vin_rules() -> None:
    assert normalize_vin(" rl4th1234ab-000001 ") == "RL4TH1234AB000001"
    with pytest.raises(RuleError, match="17 characters, this one has 16"):
        normalize_vin("RL4TH1234AB00000")
    for letter in "IOQ":
        with pytest.raises(RuleError, match="I, O or Q"):
            normalize_vin(f"RL4TH1234{letter}B000001")
    with pytest.raises(RuleError, match="only letters and digits"):
        normalize_vin("RL4TH1234AB00000#")


def test_fleet_means_two_or_more_vehicles() -> None:
    assert customer_type_for(0) == customer_type_for(1) == "individual"
    assert customer_type_for(2) == customer_type_for(30) == "fleet"
    assert customer_type_for(1, "fleet") == "fleet"  # declared fleets stay fleets
    assert plate_key("51C-123.45") == plate_key("51c 12345") == "51C12345"


def test_merge_never_loses_data_and_is_idempotent() -> None:
    existing = CustomerData(
        name="Nguyễn Văn An",
        phones=["+84912345678"],
        province="Hà Nội",
        address="12 Láng Hạ",
        tags=["VIP"],
        notes="gọi sau 17h",
        do_not_call=True,
        vehicles=[VehicleData(vin="RL4TH1234AB000001", model="HD120")],
    )
    incoming = CustomerData(
        name="NGUYỄN VĂN AN",  # same name, other capitals: the stored spelling stays
        phones=["+84912345678", "+84977333444"],
        province="",  # blank never erases
        address="15 Láng Hạ",
        tags=["vip", "tài xế"],
        notes="khách quen",
        vehicles=[VehicleData(vin="RL4TH1234AB000002", purchase_date=date(2024, 4, 20))],
    )
    merged, changes = merge(existing, incoming)
    assert merged.name == "Nguyễn Văn An" and merged.province == "Hà Nội"
    assert merged.address == "15 Láng Hạ" and changes["address"] == ["12 Láng Hạ", "15 Láng Hạ"]
    assert merged.phones == ["+84912345678", "+84977333444"]
    assert merged.tags == ["VIP", "tài xế"]
    assert merged.notes == "gọi sau 17h\nkhách quen"
    assert merged.do_not_call is True  # an import never clears "do not call"
    assert merged.customer_type == "fleet" and changes["customer_type"] == ["individual", "fleet"]
    assert changes["vehicle RL4TH1234AB000002"][1]["purchase_date"] == "2024-04-20"
    again, no_changes = merge(merged, incoming)
    assert no_changes == {} and again == merged
    fill_only, changes = merge(existing, incoming, replace_values=False)
    assert fill_only.address == "12 Láng Hạ" and "address" not in changes


def test_diff_of_an_edit() -> None:
    before = CustomerData(name="A", phones=["+84912345678"], vehicles=[VehicleData(vin="X" * 17)])
    after = CustomerData(name="B", phones=["+84977333444"])
    changes = diff(before, after)
    assert changes["name"] == ["A", "B"]
    assert changes["phones"] == [["+84912345678"], ["+84977333444"]]
    assert changes[f"vehicle {'X' * 17}"][1] is None
    assert diff(before, before) == {}


async def _seed(factory: async_sessionmaker[Any]) -> dict[str, int]:
    ids = {}
    async with factory() as session:
        for key, data in {
            "an": CustomerData(
                name="Nguyễn Văn An",
                phones=["+84381234567", "+842838234567"],
                vehicles=[
                    VehicleData(vin="RL4TH1234AB000001", plate="51C-123.45"),
                    VehicleData(vin="RL4TH1234AB000002", plate="51C-678.90"),
                ],
            ),
            "duc": CustomerData(name="Trần Đức", phones=["+84912345678"]),
            "anh": CustomerData(name="Nguyễn Vân Anh", phones=["+84903111222"]),
        }.items():
            customer = await repo.create_customer(session, data, at=NOW)
            ids[key] = customer.id
        await session.commit()
    return ids


async def test_find_by_phone_is_one_statement_with_phones_and_vehicles(
    engine: AsyncEngine, session_factory: async_sessionmaker[Any]
) -> None:
    ids = await _seed(session_factory)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        async with session_factory() as session:
            customer = await repo.find_by_phone(session, "0168 123 4567")  # the old number
            assert customer is not None and customer.id == ids["an"]
            assert len(statements) == 1, statements
            # phones and vehicles came with it: no lazy load (which would fail in async)
            assert len(customer.phones) == 2 and len(customer.vehicles) == 2
            assert customer.customer_type == "fleet"
            assert len(statements) == 1
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert "customer_phones.number =" in statements[0]


async def test_lookups(session_factory: async_sessionmaker[Any]) -> None:
    ids = await _seed(session_factory)
    async with session_factory() as session:
        assert (await repo.find_by_phone(session, "(08) 3823 4567")).id == ids["an"]  # type: ignore[union-attr]
        for hidden in ("anonymous", "", "Restricted", "0912 34"):
            assert await repo.find_by_phone(session, hidden) is None
        assert await repo.find_by_phone(session, "0999 999 999") is None
        names = [c.name for c in await repo.find_by_name(session, "nguyen van a")]
        assert names == ["Nguyễn Văn An", "Nguyễn Vân Anh"]  # every word matches; closest first
        assert [c.name for c in await repo.find_by_name(session, "nguyen")] == [
            "Nguyễn Văn An",
            "Nguyễn Vân Anh",
        ]
        assert [c.name for c in await repo.find_by_name(session, "ĐỨC")] == ["Trần Đức"]
        assert (await repo.find_by_vin(session, "rl4th1234ab000002")).id == ids["an"]  # type: ignore[union-attr]
        assert await repo.find_by_vin(session, "not a vin") is None
        assert [c.id for c in await repo.find_by_plate(session, "51c 678 90")] == [ids["an"]]
        found, total = await repo.search(session, repo.CustomerFilter(text="0903.111.222"))
        assert total == 1 and found[0].id == ids["anh"]
        found, total = await repo.search(session, repo.CustomerFilter(customer_type="fleet"))
        assert [c.id for c in found] == [ids["an"]]
