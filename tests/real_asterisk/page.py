"""Agents' pages: a logged-in browser session speaking HTTP and websocket to the daemon.

Each page notes when every message arrives (the pop's time is checked against the
answer) and, like a person, saves the wrap-up form shortly after the call ends,
which creates the call's ticket.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.auth_helpers import DEFAULT_PASSWORD, csrf_from_html

CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')


@dataclass
class Page:
    base_url: str
    username: str
    category_id: int
    #: seconds between the wrap-up showing and the agent pressing "save"
    wrapup_delay: float = 0.3
    save_wrapups: bool = True
    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    pops: dict[str, float] = field(default_factory=dict)  # linkedid → epoch seconds
    pop_count: dict[str, int] = field(default_factory=dict)
    saved: dict[str, int] = field(default_factory=dict)  # linkedid → HTTP status
    errors: list[str] = field(default_factory=list)
    http: aiohttp.ClientSession | None = None
    ws: aiohttp.ClientWebSocketResponse | None = None
    csrf: str = ""
    _reader: asyncio.Task[None] | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def open(self) -> None:
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with self.http.get(self.base_url + "/login") as page:
            token = csrf_from_html(await page.text())
        async with self.http.post(
            self.base_url + "/login",
            data={"username": self.username, "password": DEFAULT_PASSWORD, "csrf_token": token},
            allow_redirects=False,
        ) as response:
            assert response.status == 302, await response.text()
        async with self.http.get(self.base_url + "/agent") as page:
            match = CSRF_META.search(await page.text())
            assert page.status == 200 and match
            self.csrf = match.group(1)
        await self.connect()

    async def connect(self) -> None:
        assert self.http is not None
        self.ws = await self.http.ws_connect(self.base_url + "/agent/ws", origin=self.base_url)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            now = time.time()
            data: dict[str, Any] = json.loads(message.data)
            self.messages.append((now, data))
            kind = data.get("type")
            if kind == "pop":
                linkedid = str(data["call"]["linkedid"])
                self.pops.setdefault(linkedid, now)
                if not data.get("history_pending"):  # the history follows: one pop, finished
                    self.pop_count[linkedid] = self.pop_count.get(linkedid, 0) + 1
            elif kind in ("call", "sync") and (data.get("call") or {}).get("phase") == "wrapup":
                linkedid = str(data["call"]["linkedid"])
                if self.save_wrapups and linkedid not in self.saved:
                    self.saved[linkedid] = 0
                    task = asyncio.create_task(self._save(linkedid))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)

    async def _save(self, linkedid: str) -> None:
        await asyncio.sleep(self.wrapup_delay)
        try:
            status, body = await self.post(
                f"/api/agent/calls/{linkedid}/wrapup",
                {"outcome": "new_ticket", "category_id": self.category_id, "notes": "tier"},
            )
        except aiohttp.ClientError as exc:
            # The daemon went away (a restart): the page offers the form again on reconnect.
            self.saved.pop(linkedid, None)
            self.errors.append(f"wrap-up of {linkedid}: {exc!r} (retried on reconnect)")
            return
        self.saved[linkedid] = status
        if status != 200:
            self.errors.append(f"wrap-up of {linkedid}: {status} {body}")

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        assert self.http is not None
        async with self.http.post(
            self.base_url + path, json=body, headers={"X-CSRF-Token": self.csrf}
        ) as response:
            try:
                payload = await response.json()
            except (aiohttp.ContentTypeError, json.JSONDecodeError):
                payload = {"text": await response.text()}
            return response.status, payload

    async def available(self) -> None:
        status, body = await self.post("/api/agent/state", {"action": "available"})
        assert status == 200 and body.get("state") == "available", (self.username, status, body)

    async def pause(self, reason: str = "lunch") -> None:
        status, body = await self.post("/api/agent/state", {"action": "pause", "reason": reason})
        assert status == 200, (self.username, status, body)

    def talking(self) -> bool:
        """Whether the page has shown a call in conversation (phase ``talking``)."""
        return any(
            d.get("type") == "call" and (d.get("call") or {}).get("phase") == "talking"
            for _, d in self.messages
        )

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [data for _, data in self.messages if data.get("type") == kind]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
        if self.http is not None:
            await self.http.close()
