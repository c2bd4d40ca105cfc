"""Seeding and form helpers shared by the outbound tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.db.models import Customer, CustomerPhone, Vehicle
from tests.agent.test_through_simulator import AgentClient
from tests.auth_helpers import csrf_from_html


async def add_customer(
    factory: async_sessionmaker[Any],
    name: str,
    phone: str,
    *,
    province: str = "Cần Thơ",
    tags: list[str] | None = None,
    do_not_call: bool = False,
    model: str = "",
    vin: str = "",
    purchased: date | None = None,
    warranty_end: date | None = None,
    birthday: date | None = None,
    email: str = "",
    customer_type: str = "individual",
) -> int:
    async with factory() as session:
        customer = Customer(
            name=name,
            name_search=name.lower(),
            province=province,
            tags=tags or [],
            do_not_call=do_not_call,
            do_not_call_reason="khách yêu cầu" if do_not_call else "",
            birthday=birthday,
            email=email,
            customer_type=customer_type,
            phones=[CustomerPhone(number=phone, is_primary=True)],
            vehicles=(
                [Vehicle(vin=vin, model=model, purchase_date=purchased, warranty_end=warranty_end)]
                if vin
                else []
            ),
        )
        session.add(customer)
        await session.commit()
        return customer.id


async def post_form(
    client: AgentClient, path: str, data: dict[str, Any], *, page: str = "/outbound"
) -> tuple[int, str, str]:
    """POST a page form as the browser does (CSRF token from ``page``): status, location, body."""
    async with client.http.get(client.base_url + page) as response:
        token = csrf_from_html(await response.text())
    form: list[tuple[str, str]] = [("csrf_token", token)]
    for key, value in data.items():
        for one in value if isinstance(value, list) else [value]:
            form.append((key, str(one)))
    async with client.http.post(
        client.base_url + path, data=form, allow_redirects=False
    ) as response:
        return response.status, response.headers.get("Location", ""), await response.text()


async def get_json(client: AgentClient, path: str) -> tuple[int, Any]:
    async with client.http.get(client.base_url + path) as response:
        return response.status, await response.json()
