"""Request bodies of the ticket API and the JSON shape of a ticket line."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from callcenter.db.repos.ticket_queries import Page, TicketRow


class StatusBody(BaseModel):
    status: str = Field(description="the new status (one of the ticket's allowed moves)")
    note: str = Field(default="", max_length=2000)


class CommentBody(BaseModel):
    text: str = Field(min_length=1, max_length=10_000)


class TransferBody(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    to_user_id: int | None = Field(default=None, description="a colleague (same department)")
    to_department_id: int | None = Field(default=None, description="another department")


class CategoriseBody(BaseModel):
    category_id: int
    department_id: int | None = Field(default=None, description="default: the category's")


class FollowUpBody(BaseModel):
    outcome: str = Field(
        default="",
        description="satisfied or not_satisfied; with a survey's answers, empty: the answers "
        "decide (callcenter.core.surveys.verdict)",
    )
    comment: str = Field(default="", max_length=2000)
    survey_id: int | None = Field(default=None, description="the follow-up survey answered")
    answers: dict[str, Any] = Field(
        default_factory=dict, description="question id → answer, as /api/surveys/{id}/responses"
    )


class CallBody(BaseModel):
    number: str = Field(default="", description="empty: the customer's primary number")


class TicketOut(BaseModel):
    code: str
    status: str
    status_label: str
    department_id: int | None
    assignee_id: int | None


class OkOut(BaseModel):
    ok: bool


ROW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {"type": "string"},
        "subject": {"type": "string"},
        "status": {"type": "string"},
        "status_label": {"type": "string"},
        "priority": {"type": "string"},
        "priority_label": {"type": "string"},
        "overdue": {"type": "boolean"},
        "needs_review": {"type": "boolean"},
        "due_at": {"type": ["string", "null"], "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"},
        "department": {"type": "string"},
        "category": {"type": "string"},
        "assignee": {"type": "string"},
        "customer": {"type": "string"},
    },
}
PAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"total": {"type": "integer"}, "tickets": {"type": "array", "items": ROW_SCHEMA}},
}


def row_json(row: TicketRow, gettext: Any, labels: dict[str, dict[str, str]]) -> dict[str, Any]:
    return {
        "code": row.code,
        "subject": row.subject,
        "status": row.status,
        "status_label": gettext(labels["status"].get(row.status, row.status)),
        "priority": row.priority,
        "priority_label": gettext(labels["priority"].get(row.priority, row.priority)),
        "overdue": row.overdue,
        "needs_review": row.needs_review,
        "due_at": row.due_at.isoformat() if row.due_at else None,
        "created_at": row.created_at.isoformat(),
        "department": row.department_name,
        "category": row.category_name,
        "assignee": row.assignee_name,
        "customer": row.customer_name,
    }


def page_json(page: Page, gettext: Any, labels: dict[str, dict[str, str]]) -> dict[str, Any]:
    return {"total": page.total, "tickets": [row_json(r, gettext, labels) for r in page.rows]}
