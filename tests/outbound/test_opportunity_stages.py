"""An opportunity's stage, moved over HTTP on both databases: the agent who converted the
lead moves their own, a colleague cannot see or move it, a supervisor moves any; moves back
or out of won/lost are refused with a translated message; each move is kept with who and
when and shown on /outbound/opportunities."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from callcenter.db.models import OpportunityStageChange, Task, User
from callcenter.registry import SESSIONMAKER
from tests.agent.test_through_simulator import AgentClient
from tests.auth_helpers import make_user
from tests.outbound.conftest import WebDaemon
from tests.outbound.helpers import add_customer, post_form


async def converted_lead(daemon: WebDaemon, sup: AgentClient, agent: AgentClient) -> int:
    """A lead list for the supervisor's filter; the agent reaches the lead, who is buying:
    the opportunity's id."""
    assert daemon.app is not None
    factory = daemon.app[SESSIONMAKER]
    customer = await add_customer(factory, "Hồ Văn Phúc", "+84905000001", province="Long An")
    async with factory() as session:
        agent_id = await session.scalar(select(User.id).where(User.username == "lan"))
    status, _, body = await post_form(
        sup, "/outbound/lists",
        {"kind": "lead", "name": "Long An", "source": "filter", "province": "Long An",
         "agent_ids": agent_id},
    )  # fmt: skip
    assert status == 302, body
    async with factory() as session:
        task_id = await session.scalar(select(Task.id).where(Task.customer_id == customer))
    status, result = await agent.post(
        f"/api/outbound/tasks/{task_id}/outcome",
        {"outcome": "reached", "conversion": "buying", "vehicle_model": "HD120SL",
         "quantity": 2, "value_vnd": 1_300_000_000, "stage": "new"},
    )  # fmt: skip
    assert status == 200 and result["opportunity_id"], result
    return int(result["opportunity_id"])


async def _page(client: AgentClient) -> str:
    async with client.http.get(client.base_url + "/outbound/opportunities") as page:
        assert page.status == 200
        return await page.text()


async def test_owner_and_supervisor_move_stages_by_the_rules(daemon: WebDaemon) -> None:
    assert daemon.app is not None
    factory = daemon.app[SESSIONMAKER]
    lan = await make_user(factory, "lan", "agent", full_name="Trần Thị Lan")
    await make_user(factory, "minh", "agent", full_name="Lê Minh")
    sup_user = await make_user(factory, "sup", "supervisor", full_name="Phạm Giám Sát")
    sup, agent, other = (AgentClient(daemon.base_url) for _ in range(3))
    try:
        await sup.login("sup")
        await agent.login("lan")
        await other.login("minh")
        opportunity = await converted_lead(daemon, sup, agent)
        stage_url = f"/api/outbound/opportunities/{opportunity}/stage"

        html = await _page(agent)
        assert "Hồ Văn Phúc" in html and "HD120SL" in html and "Cơ hội mới" in html
        assert "Hồ Văn Phúc" not in await _page(other)  # a colleague's is not listed

        async def move(client: AgentClient, stage: str) -> tuple[int, dict[str, Any]]:
            return await client.post(stage_url, {"stage": stage})

        assert (await move(other, "quoted"))[0] == 404
        # Without the CSRF header the change is refused like every other one.
        async with agent.http.post(agent.base_url + stage_url, json={"stage": "quoted"}) as bare:
            assert bare.status == 403

        status, body = await move(agent, "quoted")
        assert status == 200, body
        assert (body["stage"], body["stage_label"]) == ("quoted", "Đã báo giá")
        assert [choice["stage"] for choice in body["next_stages"]] == ["negotiating", "won", "lost"]
        assert (body["change"]["from_label"], body["change"]["by"]) == (
            "Cơ hội mới",
            "Trần Thị Lan",
        )

        assert await move(agent, "new") == (
            400,
            {"error": "Cơ hội không thể quay lại từ Đã báo giá về Cơ hội mới."},
        )
        assert await move(agent, "quoted") == (400, {"error": "Cơ hội đã ở giai đoạn Đã báo giá."})
        assert await move(agent, "signed") == (400, {"error": "Hãy chọn giai đoạn"})

        status, body = await move(sup, "negotiating")
        assert status == 200 and body["stage_label"] == "Đang đàm phán", body
        status, body = await move(sup, "won")
        assert status == 200 and body["next_stages"] == [], body
        assert await move(agent, "lost") == (
            400,
            {"error": "Cơ hội đã kết thúc (Thành công): không thể đổi giai đoạn nữa."},
        )

        async with factory() as session:
            history = [
                (change.from_stage, change.to_stage, change.user_id, change.at is not None)
                for change in await session.scalars(
                    select(OpportunityStageChange).order_by(OpportunityStageChange.id)
                )
            ]
        assert history == [
            ("new", "quoted", lan.id, True),
            ("quoted", "negotiating", sup_user.id, True),
            ("negotiating", "won", sup_user.id, True),
        ]
        html = await _page(agent)
        assert "Trần Thị Lan: Cơ hội mới → Đã báo giá" in html
        assert "Phạm Giám Sát: Đang đàm phán → Thành công" in html
    finally:
        await sup.close()
        await agent.close()
        await other.close()
