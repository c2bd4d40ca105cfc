"""The admin console's page for keyword rules: per category, the words and phrases
(Vietnamese and English, one a line) that suggest it when a transcript contains them.
Matching folds accents (``suggest``), so "bao hanh" and "bảo hành" are the same rule."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.core.roles import Role
from callcenter.db.models import Category, CategoryKeywords
from callcenter.i18n import N_
from callcenter.registry import SESSIONMAKER
from callcenter.transcripts.suggest import keywords_of
from callcenter.web.access import allow
from callcenter.web.admin_common import (
    Change,
    FormInputError,
    apply_change,
    done,
    form_error,
    read_form,
    render,
)

routes = web.RouteTableDef()
PATH = "/admin/category-keywords"
MAX_CHARS = 4000


async def _rows(session: AsyncSession) -> list[tuple[Category, str]]:
    rules = {
        row.category_id: row.keywords for row in await session.scalars(select(CategoryKeywords))
    }
    categories = await session.scalars(
        select(Category).where(Category.active).order_by(Category.name)
    )
    return [(category, rules.get(category.id, "")) for category in categories]


@routes.get(PATH, name="admin_category_keywords")
@allow(Role.ADMIN)
async def keywords_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONMAKER]() as session:
        rows = await _rows(session)
    return render(request, "transcripts/keywords.html", {"rows": rows})


@routes.post(PATH)
@allow(Role.ADMIN)
async def save_keywords(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)

    async def change(session: AsyncSession) -> Change:
        existing = {row.category_id: row for row in await session.scalars(select(CategoryKeywords))}
        changed: dict[str, list[str]] = {}
        for category, old in await _rows(session):
            name = f"keywords-{category.id}"
            if name not in form.data:
                continue  # a category added since the page was opened: left as it is
            text = form.text(name)
            if len(text) > MAX_CHARS:
                raise FormInputError(N_("Keep the keywords under 4000 characters."), field=name)
            if text == old.strip():
                continue
            lines = "\n".join(line.strip() for line in text.splitlines() if line.strip())
            if category.id in existing:
                existing[category.id].keywords = lines
            else:
                session.add(CategoryKeywords(category_id=category.id, keywords=lines))
            changed[category.code] = keywords_of(lines)
        return Change(target="category_keywords", details={"changed": changed})

    try:
        await apply_change(request, "category_keywords", change)
    except FormInputError as exc:
        async with request.app[SESSIONMAKER]() as session:
            rows = await _rows(session)
        values = form.values()
        typed = [(category, values.get(f"keywords-{category.id}", old)) for category, old in rows]
        return render(
            request, "transcripts/keywords.html", {"rows": typed}, status=400,
            error=form_error(request, exc),
        )  # fmt: skip
    raise done(PATH, "saved")
