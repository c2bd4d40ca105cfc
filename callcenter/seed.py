"""Seed data for a Vietnamese truck maker's care centre, and the demo's sample history.

``seed_reference_data`` loads what every installation needs (departments and
categories) and is safe to run twice. ``seed_demo_data`` adds ~200 customers
with vehicles, calls and tickets so a newcomer's first screen-pop is rich; it is
deterministic for a given random seed.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.core.text import fold
from callcenter.db.models import (
    Call,
    CallAttempt,
    Category,
    Customer,
    CustomerPhone,
    Department,
    PauseReason,
    Ticket,
    TicketEvent,
    User,
    Vehicle,
)
from callcenter.localtime import local_date

DEPARTMENTS = [
    ("sales", "Kinh doanh", "Sales (price)", "kinhdoanh@example.vn", "6001"),
    ("service", "Dịch vụ", "Service (process)", "dichvu@example.vn", "6002"),
    ("parts", "Phụ tùng", "Spare parts (purchase, shipping)", "phutung@example.vn", "6003"),
    ("dealers", "Đại lý", "Dealers", "daily@example.vn", "6004"),
    ("care", "Chăm sóc khách hàng", "Customer care", "cskh@example.vn", "6005"),
]

# (code, Vietnamese name, English name, department code, SLA hours)
CATEGORIES = [
    ("price", "Hỏi giá xe", "Vehicle price", "sales", 24),
    ("promotion", "Chương trình khuyến mãi", "Promotions", "sales", 24),
    ("test-drive", "Đăng ký lái thử", "Test drive", "sales", 48),
    ("service-booking", "Đặt lịch bảo dưỡng", "Service booking", "service", 8),
    ("service-complaint", "Khiếu nại dịch vụ", "Service complaint", "service", 4),
    ("warranty", "Bảo hành", "Warranty", "service", 24),
    ("roadside", "Cứu hộ", "Roadside assistance", "service", 1),
    ("parts-purchase", "Mua phụ tùng", "Buy spare parts", "parts", 24),
    ("parts-shipping", "Giao phụ tùng", "Spare-part shipping", "parts", 24),
    ("dealer-complaint", "Khiếu nại đại lý", "Dealer complaint", "dealers", 8),
    ("dealer-info", "Thông tin đại lý", "Dealer information", "dealers", 48),
    ("feedback", "Góp ý", "Feedback", "care", 72),
    ("info", "Hỏi thông tin chung", "General information", "care", 72),
]

# (code, Vietnamese name, English name, paid, max minutes)
PAUSE_REASONS = [
    ("lunch", "Ăn trưa", "Lunch", False, 60),
    ("break", "Nghỉ giải lao", "Break", True, 15),
    ("meeting", "Họp", "Meeting", True, None),
    ("training", "Đào tạo", "Training", True, None),
    ("backoffice", "Việc hành chính", "Back-office work", True, None),
]

PROVINCES = [
    "Hà Nội",
    "TP. Hồ Chí Minh",
    "Hải Phòng",
    "Đà Nẵng",
    "Cần Thơ",
    "Bình Dương",
    "Đồng Nai",
    "Bắc Ninh",
    "Quảng Ninh",
    "Thanh Hóa",
    "Nghệ An",
    "Khánh Hòa",
    "Lâm Đồng",
    "Đắk Lắk",
    "Long An",
    "Bà Rịa - Vũng Tàu",
    "Thái Nguyên",
    "Hải Dương",
    "Quảng Nam",
    "Gia Lai",
]
SURNAMES = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
]
MIDDLE = ["Văn", "Thị", "Đức", "Minh", "Quốc", "Thanh", "Hữu", "Ngọc", "Xuân", "Công"]
GIVEN = [
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Hải",
    "Hùng",
    "Lan",
    "Linh",
    "Long",
    "Mai",
    "Nam",
    "Phong",
    "Quân",
    "Sơn",
    "Tâm",
    "Thảo",
    "Tuấn",
    "Việt",
    "Yến",
    "Khoa",
]
COMPANIES = ["Công ty TNHH Vận tải", "Công ty CP Logistics", "HTX Vận tải", "Công ty TNHH Xây dựng"]
MODELS = [
    "Ollin 350",
    "Ollin 720",
    "Auman C160",
    "Auman EST",
    "Foton M4",
    "Kia K250",
    "Mighty N250SL",
    "Frontier TF230",
    "Towner 990",
]
DEALERS = [
    "Đại lý Long Biên",
    "Đại lý Bình Triệu",
    "Đại lý Đà Nẵng",
    "Đại lý Cần Thơ",
    "Đại lý Bắc Ninh",
    "Đại lý Biên Hòa",
]
MOBILE_PREFIXES = [
    "90",
    "91",
    "93",
    "94",
    "96",
    "97",
    "98",
    "32",
    "33",
    "35",
    "38",
    "70",
    "77",
    "79",
    "81",
    "83",
    "85",
    "86",
    "88",
    "89",
]
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"

DEMO_AGENTS = [
    ("agent1", "Nguyễn Thị Hoa", "PJSIP/101"),
    ("agent2", "Trần Văn Minh", "PJSIP/102"),
    ("agent3", "Lê Thị Thu", "PJSIP/103"),
]


async def seed_reference_data(session: AsyncSession) -> None:
    """Departments, categories and pause reasons; rows the admin already has (by code) are kept."""
    existing = {d.code: d for d in (await session.scalars(select(Department))).all()}
    for code, name, name_en, email, phone in DEPARTMENTS:
        if code not in existing:
            existing[code] = Department(
                code=code, name=name, name_en=name_en, email=email, phone=phone
            )
            session.add(existing[code])
    await session.flush()
    have = set((await session.scalars(select(Category.code))).all())
    for code, name, name_en, dept, sla in CATEGORIES:
        if code not in have:
            session.add(
                Category(
                    code=code,
                    name=name,
                    name_en=name_en,
                    department_id=existing[dept].id,
                    sla_hours=sla,
                )
            )
    have = set((await session.scalars(select(PauseReason.code))).all())
    for code, name, name_en, paid, max_minutes in PAUSE_REASONS:
        if code not in have:
            session.add(
                PauseReason(
                    code=code, name=name, name_en=name_en, paid=paid, max_minutes=max_minutes
                )
            )
    await session.flush()


def _vin(rng: random.Random) -> str:
    return "RL" + "".join(rng.choice(VIN_CHARS) for _ in range(15))


def _mobile(rng: random.Random) -> str:
    return "+84" + rng.choice(MOBILE_PREFIXES) + "".join(rng.choice("0123456789") for _ in range(7))


async def seed_demo_data(
    session: AsyncSession, now: datetime, *, customers: int = 200, seed: int = 7
) -> int:
    """Sample customers, vehicles, calls and tickets. Returns customers added (0 if present)."""
    if (await session.scalar(select(func.count()).select_from(Customer))) or 0:
        return 0
    rng = random.Random(seed)
    today = local_date(now)  # the clock's day (in Vietnam), not the machine's
    for username, full_name, interface in DEMO_AGENTS:
        if await session.scalar(select(User).where(User.username == username)) is None:
            session.add(
                User(username=username, full_name=full_name, role="agent", interface=interface)
            )
    await session.flush()
    agents = (await session.scalars(select(User).where(User.role == "agent"))).all()
    categories = (await session.scalars(select(Category))).all()
    made: list[tuple[Customer, Call, Ticket | None]] = []
    for index in range(customers):
        fleet = rng.random() < 0.25
        if fleet:
            name = f"{rng.choice(COMPANIES)} {rng.choice(GIVEN)} {rng.choice(['Phát', 'Thành', 'Hưng'])}"
        else:
            name = f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
        customer = Customer(
            name=name,
            name_search=fold(name),
            province=rng.choice(PROVINCES),
            address=f"{rng.randint(1, 300)} đường số {rng.randint(1, 40)}",
            customer_type="fleet" if fleet else "individual",
            tags=["VIP"] if rng.random() < 0.08 else [],
            source=rng.choice(["hotline", "dealer", "import"]),
            created_at=now - timedelta(days=rng.randint(30, 900)),
        )
        customer.phones.append(CustomerPhone(number=_mobile(rng), is_primary=True))
        if rng.random() < 0.3:
            customer.phones.append(CustomerPhone(number=_mobile(rng)))
        for _ in range(rng.randint(2, 5) if fleet else 1):
            bought = today - timedelta(days=rng.randint(30, 1500))
            customer.vehicles.append(
                Vehicle(
                    vin=_vin(rng),
                    model=rng.choice(MODELS),
                    purchase_date=bought,
                    warranty_end=bought + timedelta(days=3 * 365),
                    dealer=rng.choice(DEALERS),
                    plate=f"{rng.randint(11, 99)}C-{rng.randint(100, 999)}.{rng.randint(10, 99)}",
                )
            )
        session.add(customer)
        for call_no in range(rng.randint(0, 4)):
            started = now - timedelta(days=rng.randint(1, 120), minutes=rng.randint(0, 600))
            agent = rng.choice(agents)
            answered = rng.random() < 0.85
            talk = rng.randint(40, 600) if answered else 0
            call = Call(
                linkedid=f"demo-{index}-{call_no}",
                caller_number=customer.phones[0].number,
                caller_name=customer.name,
                dialed_number="19001234",
                agent_id=agent.id if answered else None,
                started_at=started,
                answered_at=started + timedelta(seconds=8) if answered else None,
                ended_at=started + timedelta(seconds=8 + talk if answered else 25),
                wait_seconds=8.0,
                talk_seconds=float(talk),
                disposition="answered" if answered else "abandoned",
                hangup_by="caller",
            )
            call.attempts.append(
                CallAttempt(
                    agent_id=agent.id,
                    interface=agent.interface,
                    offered_at=started + timedelta(seconds=2),
                    ended_at=started + timedelta(seconds=8),
                    outcome="answered" if answered else "caller_gone",
                )
            )
            ticket = None
            if answered:
                category = rng.choice(categories)
                closed = rng.random() < 0.7
                ticket = Ticket(
                    category_id=category.id,
                    department_id=category.department_id,
                    status="closed" if closed else "unassigned",  # open: the department claims it
                    subject=category.name,
                    description=f"Khách hàng gọi về: {category.name.lower()}.",
                    created_by_id=agent.id,
                    created_at=call.ended_at or started,
                    updated_at=call.ended_at or started,
                    closed_at=(started + timedelta(days=1)) if closed else None,
                )
                ticket.events.append(
                    TicketEvent(
                        at=ticket.created_at,
                        user_id=agent.id,
                        kind="created",
                        to_status="unassigned",
                    )
                )
            made.append((customer, call, ticket))
    # Three batched inserts (customers, calls, tickets) instead of a round trip per row.
    await session.flush()
    for customer, call, _ticket in made:
        call.customer_id = customer.id
        session.add(call)
    await session.flush()
    for customer, call, ticket in made:
        if ticket is not None:
            ticket.customer_id = customer.id
            ticket.call_id = call.id
            session.add(ticket)
    await session.flush()
    return customers


async def open_on_public_holidays(session: AsyncSession, today: date) -> int:
    """Open this year's and next year's public holidays (``closed=False`` overrides) where
    nothing is set for the day yet. Returns how many days were opened.

    For the demo and the tests, which run on whatever day it is (24 November became a
    public holiday in 2026: a demo started that day took no calls). A real centre keeps
    public holidays closed, the default, and sets its own overrides in the admin console.
    """
    from callcenter.db.models.routing import Holiday
    from callcenter.db.repos.routing import public_holidays

    calendar = public_holidays((today.year, today.year + 1))
    taken = set((await session.scalars(select(Holiday.day).where(Holiday.day.in_(calendar)))).all())
    opened = [day for day in calendar if day not in taken]
    session.add_all(
        Holiday(day=day, name=f"{calendar[day]} (mở cửa)", closed=False) for day in opened
    )
    return len(opened)
