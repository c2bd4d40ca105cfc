"""Excel import: upload (size-limited, streamed to disk) → preview (a background task
per import) → column mapping → confirm → progress polled by the page
(``/api/customers/imports/{id}``), and the rejected rows as .xlsx. Import tasks live
with the app (:func:`jobs_ctx`): interrupted runs are marked failed at start-up,
running ones cancelled at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import BodyPartReader, web
from sqlalchemy import select, update

from callcenter import tasks as background
from callcenter.auth import csrf
from callcenter.db.models.customers import CustomerImport
from callcenter.excel import export, importer
from callcenter.excel.columns import FIELDS, mapping_from_json
from callcenter.excel.safety import ExcelError, Limits
from callcenter.registry import CLOCK, SESSIONMAKER, SETTINGS
from callcenter.web.access import allow
from callcenter.web.customers.common import (
    DATA_ROLES,
    XLSX_TYPE,
    gettext_for,
    logged_in_user,
    temporary_xlsx,
)
from callcenter.web.customers.schemas import IMPORT_SCHEMA, import_json
from callcenter.web.openapi import describe

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

PREVIEW_REJECTS = 200

IMPORT_JOBS: web.AppKey[dict[int, asyncio.Task[Any]]] = web.AppKey("customer_import_jobs")


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
    gettext = gettext_for(request)
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
    gettext = gettext_for(request)
    try:
        batch = await importer.prepare(
            request.app[SESSIONMAKER],
            path,
            filename=filename,
            at=request.app[CLOCK].now(),
            created_by_id=logged_in_user(request).id,
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
        raise web.HTTPConflict(text=gettext_for(request)("This import is already running."))
    gettext = gettext_for(request)
    user = logged_in_user(request)

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
        raise web.HTTPNotFound(text=gettext_for(request)("No such import."))
    return batch  # type: ignore[no-any-return]


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
            raise web.HTTPConflict(
                text=gettext_for(request)("This import can no longer be changed.")
            )
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
                text=gettext_for(request)("Only a previewed import can be confirmed.")
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
    gettext = gettext_for(request)
    async with request.app[SESSIONMAKER]() as session:
        batch = await _load_import(request, session)
        filename = f"rejected-{batch.id}.xlsx"
    async with temporary_xlsx() as path:
        await export.write_rejected(
            request.app[SESSIONMAKER], batch.id, path, reason_label=gettext("Reason")
        )
        body = await asyncio.to_thread(path.read_bytes)
    return web.Response(
        body=body,
        content_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _forget_old_uploads(max_age_seconds: float = 2 * 86400) -> None:
    """Uploads previewed but never imported are kept two days, then deleted."""
    limit = time.time() - max_age_seconds
    for path in importer.imports_dir().glob("*.xlsx"):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < limit:
                path.unlink()


async def jobs_ctx(app: web.Application) -> AsyncIterator[None]:
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
