"""Customer pages: search, the customer page (details, vehicles, calls, tickets, history),
the edit form, and Excel import (upload → preview → confirm → progress) and export.

Agents, supervisors and admins use the pages; agents see only the customers
they served (``auth/scope.customer_filter``). Import and export are for
supervisors and admins; every export is written to the audit log. Imports run
as background tasks (one per import) so the page can show a progress bar while
the daemon keeps answering calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import BodyPartReader, web
from sqlalchemy import select, update

from callcenter import tasks as background
from callcenter.auth import csrf
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
from callcenter.core.roles import Role
from callcenter.core.screenpop import LISTEN_ROLES
from callcenter.db.models.calls import Call
from callcenter.db.models.customers import Customer, CustomerImport
from callcenter.db.models.tickets import Ticket
from callcenter.db.repos import customers as repo
from callcenter.db.repos.audit import record
from callcenter.excel import export, importer
from callcenter.excel.columns import FIELDS, mapping_from_json
from callcenter.excel.safety import ExcelError, Limits
from callcenter.i18n import N_, translations
from callcenter.localtime import parse_date
from callcenter.registry import CLOCK, SESSIONMAKER, SETTINGS
from callcenter.web.access import CurrentUser, allow, current_user
from callcenter.web.auth import client_address, request_language
from callcenter.web.openapi import describe

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

VIEW_ROLES = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
DATA_ROLES = (Role.SUPERVISOR, Role.ADMIN)  # import and export
PAGE_SIZE = 50
PREVIEW_REJECTS = 200
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

IMPORT_JOBS: web.AppKey[dict[int, asyncio.Task[Any]]] = web.AppKey("customer_import_jobs")


def _user(request: web.Request) -> CurrentUser:
    user = current_user(request)
    assert user is not None  # the access middleware lets only logged-in users through
    return user


def _gettext(request: web.Request) -> Any:
    return translations(request_language(request)).gettext


def _sees_all(user: CurrentUser) -> bool:
    return user.role in (Role.SUPERVISOR, Role.ADMIN)


async def _visible_customer(request: web.Request, session: Any, customer_id: int) -> Customer:
    """The customer, if this user may see it; 404 otherwise (no hint that it exists)."""
    user = _user(request)
    query = select(Customer.id).where(Customer.id == customer_id, customer_filter(user))
    if (await session.execute(query)).first() is None:
        raise web.HTTPNotFound(text=_gettext(request)("No such customer."))
    customer = await repo.get_customer(session, customer_id)
    if customer is None:
        raise web.HTTPNotFound(text=_gettext(request)("No such customer."))
    return customer


def _filter_from(query: Any) -> repo.CustomerFilter:
    kind = query.get("type", "")
    return repo.CustomerFilter(
        text=query.get("q", "")[:200],
        province=query.get("province", "")[:80],
        customer_type=kind if kind in CUSTOMER_TYPES else "",
        tag=query.get("tag", "")[:40],
    )


# --- search and customer page --------------------------------------------------------


@routes.get("/customers", name="customers")
@allow(*VIEW_ROLES)
async def customer_list(request: web.Request) -> web.StreamResponse:
    user = _user(request)
    where = _filter_from(request.query)
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
        "can_import": _sees_all(user),
        "national": format_national,
    }
    return aiohttp_jinja2.render_template("customers/list.html", request, context)


@routes.get(r"/customers/{id:\d+}", name="customer")
@allow(*VIEW_ROLES)
async def customer_page(request: web.Request) -> web.StreamResponse:
    customer_id = int(request.match_info["id"])
    user = _user(request)
    async with request.app[SESSIONMAKER]() as session:
        customer = await _visible_customer(request, session, customer_id)
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
    context = {
        "customer": customer,
        "calls": calls,
        "tickets": tickets,
        "surveys": [],  # surveys arrive with the survey issue; the section shows "none yet"
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
    gettext = _gettext(request)
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
    data, errors, values = _parse_form(form, [], _gettext(request))
    async with request.app[SESSIONMAKER]() as session:
        errors += await _phone_conflicts(request, session, data.phones, None)
        if errors:
            return _render_form(request, None, values, errors, 400)
        customer = await repo.create_customer(
            session, data, at=request.app[CLOCK].now(), actor=_user(request), via="web"
        )
        await session.commit()
        customer_id = customer.id
    raise web.HTTPFound(f"/customers/{customer_id}")


@routes.get(r"/customers/{id:\d+}/edit", name="customer_edit")
@allow(*VIEW_ROLES)
async def customer_edit_form(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONMAKER]() as session:
        customer = await _visible_customer(request, session, int(request.match_info["id"]))
    return _render_form(request, customer, _form_values(customer), [])


@routes.post(r"/customers/{id:\d+}/edit")
@allow(*VIEW_ROLES)
async def customer_update(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    async with request.app[SESSIONMAKER]() as session:
        customer = await _visible_customer(request, session, int(request.match_info["id"]))
        current = repo.to_data(customer)
        data, errors, values = _parse_form(form, current.vehicles, _gettext(request))
        errors += await _phone_conflicts(request, session, data.phones, customer.id)
        if errors:
            return _render_form(request, customer, values, errors, 400)
        changes = diff(current, data)
        await repo.apply_changes(
            session, customer, data, changes, at=request.app[CLOCK].now(), actor=_user(request)
        )
        await session.commit()
        customer_id = customer.id
    raise web.HTTPFound(f"/customers/{customer_id}")


@routes.post(r"/customers/{id:\d+}/vehicles")
@allow(*VIEW_ROLES)
async def vehicle_add(request: web.Request) -> web.StreamResponse:
    """Add a vehicle, or update the one with the same VIN."""
    form = await request.post()
    gettext = _gettext(request)
    async with request.app[SESSIONMAKER]() as session:
        customer = await _visible_customer(request, session, int(request.match_info["id"]))
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
            session, customer, merged, changes, at=request.app[CLOCK].now(), actor=_user(request)
        )
        await session.commit()
        customer_id = customer.id
    raise web.HTTPFound(f"/customers/{customer_id}#vehicles")


@routes.post(r"/customers/{id:\d+}/vehicles/{vin}/delete")
@allow(*VIEW_ROLES)
async def vehicle_remove(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONMAKER]() as session:
        customer = await _visible_customer(request, session, int(request.match_info["id"]))
        current = repo.to_data(customer)
        vin = request.match_info["vin"].upper()
        if vin not in {vehicle.vin for vehicle in current.vehicles}:
            raise web.HTTPNotFound(text=_gettext(request)("No such vehicle."))
        wanted = replace(
            current, vehicles=[vehicle for vehicle in current.vehicles if vehicle.vin != vin]
        )
        await repo.apply_changes(
            session,
            customer,
            wanted,
            diff(current, wanted),
            at=request.app[CLOCK].now(),
            actor=_user(request),
        )
        await session.commit()
        customer_id = customer.id
    raise web.HTTPFound(f"/customers/{customer_id}#vehicles")


# --- JSON for scripts and the agent page ---------------------------------------------


def customer_json(customer: Customer) -> dict[str, Any]:
    data = repo.to_data(customer)
    return {
        "id": customer.id,
        "name": data.name,
        "phones": data.phones,
        "email": data.email,
        "province": data.province,
        "district": data.district,
        "address": data.address,
        "customer_type": data.customer_type,
        "tags": data.tags,
        "do_not_call": data.do_not_call,
        "vehicles": [
            {
                "vin": vehicle.vin,
                "model": vehicle.model,
                "plate": vehicle.plate,
                "purchase_date": vehicle.purchase_date.isoformat()
                if vehicle.purchase_date
                else None,
                "warranty_end": vehicle.warranty_end.isoformat() if vehicle.warranty_end else None,
                "dealer": vehicle.dealer,
            }
            for vehicle in data.vehicles
        ],
    }


CUSTOMER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "phones": {
            "type": "array",
            "items": {"type": "string"},
            "description": "E.164, primary first",
        },
        "email": {"type": "string"},
        "province": {"type": "string"},
        "district": {"type": "string"},
        "address": {"type": "string"},
        "customer_type": {"enum": ["individual", "fleet"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "do_not_call": {"type": "boolean"},
        "vehicles": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "vin": {"type": "string"},
                    "model": {"type": "string"},
                    "plate": {"type": "string"},
                    "purchase_date": {"type": ["string", "null"], "format": "date"},
                    "warranty_end": {"type": ["string", "null"], "format": "date"},
                    "dealer": {"type": "string"},
                },
            },
        },
    },
}
IMPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "filename": {"type": "string"},
        "status": {"enum": ["uploaded", "previewing", "previewed", "importing", "done", "failed"]},
        "processed_rows": {"type": "integer"},
        "total_rows": {"type": "integer", "description": "estimate until the end"},
        "preview": {"type": "object", "description": "per-row counts of the preview"},
        "result": {"type": "object", "description": "per-row counts of the import"},
        "error": {"type": "string"},
    },
}


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
    where = _filter_from(request.query)
    async with request.app[SESSIONMAKER]() as session:
        base = repo.filtered_query(where).where(customer_filter(_user(request)))
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
        if customer is not None and not _sees_all(_user(request)):
            visible = select(Customer.id).where(
                Customer.id == customer.id, customer_filter(_user(request))
            )
            if (await session.execute(visible)).first() is None:
                customer = None
    if customer is None:
        return web.json_response({"e164": result.e164, "customer": None}, status=404)
    return web.json_response({"e164": result.e164, "customer": customer_json(customer)})


# --- import --------------------------------------------------------------------------


def _limits(request: web.Request) -> Limits:
    return Limits(max_file_bytes=int(request.app[SETTINGS].http.max_upload_mb * 1024 * 1024))


def _upload_error(request: web.Request, message: str, status: int) -> web.StreamResponse:
    if request.headers.get("Accept", "").startswith("application/json"):
        return web.json_response({"error": message}, status=status)
    return _render_import_home(request, error=message, status=status)


def _render_import_home(
    request: web.Request, *, error: str = "", status: int = 200, imports: Any = ()
) -> web.StreamResponse:
    context = {
        "error": error,
        "imports": imports,
        "max_mb": request.app[SETTINGS].http.max_upload_mb,
    }
    response = aiohttp_jinja2.render_template("customers/import.html", request, context)
    response.set_status(status)
    return response


@routes.get("/customers/import", name="customer_import")
@allow(*DATA_ROLES)
async def import_home(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONMAKER]() as session:
        imports = (
            (
                await session.execute(
                    select(CustomerImport).order_by(CustomerImport.id.desc()).limit(20)
                )
            )
            .scalars()
            .all()
        )
    return _render_import_home(request, imports=imports)


async def _receive_upload(request: web.Request, limit: int) -> tuple[Path, str] | tuple[int, str]:
    """Stream the uploaded file to disk: (path, filename), or (HTTP status, error message)."""
    gettext = _gettext(request)
    too_large = gettext("The file is larger than the limit of {mb} MB.").format(
        mb=f"{request.app[SETTINGS].http.max_upload_mb:g}"
    )
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        return 413, too_large
    if not request.content_type.startswith("multipart/"):
        return 400, gettext("Choose an .xlsx file to upload.")
    fd, name = tempfile.mkstemp(suffix=".xlsx", dir=importer.imports_dir())
    os.close(fd)
    target = Path(name)
    filename = ""
    size = 0
    try:
        if request.headers.get(csrf.HEADER):
            # customers.js: the token is in a header, the body is still unread: stream it.
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader) or part.name != "file" or not part.filename:
                    continue
                filename = str(part.filename)
                with target.open("wb") as handle:  # noqa: ASYNC230 — small chunks, local disk
                    while chunk := await part.read_chunk(256 * 1024):
                        size += len(chunk)
                        if size > limit:
                            raise OverflowError
                        handle.write(chunk)
        else:
            # A plain form post: the CSRF check already read the form (aiohttp spooled the
            # file to a temporary file and enforced client_max_size).
            field = (await request.post()).get("file")
            if isinstance(field, web.FileField):
                filename = field.filename
                size = await asyncio.to_thread(_copy_file, field.file, target, limit)
    except OverflowError:
        target.unlink(missing_ok=True)  # noqa: ASYNC240
        return 413, too_large
    if not filename or size == 0:
        target.unlink(missing_ok=True)  # noqa: ASYNC240
        return 400, gettext("Choose an .xlsx file to upload.")
    return target, filename


def _copy_file(source: Any, target: Path, limit: int) -> int:
    source.seek(0)
    size = 0
    with target.open("wb") as handle:
        while chunk := source.read(256 * 1024):
            size += len(chunk)
            if size > limit:
                raise OverflowError
            handle.write(chunk)
    return size


@routes.post("/customers/import")
@allow(*DATA_ROLES)
async def import_upload(request: web.Request) -> web.StreamResponse:
    """Receive a workbook, check it, find its columns and start the preview."""
    limits = _limits(request)
    received = await _receive_upload(request, limits.max_file_bytes)
    if isinstance(received[0], int):
        return _upload_error(request, str(received[1]), received[0])
    path, filename = received
    assert isinstance(path, Path)
    gettext = _gettext(request)
    try:
        batch = await importer.prepare(
            request.app[SESSIONMAKER],
            path,
            filename=filename,
            at=request.app[CLOCK].now(),
            created_by_id=_user(request).id,
            keep_copy=False,
            limits=limits,
        )
    except ExcelError as exc:
        await asyncio.to_thread(path.unlink, True)
        message = gettext("{file}: {reason}").format(
            file=filename, reason=gettext(exc.message).format(**exc.params)
        )
        return _upload_error(request, message, 400)
    _start_job(request, batch.id, dry_run=True)
    location = f"/customers/import/{batch.id}"
    if request.headers.get("Accept", "").startswith("application/json"):
        return web.json_response({"import_id": batch.id, "location": location})
    raise web.HTTPFound(location)


def _start_job(request: web.Request, import_id: int, *, dry_run: bool) -> None:
    app = request.app
    jobs = app[IMPORT_JOBS]
    if import_id in jobs and not jobs[import_id].done():
        raise web.HTTPConflict(text=_gettext(request)("This import is already running."))
    gettext = _gettext(request)
    user = _user(request)

    async def job() -> None:
        try:
            await importer.run(
                app[SESSIONMAKER],
                import_id,
                dry_run=dry_run,
                clock=app[CLOCK],
                actor=user,
                translate=gettext,
            )
        except ExcelError:
            pass  # stored on the import as "failed" with the reason
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("customer import %s failed", import_id)
            async with app[SESSIONMAKER]() as session, session.begin():
                batch = await session.get(CustomerImport, import_id)
                if batch is not None:
                    batch.status = "failed"
                    batch.error = gettext("Unexpected error; the server log has the details.")
        finally:
            jobs.pop(import_id, None)

    jobs[import_id] = asyncio.create_task(job(), name=f"customer-import-{import_id}")


async def _load_import(request: web.Request, session: Any) -> CustomerImport:
    batch = await session.get(CustomerImport, int(request.match_info["id"]))
    if batch is None:
        raise web.HTTPNotFound(text=_gettext(request)("No such import."))
    return batch  # type: ignore[no-any-return]


def import_json(batch: CustomerImport) -> dict[str, Any]:
    return {
        "id": batch.id,
        "filename": batch.filename,
        "status": batch.status,
        "processed_rows": batch.processed_rows,
        "total_rows": batch.total_rows,
        "preview": batch.preview_counts,
        "result": batch.result_counts,
        "error": batch.error,
    }


@routes.get(r"/customers/import/{id:\d+}", name="customer_import_status")
@allow(*DATA_ROLES)
async def import_status_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONMAKER]() as session:
        batch = await _load_import(request, session)
        rejects = await importer.rejected_rows(session, batch.id, limit=PREVIEW_REJECTS)
    context = {
        "batch": batch,
        "rejects": rejects,
        "mapping": mapping_from_json(batch.mapping),
        "fields": FIELDS,
        "running": batch.status in ("uploaded", "previewing", "importing"),
        "state": import_json(batch),
    }
    return aiohttp_jinja2.render_template("customers/import_status.html", request, context)


@routes.get(r"/api/customers/imports/{id:\d+}", name="api_customer_import")
@allow(*DATA_ROLES)
@describe(
    "Progress of an Excel import",
    tags=["customers"],
    response=IMPORT_SCHEMA,
    errors={404: "No such import."},
)
async def import_status_json(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONMAKER]() as session:
        batch = await _load_import(request, session)
        return web.json_response(import_json(batch))


@routes.post(r"/customers/import/{id:\d+}/mapping")
@allow(*DATA_ROLES)
async def import_mapping(request: web.Request) -> web.StreamResponse:
    """The user corrected which column is which: store it and preview again."""
    form = await request.post()
    async with request.app[SESSIONMAKER]() as session:
        batch = await _load_import(request, session)
        if batch.status not in ("previewed", "failed", "uploaded"):
            raise web.HTTPConflict(text=_gettext(request)("This import can no longer be changed."))
        width = len(batch.headers)
        import_id = batch.id
    posted = {
        str(index): str(form.get(f"column_{index}", ""))
        for index in range(width)
        if form.get(f"column_{index}")
    }
    await importer.set_mapping(request.app[SESSIONMAKER], import_id, mapping_from_json(posted))
    _start_job(request, import_id, dry_run=True)
    raise web.HTTPFound(f"/customers/import/{import_id}")


@routes.post(r"/customers/import/{id:\d+}/confirm")
@allow(*DATA_ROLES)
async def import_confirm(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONMAKER]() as session, session.begin():
        batch = await _load_import(request, session)
        if batch.status != "previewed":
            raise web.HTTPConflict(
                text=_gettext(request)("Only a previewed import can be confirmed.")
            )
        # Mark it running before the redirect: the status page then shows the progress bar
        # and polls, instead of rendering "previewed" when the job has not started yet.
        batch.status = "importing"
        batch.processed_rows = 0
        import_id = batch.id
    _start_job(request, import_id, dry_run=False)
    raise web.HTTPFound(f"/customers/import/{import_id}")


@routes.get(r"/customers/import/{id:\d+}/rejected.xlsx", name="customer_import_rejected")
@allow(*DATA_ROLES)
async def import_rejected_download(request: web.Request) -> web.StreamResponse:
    gettext = _gettext(request)
    async with request.app[SESSIONMAKER]() as session:
        batch = await _load_import(request, session)
        filename = f"rejected-{batch.id}.xlsx"
    async with _temporary_xlsx() as path:
        await export.write_rejected(
            request.app[SESSIONMAKER], batch.id, path, reason_label=gettext("Reason")
        )
        body = await asyncio.to_thread(path.read_bytes)
    return web.Response(
        body=body,
        content_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@contextlib.asynccontextmanager
async def _temporary_xlsx() -> AsyncIterator[Path]:
    fd, name = await asyncio.to_thread(tempfile.mkstemp, ".xlsx")
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        await asyncio.to_thread(path.unlink, True)


# --- export --------------------------------------------------------------------------


@routes.get("/customers/export.xlsx", name="customer_export")
@allow(*DATA_ROLES)
async def export_download(request: web.Request) -> web.StreamResponse:
    """The filtered customers as .xlsx (same columns as the import); audited."""
    where = _filter_from(request.query)
    user = _user(request)
    async with _temporary_xlsx() as path:
        count = await export.export_customers(request.app[SESSIONMAKER], where, path)
        async with request.app[SESSIONMAKER]() as session, session.begin():
            await record(
                session,
                action="export",
                user=user,
                target="customers",
                address=client_address(request),
                details={"count": count, **where.__dict__},
            )
        response = web.StreamResponse(
            headers={
                "Content-Type": XLSX_TYPE,
                "Content-Disposition": 'attachment; filename="customers.xlsx"',
            }
        )
        await response.prepare(request)
        handle = await asyncio.to_thread(path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, 1 << 20):
                await response.write(chunk)
        finally:
            handle.close()
        await response.write_eof()
    return response


def _forget_old_uploads(max_age_seconds: float = 2 * 86400) -> None:
    """Uploads previewed but never imported are kept two days, then deleted."""
    limit = time.time() - max_age_seconds
    for path in importer.imports_dir().glob("*.xlsx"):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < limit:
                path.unlink()


async def _jobs_ctx(app: web.Application) -> AsyncIterator[None]:
    """Import tasks live with the app: interrupted ones are marked failed, running ones cancelled."""
    app[IMPORT_JOBS] = {}
    await asyncio.to_thread(_forget_old_uploads)
    with contextlib.suppress(
        Exception
    ):  # a database that is not migrated yet is reported elsewhere
        async with app[SESSIONMAKER]() as session, session.begin():
            await session.execute(
                update(CustomerImport)
                .where(CustomerImport.status.in_(("previewing", "importing")))
                .values(status="failed", error="interrupted: the server stopped during this run")
            )
    yield
    for task in list(app[IMPORT_JOBS].values()):
        await background.stop(task)  # logs a job that failed instead of hiding it


def setup(app: web.Application) -> None:
    app[IMPORT_JOBS] = {}
    app.cleanup_ctx.append(_jobs_ctx)
    app.router.add_routes(routes)
