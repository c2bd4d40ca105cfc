"""People never see raw codes: ticket numbers are codes linking to the ticket page, and
statuses, audit actions, import states and change sources are words in their language."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient

from callcenter.core.roles import Role
from callcenter.core.screenpop import build_pop_history
from callcenter.db.models import CustomerImport, Ticket
from callcenter.db.repos import audit
from callcenter.db.repos import history as history_repo
from callcenter.registry import SESSIONMAKER
from callcenter.web import labels
from tests.agent.conftest import AgentWorld
from tests.auth_helpers import login, make_user

CODE = re.compile(r"TK-\d{4}-\d{6}")


async def _client(world: AgentWorld, username: str) -> TestClient:
    client = TestClient(world.client.server)
    await client.start_server()
    await login(client, username)
    return client


async def test_customer_page_links_ticket_codes_and_names_statuses(agent_world: AgentWorld) -> None:
    app = agent_world.client.server.app
    await make_user(app, "giamsat", "supervisor")
    async with app[SESSIONMAKER]() as session:
        ticket = await session.get(Ticket, agent_world.world.open_ticket_id)
        assert ticket is not None and CODE.fullmatch(ticket.code)
        code, status = ticket.code, ticket.status
    boss = await _client(agent_world, "giamsat")
    try:
        html = await (await boss.get(f"/customers/{agent_world.world.customer_id}")).text()
    finally:
        await boss.close()
    assert f'href="/tickets/{code}">{code}</a>' in html
    assert status == "unassigned" and "Chưa giao việc" in html
    assert f">{status}<" not in html and ">closed<" not in html


async def test_pop_history_tickets_carry_code_and_link(agent_world: AgentWorld) -> None:
    app = agent_world.client.server.app
    async with app[SESSIONMAKER]() as session:
        history = await history_repo.load_history(session, agent_world.world.customer_id)
    _customer, shown = build_pop_history(history, viewer_role=Role.AGENT)
    tickets = shown["open_tickets"] + shown["recent_tickets"]
    assert len(tickets) == 2
    for ticket in tickets:
        assert CODE.fullmatch(ticket["code"]) and ticket["url"] == f"/tickets/{ticket['code']}"


async def test_audit_actions_and_import_states_are_words(agent_world: AgentWorld) -> None:
    app = agent_world.client.server.app
    admin = await make_user(app, "quantri", "admin")
    async with app[SESSIONMAKER]() as session:
        await audit.record(
            session, action="recording.listen", user=admin, target="call 7", at=datetime.now(UTC)
        )
        session.add(CustomerImport(filename="khach.xlsx", status="previewed"))
        await session.commit()
    client = await _client(agent_world, "quantri")
    try:
        audit_html = await (await client.get("/admin/audit")).text()
        imports_html = await (await client.get("/customers/import")).text()
    finally:
        await client.close()
    assert "Nghe ghi âm" in audit_html and ">recording.listen<" not in audit_html
    assert "Đã có bản xem trước" in imports_html and ">previewed<" not in imports_html


def test_every_stored_code_has_a_name() -> None:
    expected: dict[str, Any] = {
        "import_status": {"uploaded", "previewing", "previewed", "importing", "done", "failed"},
        "ticket_status": {
            "unassigned",
            "assigned",
            "in_progress",
            "waiting",
            "done",
            "closed",
            "cancelled",
        },
        "task_status": {"open", "in_progress", "done", "cancelled"},
        # the agent's three outcomes, and "called off: the customer asked not to be called"
        "task_outcome": {"reached", "not_reached", "wrong_number", "do_not_call"},
    }
    for table, codes in expected.items():
        assert set(labels.TABLES[table]) == codes, table
    from callcenter.db.repos.tasks import ORIGINS, STATUSES

    assert set(labels.TABLES["task_origin"]) == set(ORIGINS)
    assert set(labels.TABLES["task_status"]) == set(STATUSES)
