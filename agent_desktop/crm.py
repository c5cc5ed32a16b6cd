"""What the desktop asks crm_core, as JSON-ready dicts, off the event loop.

crm_core is synchronous SQLAlchemy; each call runs in the default executor so a slow query
never stalls the screen-pops of other desktops served by the same loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from crm_core.db import Database
from crm_core.errors import CrmError, NotFound, ValidationError
from crm_core.models.cases import CaseStatus
from crm_core.notifications import store as notifications
from crm_core.services import cases, contact_center, follow_up, routing, users
from crm_core.warsaw import DISTRICTS

T = TypeVar("T")


async def off_loop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args, **kwargs))


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


class Crm:
    """The desktop's view of crm_core (one Database, shared with the rest of the center)."""

    def __init__(self, db: Database, *, idle: timedelta = users.SESSION_IDLE) -> None:
        self.db = db
        self.idle = idle  # a session unused this long is over (setting session_idle_minutes)

    async def session_user(self, token: str) -> users.UserView | None:
        return await off_loop(users.session_user, self.db, token, idle=self.idle)

    async def login(self, username: str, password: str,
                    check: Callable[..., Awaitable[Any]] | None = None
                    ) -> tuple[users.UserView, str] | None:
        """The user and a new session token, or None. `check(fn, *args)` runs the password
        check (agent_desktop.login_guard: its own pool, a few at a time); default off the loop."""
        view: users.UserView | None = await (check or off_loop)(
            users.authenticate, self.db, username, password)
        if view is None:
            return None
        token = await off_loop(users.open_session, self.db, view.id)
        return view, token

    async def logout(self, token: str) -> None:
        await off_loop(users.close_session, self.db, token)

    async def reference(self) -> dict[str, Any]:
        """Categories, districts, dispositions, pause reasons, queues: what the forms offer."""

        def load() -> dict[str, Any]:
            return {
                "categories": jsonable(routing.list_categories(self.db)),
                "districts": list(DISTRICTS),
                "dispositions": jsonable(contact_center.list_dispositions(self.db)),
                "pause_reasons": jsonable(contact_center.list_pause_reasons(self.db)),
                "queues": [{"name": q.name, "display_name": q.display_name,
                            "sl_threshold_s": q.sl_threshold_s, "sl_target_pct": q.sl_target_pct}
                           for q in contact_center.list_queues(self.db)],
                "agents": [{"username": u.username, "full_name": u.full_name}
                           for u in users.list_users(self.db) if u.role == "consultant"],
            }

        return await off_loop(load)

    async def route(self, category: str, district: str | None) -> dict[str, Any]:
        view = await off_loop(routing.route_case, self.db, category, district or None)
        return {"code": view.code, "name": view.name}

    async def nearby(self, category: str, lat: float, lon: float) -> list[dict[str, Any]]:
        found = await off_loop(cases.suggest_duplicates, self.db, category, lat, lon)
        return [{"id": c.case.id, "number": c.case.number, "status": c.case.status,
                 "address": c.case.address, "description": c.case.description[:200],
                 "distance_m": c.distance_m} for c in found]

    async def create_case(self, draft: cases.NewCase, actor: cases.Actor,
                          duplicate_of: int | None, notify: tuple[str, str | None] | None = None
                          ) -> dict[str, Any]:
        """`notify`: (channel, address or None for the resident's known one) when the resident
        asked to be told how the case goes (crm_core.notifications)."""

        def write() -> dict[str, Any]:
            choice = (notifications.resolve_choice(self.db, draft.resident_id, *notify)
                      if notify is not None else None)
            created = cases.create_case(self.db, draft, by=actor)
            view = created.case
            if choice is not None:
                notifications.record_desk_choice(self.db, view.id, draft.resident_id, choice,
                                                 created.tracking_token)
            if duplicate_of is not None:
                view = cases.mark_duplicate(self.db, view.id, duplicate_of, by=actor)
            return {"id": view.id, "number": view.number, "status": view.status,
                    "department": view.department, "department_name": view.department_name,
                    "duplicate_of": view.duplicate_of}

        return await off_loop(write)

    async def notifications(self, status: str, limit: int = 50) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            rows = notifications.list_notifications(self.db, status=status, limit=limit)
            return {"counts": notifications.counts(self.db), "status": status,
                    "notifications": jsonable(rows)}

        return await off_loop(read)

    async def find_case(self, number: str | None = None, case_id: int | None = None
                        ) -> dict[str, Any]:
        if case_id is not None:
            view = await off_loop(cases.get_case, self.db, case_id)
        else:
            view = await off_loop(cases.get_case_by_number, self.db, (number or "").strip())
        return await self._with_notifications(case_card(view))

    async def _with_notifications(self, card: dict[str, Any]) -> dict[str, Any]:
        """Whether (and how) the resident was told about the case (crm_core.notifications)."""
        rows = await off_loop(notifications.list_notifications, self.db, case_id=card["id"], limit=20)
        card["notifications"] = [
            {"kind": n.kind, "channel": n.channel, "status": n.status, "attempts": n.attempts,
             "created_at": n.created_at.isoformat(),
             "sent_at": n.sent_at.isoformat() if n.sent_at else None,
             "last_error": n.last_error if n.status != "sent" else None}
            for n in reversed(rows)]
        # The deadline, the department's answer, forwards beyond ckm (crm_core.services.follow_up).
        card["follow_up"] = jsonable(await off_loop(follow_up.follow_up, self.db, card["id"]))
        return card

    async def change_status(self, case_id: int, status: str, comment: str | None,
                            actor: cases.Actor, *, public: bool = False) -> dict[str, Any]:
        view = await off_loop(cases.transition_case, self.db, case_id, status, by=actor,
                              comment=comment, public=public)
        return await self._with_notifications(case_card(view))

    async def kb_search(self, query: str, lang: str) -> list[dict[str, Any]]:
        from crm_core.search import kb_search

        hits = await off_loop(kb_search, self.db, query, lang, limit=8)
        return [{"slug": h.slug, "title": h.title, "snippet": h.snippet} for h in hits]

    async def kb_article(self, slug: str, lang: str) -> dict[str, Any]:
        from crm_core.search import get_article

        a = await off_loop(get_article, self.db, slug, lang)
        return {"slug": a.slug, "title": a.title, "body": a.body}


def case_card(view: cases.CaseView) -> dict[str, Any]:
    """A case as the desk shows it, with the statuses it may move to next (none when final)."""
    card: dict[str, Any] = jsonable(view)
    card["next_statuses"] = [s.value for s in cases.TRANSITIONS[CaseStatus(view.status)]]
    return card


def error_fields(exc: CrmError) -> dict[str, str]:
    if isinstance(exc, ValidationError):
        return dict(exc.fields)
    if isinstance(exc, NotFound):
        return {exc.what: str(exc)}
    return {"error": str(exc)}
