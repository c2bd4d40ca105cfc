"""JSON for scripts and the agent page: search, and the customer a phone number belongs to."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from callcenter.auth.scope import customer_filter
from callcenter.core.phones import Anonymous, InvalidPhone, normalize_phone
from callcenter.db.models.customers import Customer
from callcenter.db.repos import customers as repo
from callcenter.registry import SESSIONMAKER
from callcenter.web.access import allow
from callcenter.web.customers.common import (
    PAGE_SIZE,
    VIEW_ROLES,
    filter_from,
    logged_in_user,
    sees_all,
)
from callcenter.web.customers.schemas import CUSTOMER_SCHEMA, customer_json
from callcenter.web.openapi import describe

routes = web.RouteTableDef()


@routes.get("/api/customers", name="api_customers")
@allow(*VIEW_ROLES)
@describe(
    "Search customers",
    description="By name (accents ignored), phone (any form), VIN or plate; agents see the "
    "customers they served. At most 50, ordered by name.",
    tags=["customers"],
    query={"q": "name, phone, VIN or plate", "province": "province", "type": "individual or fleet",
           "tag": "a tag, e.g. VIP"},
    response={"type": "object", "properties": {"total": {"type": "integer"},
              "customers": {"type": "array", "items": CUSTOMER_SCHEMA}}},
)  # fmt: skip
async def api_search(request: web.Request) -> web.StreamResponse:
    """Search by name (accents ignored), phone, VIN or plate; agents see their own customers."""
    where = filter_from(request.query)
    async with request.app[SESSIONMAKER]() as session:
        base = repo.filtered_query(where).where(customer_filter(logged_in_user(request)))
        customers, total = await repo.search_query(session, base, limit=PAGE_SIZE, offset=0)
    return web.json_response(
        {"total": total, "customers": [customer_json(customer) for customer in customers]}
    )


@routes.get("/api/customers/by-phone/{number}", name="api_customer_by_phone")
@allow(*VIEW_ROLES)
@describe(
    "Customer by phone number",
    description="The number in any form (0912 345 678, +84…, pre-2018 01xx, old area codes) "
    "is normalised to E.164 first.",
    tags=["customers"],
    response={"type": "object", "properties": {"e164": {"type": "string"},
              "customer": CUSTOMER_SCHEMA}},
    errors={400: "Not a valid phone number.", 404: "No customer has this number, or it is withheld."},
)  # fmt: skip
async def api_by_phone(request: web.Request) -> web.StreamResponse:
    """The customer a number belongs to (any old or new form); 404 if none or withheld."""
    number = request.match_info["number"]
    result = normalize_phone(number)
    if isinstance(result, Anonymous):
        return web.json_response({"anonymous": True, "customer": None}, status=404)
    if isinstance(result, InvalidPhone):
        return web.json_response({"error": result.reason}, status=400)
    async with request.app[SESSIONMAKER]() as session:
        customer = await repo.find_by_phone(session, result.e164)
        if customer is not None and not sees_all(logged_in_user(request)):
            visible = select(Customer.id).where(
                Customer.id == customer.id, customer_filter(logged_in_user(request))
            )
            if (await session.execute(visible)).first() is None:
                customer = None
    if customer is None:
        return web.json_response({"e164": result.e164, "customer": None}, status=404)
    return web.json_response({"e164": result.e164, "customer": customer_json(customer)})
