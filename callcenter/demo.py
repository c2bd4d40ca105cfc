"""``callcenter demo``: the whole system on one machine with sample data and live calls.

Uses a SQLite file under ``--data-dir`` (created if missing; any other configured
database is refused, since the demo logins share a published password), loads reference and
sample data once, gives the demo users passwords, then starts the PBX simulator
(AMI + FastAGI on loopback, the production dialplan, simulated phones for the
demo agents) and the daemon wired to it. A call arrives every few seconds from a
mix of known customers, unknown numbers and anonymous callers until Ctrl+C.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.clock import Clock, ScaledClock, SystemClock
from callcenter.config import ConfigError, Settings
from callcenter.db.engine import make_engine, sessionmaker
from callcenter.db.models import CustomerPhone, Department, User
from callcenter.localtime import local_date
from callcenter.seed import (
    DEMO_AGENTS,
    open_on_public_holidays,
    seed_demo_data,
    seed_reference_data,
)

if TYPE_CHECKING:
    from callcenter.sim.runner import Simulator

log = logging.getLogger(__name__)

#: The password every demo login gets (printed at start; a demo is never production).
DEMO_PASSWORD = "demo-2026-cskh"
DEMO_STAFF = [("admin", "Quản trị viên", "admin"), ("supervisor", "Giám sát ca", "supervisor")]
#: The supervisor's own (simulated) phone: listening in from the wallboard rings it.
DEMO_STAFF_PHONES = {"supervisor": "PJSIP/190"}
#: Department staff (username, name, department code, order in the department, head):
#: log in as ``dichvu1`` to see complaints arrive in the service department's inbox.
DEMO_DEPARTMENT_STAFF = [
    ("dichvu1", "Trần Văn Dũng", "service", 0, True),
    ("dichvu2", "Lê Thị Hoa", "service", 1, False),
    ("phutung1", "Phạm Minh Tuấn", "parts", 0, True),
    ("kinhdoanh1", "Nguyễn Thu Trang", "sales", 0, True),
]
DEMO_HOTLINES = [("19006868", "Tổng đài chăm sóc khách hàng"), ("19001080", "Cứu hộ 24/7")]
#: One simulated call every this many seconds on average.
DEMO_CALL_EVERY_SECONDS = 6.0


async def seed_database(settings: Settings, *, demo: bool) -> None:
    engine = make_engine(settings.database.url)
    try:
        async with sessionmaker(engine)() as session, session.begin():
            await seed_reference_data(session)
            if demo:
                added = await seed_demo_data(session, SystemClock().now())
                if added:
                    log.info("loaded %d sample customers", added)
                await seed_demo_logins(session)
                await seed_demo_routing(session)
                await seed_demo_surveys(session)
                await seed_demo_outbound(session, SystemClock().now())
                # The demo takes calls every day, public holidays included.
                await open_on_public_holidays(session, local_date(SystemClock().now()))
    finally:
        await engine.dispose()


async def seed_demo_logins(session: AsyncSession) -> None:
    """Demo staff accounts, and a password for every demo user that has none."""
    from callcenter.auth.passwords import hash_password_async

    for username, full_name, role in DEMO_STAFF:
        if await session.scalar(select(User).where(User.username == username)) is None:
            phone = DEMO_STAFF_PHONES.get(username, "")
            session.add(User(username=username, full_name=full_name, role=role, interface=phone))
    departments = {d.code: d.id for d in (await session.scalars(select(Department))).all()}
    for username, full_name, code, order, head in DEMO_DEPARTMENT_STAFF:
        if (
            code in departments
            and await session.scalar(select(User).where(User.username == username)) is None
        ):
            session.add(
                User(
                    username=username,
                    full_name=full_name,
                    role="department",
                    department_id=departments[code],
                    department_priority=order,
                    is_department_head=head,
                    email=f"{username}@example.vn",
                )
            )
    await session.flush()
    names = [u for u, _, _ in DEMO_STAFF] + [u for u, _, _ in DEMO_AGENTS]
    names += [u for u, *_ in DEMO_DEPARTMENT_STAFF]
    for user in (await session.scalars(select(User).where(User.username.in_(names)))).all():
        if not user.password_hash:
            user.password_hash = await hash_password_async(DEMO_PASSWORD)


async def seed_demo_surveys(session: AsyncSession) -> None:
    """A sample survey the agents and the care team fill in: the vehicle interior, and
    "why" only when the customer is not satisfied (once; the admin edits it freely). The
    after-call survey on the phone is switched on: the simulated callers answer it."""
    from callcenter.db.models import Survey, SurveyQuestion, SystemSetting

    if await session.get(SystemSetting, "survey_after_call") is None:
        session.add(SystemSetting(key="survey_after_call", value=1))

    name = "Khảo sát sau bảo dưỡng"
    if await session.scalar(select(Survey.id).where(Survey.name == name)) is not None:
        return
    survey = Survey(
        name=name,
        description="Gọi lại khách sau khi xe được bảo dưỡng hoặc sửa chữa.",
        active=True,
        follow_up=True,
    )
    session.add(survey)
    await session.flush()
    score = SurveyQuestion(
        survey_id=survey.id, position=1, kind="scale_5",
        text="Anh/chị chấm điểm chất lượng dịch vụ từ 1 đến 5?",
    )  # fmt: skip
    interior = SurveyQuestion(
        survey_id=survey.id, position=2, kind="single_choice",
        text="Anh/chị có hài lòng về nội thất xe không?",
        options=["Không hài lòng", "Bình thường", "Hài lòng"],
    )  # fmt: skip
    session.add_all([score, interior])
    await session.flush()
    session.add(
        SurveyQuestion(
            survey_id=survey.id,
            position=3,
            kind="free_text",
            text="Vì sao anh/chị không hài lòng?",
            depends_on_id=interior.id,
            depends_values=["Không hài lòng"],
        )
    )
    session.add(
        SurveyQuestion(
            survey_id=survey.id,
            position=4,
            kind="scale_10",
            text="Anh/chị có sẵn lòng giới thiệu chúng tôi với bạn bè không (0–10)?",
        )
    )


async def seed_demo_routing(session: AsyncSession) -> None:
    """Hotlines, a group with the demo agents and round-the-clock hours (only if none exist)."""
    from callcenter.db.models.routing import AgentGroup, AgentGroupMember, BusinessHours, Hotline

    if await session.scalar(select(func.count()).select_from(Hotline)):
        return
    group = AgentGroup(code="care", name="Chăm sóc khách hàng", strategy="fewest_calls")
    session.add(group)
    await session.flush()
    agents = (
        await session.scalars(select(User).where(User.username.in_([u for u, _, _ in DEMO_AGENTS])))
    ).all()
    for priority, agent in enumerate(agents):
        session.add(AgentGroupMember(group_id=group.id, user_id=agent.id, priority=priority))
    for number, name in DEMO_HOTLINES:
        session.add(Hotline(number=number, name=name, group_id=group.id))
    for weekday in range(7):
        session.add(
            BusinessHours(
                hotline_id=None, weekday=weekday, opens=time(0, 0), closes=time(23, 59, 59)
            )
        )


async def seed_demo_outbound(session: AsyncSession, now: datetime) -> None:
    """A care campaign (the care group calls customers back with the demo survey) and a
    lead list of agent1's, where three leads were already called: one is buying (an
    opportunity, quoted), one is thinking it over (new), one is not interested. So the
    outbound pages, the reports and the opportunities open with something to show
    (only if no list exists)."""
    from callcenter.core.outbound import OpportunityInput
    from callcenter.db.models import CallList, CallListItem, Customer, Survey
    from callcenter.db.repos import outbound as outbound_repo

    if await session.scalar(select(func.count()).select_from(CallList)):
        return
    customers = (
        await session.scalars(
            select(Customer.id).where(Customer.do_not_call.is_(False)).order_by(Customer.id)
        )
    ).all()
    agent = await session.scalar(select(User).where(User.username == DEMO_AGENTS[0][0]))
    if len(customers) < 14 or agent is None:
        return
    survey_id = await session.scalar(select(Survey.id).where(Survey.follow_up.is_(True)))
    today = local_date(now)
    await outbound_repo.create_list(
        session, kind="care", name="Chăm sóc sau bảo dưỡng", customer_ids=customers[:8],
        source="filter", now=now, group="care", survey_id=survey_id,
        script="Chào anh/chị, em gọi từ phòng Chăm sóc khách hàng để hỏi thăm sau lần "
        "bảo dưỡng xe vừa rồi.",
        starts_on=today, ends_on=today + timedelta(days=30),
    )  # fmt: skip
    leads = await outbound_repo.create_list(
        session, kind="lead", name="Khách quan tâm xe tải nhẹ", customer_ids=customers[8:14],
        source="filter", now=now, agent_ids=[agent.id],
        script="Chào anh/chị, em gọi về dòng xe tải nhẹ anh/chị đã hỏi ở đại lý.",
    )  # fmt: skip
    tasks = (
        await session.scalars(
            select(CallListItem.task_id)
            .where(CallListItem.list_id == leads.call_list.id, CallListItem.task_id.is_not(None))
            .order_by(CallListItem.id)
        )
    ).all()
    outcomes = [
        ("reached", "buying", "", OpportunityInput("Ollin 350", 2, 1_240_000_000, "quoted")),
        ("reached", "buying", "", OpportunityInput("Aumark 250", 1, 465_000_000, "new")),
        ("not_interested", "", "Đã mua xe của hãng khác", None),
    ]
    for task_id, (outcome, conversion, reason, opportunity) in zip(tasks, outcomes, strict=False):
        assert task_id is not None
        await outbound_repo.record_lead_outcome(
            session, task_id, outcome, user_id=agent.id, now=now, reason=reason,
            conversion=conversion, opportunity=opportunity,
        )  # fmt: skip


async def known_numbers(settings: Settings, limit: int = 50) -> list[str]:
    """Numbers of seeded customers, in the national form a trunk delivers (0xxxxxxxxx)."""
    engine = make_engine(settings.database.url)
    try:
        async with sessionmaker(engine)() as session:
            rows = (await session.scalars(select(CustomerPhone.number).limit(limit))).all()
    finally:
        await engine.dispose()
    return ["0" + n[3:] if n.startswith("+84") else n for n in rows]


async def staff_demo_agents(app: web.Application) -> list[str]:
    """Log every demo agent but the first in and make them available, so calls are answered
    by simulated phones while a newcomer watches (the first one is left for them)."""
    from callcenter.registry import SESSIONMAKER
    from callcenter.services import plugin as acd_plugin

    service = app.get(acd_plugin.ACD_SERVICE)
    if service is None:
        return []
    names = [username for username, _, _ in DEMO_AGENTS[1:]]
    staffed: list[str] = []
    async with app[SESSIONMAKER]() as session:
        users = (await session.scalars(select(User).where(User.username.in_(names)))).all()
    for user in users:
        try:
            await service.login(user.id)
            await service.set_available(user.id)
        except Exception:
            log.warning("could not staff demo agent %s", user.username, exc_info=True)
            continue
        staffed.append(user.username)
    return sorted(staffed)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def demo_settings(settings: Settings, port: int, data_dir: str) -> Settings:
    """The demo's settings: its own SQLite file under ``data_dir``, loopback HTTP.

    A database set in the environment or a config file is refused, not used: the demo
    gives its users a published password, which must never reach a real database.
    """
    if settings.database.url != Settings.model_fields["database"].default.url:
        raise ConfigError(
            "callcenter demo uses only its own database under --data-dir and will not put"
            " its published demo logins in the one configured (CALLCENTER_DATABASE__URL or"
            " the config file's [database] url): unset it to run the demo"
        )
    folder = Path(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "recordings").mkdir(exist_ok=True)
    updates: dict[str, object] = {"recordings_dir": (folder / "recordings").resolve()}
    updates["database"] = settings.database.model_copy(
        update={"url": f"sqlite+aiosqlite:///{(folder / 'callcenter.db').resolve()}"}
    )
    updates["http"] = settings.http.model_copy(update={"port": port, "host": "127.0.0.1"})
    return settings.model_copy(update=updates)


async def run_demo(
    settings: Settings,
    *,
    port: int,
    data_dir: str,
    stop: asyncio.Future[None] | None = None,
    call_every: float = DEMO_CALL_EVERY_SECONDS,
    on_ready: Callable[[Simulator, Settings], None] | None = None,
    time_scale: float = 1.0,
) -> None:
    """``time_scale`` > 1 runs the daemon and the simulator on one ScaledClock (tests)."""
    settings = demo_settings(settings, port, data_dir)  # first: a refusal is all it prints

    from pydantic import SecretStr

    from callcenter.daemon import prepare_database, serve
    from callcenter.sim.runner import Simulator, SimulatorOptions
    from callcenter.sim.scenario import Scenario

    await prepare_database(settings)
    await seed_database(settings, demo=True)

    clock: Clock = SystemClock() if time_scale == 1.0 else ScaledClock(time_scale)
    # The simulator plays Asterisk on loopback: AMI on a free port, FastAGI to the daemon.
    secret = secrets.token_urlsafe(16)
    agi_port = free_port()
    scenario = Scenario(
        arrival_per_minute=60.0 / call_every,
        agents=[interface.split("/", 1)[1] for _, _, interface in DEMO_AGENTS]
        + [interface.split("/", 1)[1] for interface in DEMO_STAFF_PHONES.values()],
        answer_delay_min=2.0,
        answer_delay_max=6.0,
        talk_min=20.0,
        talk_max=60.0,
        patience_min=20.0,
        patience_max=90.0,
        dids=[number for number, _ in DEMO_HOTLINES],
        known_numbers=await known_numbers(settings),
        known_ratio=0.6,
        anonymous_ratio=0.1,
        survey_answer_ratio=0.7,
        seed=secrets.randbelow(10**6),
    )
    sim = Simulator(
        scenario,
        SimulatorOptions(
            ami_username=settings.ami.username,
            ami_secret=secret,
            agi_url=f"agi://127.0.0.1:{agi_port}",
            recordings_dir=Path(settings.recordings_dir),
            speech_cache_dir=Path(data_dir) / "speech-cache",
        ),
        clock,
    )
    ami_port = await sim.start("127.0.0.1", 0)
    settings = settings.model_copy(
        update={
            "ami": settings.ami.model_copy(
                update={"host": "127.0.0.1", "port": ami_port, "secret": SecretStr(secret)}
            ),
            "agi": settings.agi.model_copy(update={"host": "127.0.0.1", "port": agi_port}),
        }
    )
    calls: asyncio.Task[None] | None = None

    async def announce(app: web.Application) -> None:
        nonlocal calls
        url = f"http://{settings.http.host}:{settings.http.port}/"
        print(f"\ncallcenter demo is running: {url}", flush=True)
        print(
            f"simulated Asterisk: AMI 127.0.0.1:{ami_port}, FastAGI 127.0.0.1:{agi_port}",
            flush=True,
        )
        logins = [u for u, _, _ in DEMO_STAFF] + [u for u, _, _ in DEMO_AGENTS]
        logins += [u for u, *_ in DEMO_DEPARTMENT_STAFF]
        print(f"demo logins ({DEMO_PASSWORD}): " + ", ".join(logins), flush=True)
        print(f"a call arrives every ~{call_every:g} s; press Ctrl+C to stop", flush=True)
        staffed = await staff_demo_agents(app)
        if staffed:
            print(
                f"{', '.join(staffed)} answer on simulated phones; "
                f"log in as {DEMO_AGENTS[0][0]} to take calls yourself",
                flush=True,
            )
        calls = asyncio.ensure_future(sim.run_calls())
        if on_ready is not None:
            on_ready(sim, settings)

    try:
        await serve(settings, clock=clock, on_started=announce, stop=stop)
    finally:
        if calls is not None:
            calls.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await calls
        await sim.close()
