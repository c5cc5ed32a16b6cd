"""What cti/ needs from the outside, as small protocols, so nothing here imports crm_core or pbx.

Implementations: crm_core (users, queues, caller history), pbx/ (the command sink), the web
package (sessions). Tests use small in-memory classes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from cti.commands import Command
from cti.config import AgentProfile, QueueConfig


class Role(StrEnum):
    CONSULTANT = "consultant"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def sees_everything(self) -> bool:
        return self is not Role.CONSULTANT


@dataclass(frozen=True)
class Principal:
    user: str  # also the agent id for consultants
    role: Role


class Authenticator(Protocol):
    async def authenticate(self, credential: str) -> Principal | None:
        """A token, or a web session id: who it belongs to, or None."""


class NobodyLogsIn:
    """The hub's authenticator when the center runs without a CRM: no credential is valid."""

    async def authenticate(self, credential: str) -> Principal | None:
        return None


class HistoryProvider(Protocol):
    async def caller_history(self, number: str) -> Mapping[str, Any]:
        """JSON-ready history for the screen-pop: resident, past contacts, open cases."""


@dataclass(frozen=True)
class AgentSeat:
    profile: AgentProfile
    endpoint: str  # where to ring this user (SIP phone or the browser softphone)


class QueueDirectory(Protocol):
    async def queues(self) -> Sequence[QueueConfig]: ...

    async def seat(self, user: str) -> AgentSeat | None:
        """The user's agent profile and endpoint, or None if they are not an agent."""

    async def pause_reasons(self) -> frozenset[str]:
        """Allowed pause reasons; empty: any reason accepted."""


class CommandSink(Protocol):
    def execute(self, command: Command) -> None:
        """Accept a command without blocking; execute commands for one call in order."""
