"""All ORM models, imported here so that Alembic and the app see one metadata.

Each module owns one area; later issues grow them (add columns with a migration).
"""

from callcenter.db.base import Base
from callcenter.db.models.audit import AuditEntry
from callcenter.db.models.calls import Call, CallAttempt
from callcenter.db.models.customers import (
    Customer,
    CustomerChange,
    CustomerImport,
    CustomerImportReject,
    CustomerPhone,
    Vehicle,
)
from callcenter.db.models.notifications import Notification
from callcenter.db.models.org import Category, Department
from callcenter.db.models.outbound import (
    CallList,
    CallListItem,
    CareFiring,
    CareRule,
    Opportunity,
    OpportunityStageChange,
)
from callcenter.db.models.reports import (
    ReportAgentDay,
    ReportAgentState,
    ReportCallHour,
    ReportRollupDay,
    ReportRun,
    ReportStale,
    ReportTicketDay,
)
from callcenter.db.models.routing import (
    AgentGroup,
    AgentGroupMember,
    AgentStateLog,
    BusinessHours,
    Holiday,
    Hotline,
    PauseReason,
    Prompt,
    SystemSetting,
)
from callcenter.db.models.surveys import (
    CallSurvey,
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
)
from callcenter.db.models.tasks import Task
from callcenter.db.models.tickets import (
    Ticket,
    TicketAttachment,
    TicketCodeCounter,
    TicketEscalation,
    TicketEvent,
)
from callcenter.db.models.transcripts import CategoryKeywords, Transcript, TranscriptionJob
from callcenter.db.models.users import User
from callcenter.db.models.wrapups import CallWrapUp

__all__ = [
    "AgentGroup",
    "AgentGroupMember",
    "AgentStateLog",
    "AuditEntry",
    "Base",
    "BusinessHours",
    "Call",
    "CallAttempt",
    "CallList",
    "CallListItem",
    "CallSurvey",
    "CallWrapUp",
    "CareFiring",
    "CareRule",
    "Category",
    "CategoryKeywords",
    "Customer",
    "CustomerChange",
    "CustomerImport",
    "CustomerImportReject",
    "CustomerPhone",
    "Department",
    "Holiday",
    "Hotline",
    "Notification",
    "Opportunity",
    "OpportunityStageChange",
    "PauseReason",
    "Prompt",
    "ReportAgentDay",
    "ReportAgentState",
    "ReportCallHour",
    "ReportRollupDay",
    "ReportRun",
    "ReportStale",
    "ReportTicketDay",
    "Survey",
    "SurveyAnswer",
    "SurveyQuestion",
    "SurveyResponse",
    "SystemSetting",
    "Task",
    "Ticket",
    "TicketAttachment",
    "TicketCodeCounter",
    "TicketEscalation",
    "TicketEvent",
    "Transcript",
    "TranscriptionJob",
    "User",
    "Vehicle",
]
