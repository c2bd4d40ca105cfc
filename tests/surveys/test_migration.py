"""Migration 0010 on existing data: issue 11's 1–5 scores become IVR responses to the
default post-call survey, tied to the customer of the call; ``call_surveys`` stays
readable as a view; going down brings the table and its rows back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import inspect, text

from callcenter.db import migrate
from callcenter.db.engine import make_engine

AT = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def _filler(column: dict[str, Any], url: str) -> object:
    """A value for a NOT NULL column the test does not care about."""
    kind = str(column["type"]).upper()
    if "BOOL" in kind:
        return False
    if any(word in kind for word in ("INT", "FLOAT", "NUMERIC", "REAL", "DOUBLE")):
        return 0
    if "DATE" in kind or "TIME" in kind:
        return AT.replace(tzinfo=None) if url.startswith("sqlite") else AT
    if "JSON" in kind:
        return "[]"
    return ""


async def _insert(url: str, table: str, values: dict[str, object]) -> None:
    """INSERT a row, filling every other NOT NULL column of the table at this revision."""
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            columns = await connection.run_sync(lambda c: inspect(c).get_columns(table))
            row = dict(values)
            for column in columns:
                if column["name"] not in row and not column["nullable"] and column["name"] != "id":
                    row[column["name"]] = _filler(column, url)
            names = ", ".join(row)
            marks = ", ".join(f":{n}" for n in row)
            await connection.execute(text(f"INSERT INTO {table} ({names}) VALUES ({marks})"), row)
    finally:
        await engine.dispose()


async def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return [tuple(r) for r in await connection.execute(text(sql))]
    finally:
        await engine.dispose()


def test_old_scores_become_responses_and_the_view_keeps_them(database_url: str) -> None:
    migrate.upgrade(database_url, "0008")
    at = AT.replace(tzinfo=None) if database_url.startswith("sqlite") else AT
    steps = [
        ("users", {"id": 7, "username": "lan", "role": "agent"}),
        ("customers", {"id": 3, "name": "Nguyễn Văn An"}),
        ("calls", {"id": 1, "linkedid": "c1.1", "customer_id": 3, "started_at": at}),
        ("call_surveys", {"linkedid": "c1.1", "uniqueid": "c1.2", "score": 4,
                          "caller": "0912345678", "agent_id": 7, "answered_at": at}),
        ("call_surveys", {"linkedid": "c2.1", "uniqueid": "c2.2", "score": 1,
                          "caller": "0987000111", "agent_id": None, "answered_at": at}),
    ]  # fmt: skip
    for table, values in steps:
        asyncio.run(_insert(database_url, table, values))
    migrate.upgrade(database_url)
    responses = asyncio.run(_rows(database_url,
        "SELECT r.channel, r.linkedid, r.uniqueid, r.customer_id, r.agent_id, r.caller, "
        "a.value_number, q.kind, s.name, s.after_call FROM survey_responses r "
        "JOIN survey_answers a ON a.response_id = r.id JOIN survey_questions q "
        "ON q.id = a.question_id JOIN surveys s ON s.id = r.survey_id ORDER BY r.id"))  # fmt: skip
    assert [r[:8] for r in responses] == [
        ("ivr", "c1.1", "c1.2", 3, 7, "0912345678", 4.0, "scale_5"),
        ("ivr", "c2.1", "c2.2", None, None, "0987000111", 1.0, "scale_5"),
    ]
    assert {(r[8], bool(r[9])) for r in responses} == {("Khảo sát sau cuộc gọi", True)}
    view = asyncio.run(_rows(database_url,
        "SELECT linkedid, uniqueid, score, caller, agent_id FROM call_surveys ORDER BY uniqueid"))  # fmt: skip
    assert view == [("c1.1", "c1.2", 4, "0912345678", 7), ("c2.1", "c2.2", 1, "0987000111", None)]

    migrate.downgrade(database_url, "0008")
    back = asyncio.run(_rows(database_url,
        "SELECT linkedid, uniqueid, score, agent_id FROM call_surveys ORDER BY uniqueid"))  # fmt: skip
    assert back == [("c1.1", "c1.2", 4, 7), ("c2.1", "c2.2", 1, None)]
