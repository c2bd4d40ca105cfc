"""schemathesis against /api/openapi.json, once per role: no 5xx, no other role's or
department's data in any answer.

The app runs in a thread of its own (schemathesis calls it with ``requests``, which
blocks). Every operation of the document gets a few generated requests per role, sent
with that role's session cookie and CSRF header. Marked data the role must not see:

* a ticket of another department (subject ``LEAK-DEPT2``): never in a department staff
  member's or an agent's answers;
* the table's sample customer, whom agents do not see (notes ``LEAK-CUSTOMER``): never
  in an agent's answers;
* password hashes (``$argon2``): never in anyone's.

Roles run agent, department, supervisor, admin: the two that may change data everywhere
come last, so their changes cannot move marked data before the checks that rely on it.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings

from callcenter.auth.sessions import COOKIE_NAME, logged_in
from callcenter.config import Settings
from callcenter.db.models import Customer, Department, Ticket, User
from callcenter.registry import CLOCK, SESSIONMAKER
from callcenter.tickets.plugin import PLUGIN as TICKETS
from callcenter.web.app import create_app
from callcenter.web.auth import AUTH
from tests.auth.migrated import copy_migrated
from tests.conftest import MigratedTemplates
from tests.test_access_table import ROLES, seed

#: Generated requests per operation and role; raise it for a deeper run, e.g.
#: ``CALLCENTER_API_FUZZ_EXAMPLES=50 .venv/bin/python -m pytest tests/security/test_api_fuzz.py``
EXAMPLES_PER_OPERATION = int(os.environ.get("CALLCENTER_API_FUZZ_EXAMPLES", "2"))
NEVER_SEEN_BY = {
    "LEAK-DEPT2": {"agent", "department"},
    "LEAK-CUSTOMER": {"agent"},
    "$argon2": set(ROLES),
}


def _json(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@dataclass
class Served:
    base_url: str
    cookies: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)


async def _mark(app: web.Application) -> None:
    async with app[SESSIONMAKER]() as session:
        session.add(Department(code="kt", name="Kỹ thuật"))
        customer = await session.get(Customer, 1)
        assert customer is not None
        customer.notes = "LEAK-CUSTOMER notes"
        await session.commit()
    async with app[SESSIONMAKER]() as session:
        session.add(Ticket(code="TK-2026-000002", department_id=2, subject="LEAK-DEPT2 subject"))
        await session.commit()


@pytest.fixture
def served(settings: Settings, migrated_templates: MigratedTemplates) -> Iterator[Served]:
    ready = threading.Event()
    stop: list[Any] = []
    result: dict[str, Any] = {}

    async def main() -> None:
        await copy_migrated(settings, migrated_templates)
        app = create_app(settings, extra_plugins=[TICKETS])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        users = await seed(app[SESSIONMAKER])
        await _mark(app)
        port = runner.addresses[0][1]
        result["served"] = served = Served(f"http://127.0.0.1:{port}")
        for role, user in users.items():
            async with app[SESSIONMAKER]() as db:
                current = await db.get(User, user.id)
                assert current is not None
                session = logged_in(app[CLOCK].now(), user.id, current.session_version)
            served.cookies[role] = app[AUTH].codec.dumps(session)
            served.tokens[role] = session.csrf
        finished = asyncio.Event()
        stop.append((asyncio.get_running_loop(), finished))
        ready.set()
        await finished.wait()
        await runner.cleanup()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    assert ready.wait(30), "the app did not start"
    try:
        yield result["served"]
    finally:
        loop, finished = stop[0]
        loop.call_soon_threadsafe(finished.set)
        thread.join(10)


def _probe(served: Served, role: str, operation: Any, problems: list[str], sent: list[int]) -> None:
    """Send the operation's generated requests as ``role``; note 5xx answers and leaks."""
    http = requests.Session()
    headers = {"X-CSRF-Token": served.tokens[role]}

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def probe(case: Any) -> None:
        response = case.call(
            base_url=served.base_url,
            session=http,
            headers=headers,
            cookies={COOKIE_NAME: served.cookies[role]},
            timeout=10,
        )
        sent[0] += 1
        label = f"{role} {operation.label} -> {response.status_code}"
        unavailable = response.status_code == 503 and "error" in _json(response)
        if response.status_code >= 500 and not unavailable:
            problems.append(f"{label}: {response.text[:200]}")
        for marker, hidden_from in NEVER_SEEN_BY.items():
            if role in hidden_from and marker in response.text:
                problems.append(f"{label}: answer carries {marker}")

    probe()


def test_no_role_gets_a_5xx_or_data_it_may_not_see(served: Served) -> None:
    admin = requests.Session()
    admin.cookies.set(COOKIE_NAME, served.cookies["admin"])
    document = admin.get(served.base_url + "/api/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    problems: list[str] = []
    sent = [0]
    for role in ROLES:
        for operation in operations:
            _probe(served, role, operation, problems, sent)
    assert sent[0] >= len(operations) * len(ROLES)
    assert not problems, "\n".join(sorted(set(problems)))
