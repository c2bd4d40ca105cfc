"""Markup typed into caller ID names, customer fields and ticket text is shown as text.

Each field holds a payload; every page that shows that data is rendered as the role
that sees it. The payload must appear escaped (so the page does show the field) and
never as markup. Jinja autoescapes every template; this fails if a template or a
filter ever marks such text safe.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from callcenter.auth.sessions import COOKIE_NAME
from callcenter.db.models import Call, Customer, Ticket, TicketEvent
from callcenter.registry import SESSIONMAKER
from tests.test_access_table import _cookie_for

PAYLOAD = "<script>document.title='xss'</script><img src=x onerror=alert(1)>\"'&"
MARKUP = ("<script>document.title", "<img src=x", "onerror=alert(1)>")
ESCAPED = "&lt;script&gt;document.title="  # the payload, shown as text
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


async def _seed(client: TestClient) -> dict[str, Any]:
    async with client.server.app[SESSIONMAKER]() as session:
        customer = await session.get(Customer, 1)  # the table's sample customer
        assert customer is not None
        customer.name = "Khách " + PAYLOAD
        customer.address = "Địa chỉ " + PAYLOAD
        customer.notes = "Ghi chú " + PAYLOAD
        customer.province = PAYLOAD[:80]
        customer.tags = [PAYLOAD]
        call = Call(
            linkedid="1795436100.99",
            caller_number="+84912345678",
            caller_name=("Gọi " + PAYLOAD)[:120],
            customer_id=1,
            started_at=NOW,
            ended_at=NOW,
            disposition="answered",
        )
        session.add(call)
        await session.flush()
        ticket = await session.get(Ticket, 1)
        assert ticket is not None
        ticket.customer_id = 1
        ticket.call_id = call.id
        ticket.subject = "Phiếu " + PAYLOAD
        ticket.description = "Mô tả " + PAYLOAD
        session.add(TicketEvent(ticket_id=1, kind="comment", note="Bình luận " + PAYLOAD, at=NOW))
        await session.commit()
    return {"customer": 1, "ticket": "TK-2026-000001"}


PAGES = {
    # page: (role, whose data must be visible on it)
    "/customers": ("supervisor", True),
    "/customers?q=0912345678": ("supervisor", True),
    "/customers/1": ("supervisor", True),
    "/customers/1/edit": ("admin", True),
    "/tickets": ("supervisor", True),
    "/tickets?q=Phi%E1%BA%BFu": ("admin", True),
    "/tickets/inbox": ("department", True),
    "/tickets/inbox?partial=1": ("department", True),  # tickets.js puts it in with innerHTML
    "/tickets/TK-2026-000001": ("department", True),
    "/tickets/TK-2026-000001/print": ("supervisor", True),
    "/customers?q=" + PAYLOAD: ("supervisor", False),  # the search box echoes the query
    "/tickets?q=" + PAYLOAD: ("supervisor", False),
}


async def test_payloads_are_escaped_on_every_page_that_shows_them(
    app_client: TestClient,
) -> None:
    await _seed(app_client)
    users = app_client.users  # type: ignore[attr-defined]
    problems: list[str] = []
    for page, (role, shows_data) in PAGES.items():
        cookie, _ = await _cookie_for(app_client, users[role])
        app_client.session.cookie_jar.clear()
        app_client.session.cookie_jar.update_cookies(
            {COOKIE_NAME: cookie}, app_client.make_url("/")
        )
        response = await app_client.get(page, allow_redirects=False)
        body = await response.text()
        if response.status != 200:
            problems.append(f"{page} as {role}: {response.status}")
            continue
        raw = [fragment for fragment in MARKUP if fragment in body]
        if raw:
            problems.append(f"{page} as {role}: raw markup {raw}")
        visible = ESCAPED in body
        if shows_data and not visible:
            problems.append(f"{page} as {role}: the escaped payload is not on the page")
    assert not problems, "\n".join(problems)


STATIC = Path(__file__).resolve().parents[2] / "agent_ui" / "static"
HTML_SINKS = re.compile(r"\.(innerHTML|outerHTML)\s*\+?=|insertAdjacentHTML|document\.write")
#: The only HTML sink: the inbox rows, rendered (escaped) by the server, checked above.
ALLOWED_SINKS = {("tickets.js", "rows.innerHTML = await response.text();")}


def test_page_scripts_put_data_in_as_text_never_as_markup() -> None:
    """Screen-pops, wallboards and live lists are filled by our scripts: with textContent."""
    found = set()
    for script in sorted(STATIC.glob("*.js")):
        for line in script.read_text(encoding="utf-8").splitlines():
            if HTML_SINKS.search(line):
                found.add((script.name, line.strip().split("if (response.ok) ")[-1]))
    assert found <= ALLOWED_SINKS, f"scripts that write HTML: {sorted(found - ALLOWED_SINKS)}"
