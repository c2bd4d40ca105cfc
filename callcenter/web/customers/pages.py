"""The customer pages people use: search, the customer page (details, vehicles, calls,
tickets, history), the create/edit form with its validation, adding/removing vehicles.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select

from callcenter.auth.scope import call_filter, customer_filter, ticket_filter
from callcenter.core.customers import (
    CUSTOMER_TYPES,
    SOURCES,
    CustomerData,
    RuleError,
    VehicleData,
    diff,
    merge,
    normalize_email,
    normalize_vin,
)
from callcenter.core.phones import Anonymous, InvalidPhone, Phone, format_national, normalize_phone
from callcenter.core.screenpop import LISTEN_ROLES
from callcenter.core.surveys import CHANNEL_LABELS
from callcenter.db.models.calls import Call
from callcenter.db.models.customers import Customer
from callcenter.db.models.tickets import Ticket
from callcenter.db.repos import customers as repo
from callcenter.db.repos import surveys as surveys_repo
from callcenter.i18n import N_
from callcenter.localtime import parse_date
from callcenter.registry import CLOCK, SESSIONMAKER
from callcenter.web.access import allow
from callcenter.web.customers.common import (
    PAGE_SIZE,
    VIEW_ROLES,
    filter_from,
    gettext_for,
    logged_in_user,
    sees_all,
    visible_customer,
)

routes = web.RouteTableDef()

# --- search and customer page --------------------------------------------------------


@routes.get("/customers", name="customers")
@allow(*VIEW_ROLES)
async def customer_list(request: web.Request) -> web.StreamResponse:
    user = logged_in_user(request)
    where = filter_from(request.query)
    try:
        page = max(int(request.query.get("page", "1")), 1)
    except ValueError:
        page = 1
    async with request.app[SESSIONMAKER]() as session:
        base = repo.filtered_query(where).where(customer_filter(user))
        customers, total = await repo.search_query(
            session, base, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
    context = {
        "customers": customers,
        "total": total,
        "page": page,
        "pages": max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        "where": where,
        "query_string": request.query_string,
        "can_import": sees_all(user),
        "national": format_national,
    }
    return aiohttp_jinja2.render_template("customers/list.html", request, context)


@routes.get(r"/customers/{id:\d+}", name="customer")
@allow(*VIEW_ROLES)
async def customer_page(request: web.Request) -> web.StreamResponse:
    customer_id = int(request.match_info["id"])
    user = logged_in_user(request)
    async with request.app[SESSIONMAKER]() as session:
        customer = await visible_customer(request, session, customer_id)
        # The customer's calls and tickets, as far as this user may see them (auth/scope).
        call_rows = await session.execute(
            select(Call)
            .where(Call.customer_id == customer_id, call_filter(user))
            .order_by(Call.started_at.desc())
            .limit(50)
        )
        calls = call_rows.scalars().all()
        ticket_rows = await session.execute(
            select(Ticket)
            .where(Ticket.customer_id == customer_id, ticket_filter(user))
            .order_by(Ticket.created_at.desc())
            .limit(50)
        )
        tickets = ticket_rows.scalars().all()
        changes = await repo.history(session, customer_id, limit=50)
        surveys = await surveys_repo.responses_of_customer(session, customer_id)
    context = {
        "customer": customer,
        "calls": calls,
        "tickets": tickets,
        "surveys": surveys,
        "survey_channels": CHANNEL_LABELS,
        "can_listen": user.role in LISTEN_ROLES,
        "changes": changes,
        "national": format_national,
    }
    return aiohttp_jinja2.render_template("customers/detail.html", request, context)


# --- create and edit -----------------------------------------------------------------


FORM_FIELDS = (
    "name", "phones", "email", "birthday", "province", "district", "address",
    "customer_type", "tags", "notes", "source", "do_not_call",
)  # fmt: skip


def _form_values(customer: Customer | None) -> dict[str, str]:
    if customer is None:
        return {
            **dict.fromkeys(FORM_FIELDS, ""),
            "customer_type": "individual",
            "source": "hotline",
        }
    data = repo.to_data(customer)
    return {
        "name": data.name,
        "phones": "\n".join(format_national(phone) for phone in data.phones),
        "email": data.email,
        "birthday": data.birthday.strftime("%d/%m/%Y") if data.birthday else "",
        "province": data.province,
        "district": data.district,
        "address": data.address,
        "customer_type": data.customer_type,
        "tags": ", ".join(data.tags),
        "notes": data.notes,
        "source": data.source,
        "do_not_call": "on" if data.do_not_call else "",
    }


def _parse_form(
    form: Any, vehicles: list[VehicleData], gettext: Any
) -> tuple[CustomerData, list[str], dict[str, str]]:
    """The posted customer as plain data, and every problem in words for the user."""
    values = {key: str(form.get(key, "")).strip() for key in FORM_FIELDS}
    errors: list[str] = []
    data = CustomerData(vehicles=vehicles)
    data.name = " ".join(values["name"].split())[:200]
    if not data.name:
        errors.append(gettext("Enter the customer's name."))
    for raw in values["phones"].replace(",", "\n").replace(";", "\n").splitlines():
        if not raw.strip():
            continue
        result = normalize_phone(raw)
        if isinstance(result, Phone):
            if result.e164 not in data.phones:
                data.phones.append(result.e164)
        elif isinstance(result, InvalidPhone):
            reason = gettext(result.message).format(**dict(result.params))
            errors.append(gettext("Phone {phone}: {reason}").format(phone=raw, reason=reason))
        elif isinstance(result, Anonymous):
            errors.append(gettext("Phone {phone}: not a phone number").format(phone=raw))
    try:
        data.email = normalize_email(values["email"])
    except RuleError as exc:
        errors.append(gettext(exc.message).format(**exc.params))
    if values["birthday"]:
        try:
            data.birthday = parse_date(values["birthday"])
        except ValueError:
            errors.append(
                gettext("Birthday {value} is not a possible date (dd/mm/yyyy).").format(
                    value=values["birthday"]
                )
            )
    data.province = values["province"][:80]
    data.district = values["district"][:80]
    data.address = values["address"][:300]
    data.tags = [tag.strip() for tag in values["tags"].split(",") if tag.strip()]
    data.notes = values["notes"]
    data.customer_type = (
        values["customer_type"] if values["customer_type"] in CUSTOMER_TYPES else "individual"
    )
    data.source = values["source"] if values["source"] in SOURCES else "hotline"
    data.do_not_call = values["do_not_call"] in ("on", "1", "true")
    return data, errors, values


def _render_form(
    request: web.Request,
    customer: Customer | None,
    values: dict[str, str],
    errors: list[str],
    status: int = 200,
) -> web.StreamResponse:
    context = {
        "customer": customer,
        "values": values,
        "errors": errors,
        "customer_types": CUSTOMER_TYPES,
        "sources": SOURCES,
        "national": format_national,
    }
    response = aiohttp_jinja2.render_template("customers/form.html", request, context)
    response.set_status(status)
    return response


async def _phone_conflicts(
    request: web.Request, session: Any, phones: list[str], customer_id: int | None
) -> list[str]:
    gettext = gettext_for(request)
    conflicts = await repo.phone_owner_conflicts(session, phones, customer_id)
    return [
        gettext("Phone {phone} already belongs to customer #{id}.").format(
            phone=format_national(number), id=owner
        )
        for number, owner in sorted(conflicts.items())
    ]


@routes.get("/customers/new", name="customer_new")
@allow(*VIEW_ROLES)
async def customer_new_form(request: web.Request) -> web.StreamResponse:
    values = _form_values(None)
    phone = normalize_phone(request.query.get("phone", ""))
    if isinstance(phone, Phone):
        values["phones"] = format_national(phone.e164)
    return _render_form(request, None, values, [])


@routes.post("/customers/new")
@allow(*VIEW_ROLES)
async def customer_create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    data, errors, values = _parse_form(form, [], gettext_for(request))
    async with request.app[SESSIONMAKER]() as session:
        errors += await _phone_conflicts(request, session, data.phones, None)
        if errors:
            return _render_form(request, None, values, errors, 400)
        customer = await repo.create_customer(
            session, data, at=request.app[CLOCK].now(), actor=logged_in_user(request), via="web"
        )
        await session.commit()
        customer_id = customer.id
    raise web.HTTPFound(f"/customers/{customer_id}")


@routes.get(r"/customers/{id:\d+}/edit", name="customer_edit")
@allow(*VIEW_ROLES)
async def customer_edit_form(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONMAKER]() as session:
        customer = await visible_customer(request, session, int(request.match_info["id"]))
    return _render_form(request, customer, _form_values(customer), [])


@routes.post(r"/customers/{id:\d+}/edit")
@allow(*VIEW_ROLES)
async def customer_update(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    async with request.app[SESSIONMAKER]() as session:
        customer = await visible_customer(request, session, int(request.match_info["id"]))
        current = repo.to_data(customer)
        data, errors, values = _parse_form(form, current.vehicles, gettext_for(request))
        errors += await _phone_conflicts(request, session, data.phones, customer.id)
        if errors:
            return _render_form(request, customer, values, errors, 400)
        changes = diff(current, data)
        await repo.apply_changes(
            session,
            customer,
            data,
            changes,
            at=request.app[CLOCK].now(),
            actor=logged_in_user(request),
        )
        await session.commit()
        customer_id = customer.id
    raise web.HTTPFound(f"/customers/{customer_id}")


@routes.post(r"/customers/{id:\d+}/vehicles")
@allow(*VIEW_ROLES)
async def vehicle_add(request: web.Request) -> web.StreamResponse:
    """Add a vehicle, or update the one with the same VIN."""
    form = await request.post()
    gettext = gettext_for(request)
    async with request.app[SESSIONMAKER]() as session:
        customer = await visible_customer(request, session, int(request.match_info["id"]))
        errors: list[str] = []
        try:
            vin = normalize_vin(str(form.get("vin", "")))
        except RuleError as exc:
            errors.append(gettext(exc.message).format(**exc.params))
            vin = ""
        dates: dict[str, date | None] = {}
        for key, label in (
            ("purchase_date", N_("Purchase date")),
            ("warranty_end", N_("Warranty end")),
        ):
            text = str(form.get(key, "")).strip()
            try:
                dates[key] = parse_date(text) if text else None
            except ValueError:
                errors.append(
                    gettext("{field}: {value} is not a possible date (dd/mm/yyyy).").format(
                        field=gettext(label), value=text
                    )
                )
        if vin:
            owners = await repo.vin_owner_conflicts(session, [vin], customer.id)
            if owners:
                errors.append(
                    gettext("VIN {vin} already belongs to customer #{id}.").format(
                        vin=vin, id=owners[vin]
                    )
                )
        if errors:
            values = _form_values(customer)
            return _render_form(request, customer, values, errors, 400)
        vehicle = VehicleData(
            vin=vin,
            model=str(form.get("model", "")).strip()[:120],
            plate=str(form.get("plate", "")).strip()[:20],
            purchase_date=dates["purchase_date"],
            warranty_end=dates["warranty_end"],
            dealer=str(form.get("dealer", "")).strip()[:160],
        )
        current = repo.to_data(customer)
        merged, changes = merge(current, CustomerData(vehicles=[vehicle]))
        await repo.apply_changes(
            session,
            customer,
            merged,
            changes,
            at=request.app[CLOCK].now(),
            actor=logged_in_user(request),
        )
        await session.commit()
        customer_id = customer.id
    raise web.HTTPFound(f"/customers/{customer_id}#vehicles")


@routes.post(r"/customers/{id:\d+}/vehicles/{vin}/delete")
@allow(*VIEW_ROLES)
async def vehicle_remove(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONMAKER]() as session:
        customer = await visible_customer(request, session, int(request.match_info["id"]))
        current = repo.to_data(customer)
        vin = request.match_info["vin"].upper()
        if vin not in {vehicle.vin for vehicle in current.vehicles}:
            raise web.HTTPNotFound(text=gettext_for(request)("No such vehicle."))
        wanted = replace(
            current, vehicles=[vehicle for vehicle in current.vehicles if vehicle.vin != vin]
        )
        await repo.apply_changes(
            session,
            customer,
            wanted,
            diff(current, wanted),
            at=request.app[CLOCK].now(),
            actor=logged_in_user(request),
        )
        await session.commit()
        customer_id = customer.id
    raise web.HTTPFound(f"/customers/{customer_id}#vehicles")
