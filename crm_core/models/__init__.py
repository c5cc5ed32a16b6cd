"""Typed SQLAlchemy models of the CRM; importing this package registers every table."""

from crm_core.models.base import Base, UtcDateTime, utcnow
from crm_core.models.cases import (
    OPEN_STATUSES,
    Case,
    CaseNumberCounter,
    CaseStatus,
    CaseStatusChange,
    case_interactions,
)
from crm_core.models.contact_center import (
    AgentSkill,
    ApiKey,
    DispositionCode,
    IvrScriptVersion,
    PauseReason,
    Queue,
    QueueMember,
    WebSession,
)
from crm_core.models.department_work import CaseNote, CaseWork, DepartmentMember, SlaRule
from crm_core.models.forwarding import CaseForward, InboundMail
from crm_core.models.interactions import (
    CHANNELS,
    AgentStateHour,
    AgentStateLog,
    AppliedEvent,
    Interaction,
    IvrPathStep,
)
from crm_core.models.knowledge import KbArticle, KbArticleVersion
from crm_core.models.notifications import CaseNotifyPreference, Notification
from crm_core.models.organisation import Category, Department, RoutingRule
from crm_core.models.people import Resident, ResidentPhone, Role, User

__all__ = [
    "CHANNELS",
    "OPEN_STATUSES",
    "AgentSkill",
    "AgentStateHour",
    "AgentStateLog",
    "ApiKey",
    "AppliedEvent",
    "Base",
    "Case",
    "CaseForward",
    "CaseNote",
    "CaseNotifyPreference",
    "CaseNumberCounter",
    "CaseStatus",
    "CaseStatusChange",
    "CaseWork",
    "Category",
    "Department",
    "DepartmentMember",
    "DispositionCode",
    "InboundMail",
    "Interaction",
    "IvrPathStep",
    "IvrScriptVersion",
    "KbArticle",
    "KbArticleVersion",
    "Notification",
    "PauseReason",
    "Queue",
    "QueueMember",
    "Resident",
    "ResidentPhone",
    "Role",
    "RoutingRule",
    "SlaRule",
    "User",
    "UtcDateTime",
    "WebSession",
    "case_interactions",
    "utcnow",
]
