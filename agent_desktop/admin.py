"""The admin pages (role admin): accounts, roles, passwords, queue memberships, skills, and
the departments a department staff member works for (the /dept workspace).

Plain server-rendered forms (no script): every POST carries the session's CSRF token and ends
in a redirect back to the page (POST-redirect-GET), except where a generated password has to be
shown once — that page is rendered directly and never stored. Errors come back on the page,
one per field, with 422. What the ACD reads (cti.crm_link.CrmDirectory: queue members and
skills from the CRM) changes at once in the CRM and reaches the agent's seat the next time
they join the queues.

An admin cannot disable their own account or take away its admin role (nobody would be left
to undo it). Disabling an account, a new password or a new role end the user's sessions.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp import web

from agent_desktop import security
from agent_desktop.crm import off_loop
from agent_desktop.dept import strings as dept_strings
from agent_desktop.pages import desk_of, lang_of, render
from agent_desktop.security import User, requires
from crm_core.errors import CrmError, NotFound, ValidationError
from crm_core.services import contact_center, department, users

log = logging.getLogger(__name__)

ADMIN_ROLES = frozenset({"admin"})
# The CTI hub (cti.hub.CtiHub) when the center has one: a user whose sessions end loses their
# open CTI socket too.
CTI_HUB: web.AppKey[Any] = web.AppKey("desk_cti_hub")
SKILL_NAME = re.compile(r"^[a-z0-9_]{1,40}$")
DONE = ("saved", "password", "disabled", "enabled")  # ?done= … the page may announce


async def _admin(request: web.Request) -> User:
    user = await security.current_user(request)
    assert user is not None  # the role gate ran first
    return user


async def _form(request: web.Request) -> dict[str, str]:
    form = await request.post()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str)}


def _db(request: web.Request) -> Any:
    return desk_of(request).crm.db


async def _end_live(request: web.Request, username: str) -> None:
    """The user's sessions were just ended in the CRM; close their live CTI sockets as well."""
    hub = request.app.get(CTI_HUB)
    if hub is not None:
        await hub.disconnect_user(username)


def _leave_queues(request: web.Request, username: str, by: str) -> None:
    """A disabled agent is logged out of the ACD so no call rings them any more; one on a call
    finishes it (the ACD refuses to log out an agent on a call) and cannot log in again."""
    from cti import events as ev
    from cti.floor import AcdError

    board = desk_of(request).switchboard
    if board is None or username not in board.acd.agents:
        return
    try:
        board.feed(ev.AgentLoggedOut(board.now(), username, by=by))
    except AcdError as exc:
        log.warning("disabled %s stays in the ACD until their call ends: %s", username, exc)


def _back(username: str, done: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/admin/users/{username}?done={done}")


def _errors(exc: CrmError) -> dict[str, str]:
    if isinstance(exc, ValidationError):
        return dict(exc.fields)
    return {"error": str(exc)}


async def _users_page(request: web.Request, *, errors: dict[str, str] | None = None,
                      values: dict[str, str] | None = None) -> web.Response:
    user = await _admin(request)
    accounts = await off_loop(users.list_users, _db(request))
    response = render(request, "admin_users.html", user, accounts=accounts, roles=users.ROLES,
                      errors=errors or {}, values=values or {})
    if errors:
        response.set_status(422)
    return response


@requires(ADMIN_ROLES)
async def users_page(request: web.Request) -> web.StreamResponse:
    return await _users_page(request)


@requires(ADMIN_ROLES)
async def create_user(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    password = form.get("password", "")
    generated = "" if password else users.generate_password()
    try:
        await off_loop(users.create_user, _db(request), username=form.get("username", ""),
                       full_name=form.get("full_name", "") or form.get("username", ""),
                       role=form.get("role", ""), password=password or generated,
                       extension=form.get("extension") or None)
    except CrmError as exc:
        return await _users_page(request, errors=_errors(exc), values=form)
    log.info("admin %s: created %s (%s)", (await _admin(request)).username, form["username"],
             form.get("role"))
    if generated:
        return await _user_page(request, form["username"], generated=generated)
    raise _back(form["username"], "saved")


async def _user_page(request: web.Request, username: str, *, generated: str = "",
                     errors: dict[str, str] | None = None) -> web.Response:
    user = await _admin(request)
    db = _db(request)
    try:
        setup = await off_loop(users.agent_setup, db, username)
    except NotFound:
        raise web.HTTPNotFound(text=f"no user {username!r}") from None
    queues = await off_loop(contact_center.list_queues, db)
    known_skills = sorted({s for q in queues for s in q.skills_required} | set(setup.skills))
    done = request.query.get("done", "")
    response = render(request, "admin_user.html", user, account=setup.user,
                      departments=await off_loop(department.list_departments, db),
                      dept_memberships=await off_loop(department.memberships, db, username),
                      d=dept_strings(lang_of(request)),
                      memberships=setup.memberships, skills=setup.skills,
                      queues=[q.name for q in queues], known_skills=known_skills,
                      roles=users.ROLES, generated=generated, errors=errors or {},
                      done=done if done in DONE else "", is_self=setup.user.id == user.id)
    if errors:
        response.set_status(422)
    return response


@requires(ADMIN_ROLES)
async def user_page(request: web.Request) -> web.StreamResponse:
    return await _user_page(request, request.match_info["username"])


def _action(handler: Any) -> Any:
    """An admin POST on one account: NotFound → 404, a refused input → the page with 422."""

    @requires(ADMIN_ROLES)
    async def run(request: web.Request) -> web.StreamResponse:
        username = request.match_info["username"]
        form = await _form(request)
        me = await _admin(request)
        what = handler.__name__.strip("_")
        try:
            response = await handler(request, username, form)
        except web.HTTPSeeOther:
            log.info("admin %s: %s of %s done", me.username, what, username)  # the audit trail
            raise
        except NotFound as exc:
            raise web.HTTPNotFound(text=str(exc)) from None
        except CrmError as exc:
            return await _user_page(request, username, errors=_errors(exc))
        log.info("admin %s: %s of %s done", me.username, what, username)
        return response  # type: ignore[no-any-return]

    return run


async def _profile(request: web.Request, username: str, form: dict[str, str]
                   ) -> web.StreamResponse:
    me = await _admin(request)
    role = form.get("role") or None
    if me.username == username and role not in (None, "admin"):
        raise ValidationError({"role": "adm_self"})
    extension = form.get("extension", "")
    before = await off_loop(users.get_user, _db(request), username)
    await off_loop(users.update_user, _db(request), username,
                   full_name=form.get("full_name") or None, role=role,
                   extension=extension or None, clear_extension=not extension)
    if role is not None and role != before.role:
        await _end_live(request, username)
    raise _back(username, "saved")


async def _active(request: web.Request, username: str, form: dict[str, str]
                  ) -> web.StreamResponse:
    me = await _admin(request)
    active = form.get("active") == "1"
    if me.username == username and not active:
        raise ValidationError({"active": "adm_self"})
    await off_loop(users.set_active, _db(request), username, active)
    if not active:
        await _end_live(request, username)
        _leave_queues(request, username, me.username)
    raise _back(username, "enabled" if active else "disabled")


async def _password(request: web.Request, username: str, form: dict[str, str]
                    ) -> web.StreamResponse:
    password = form.get("password", "")
    generated = "" if password else users.generate_password()
    await off_loop(users.set_password, _db(request), username, password or generated)
    await _end_live(request, username)
    if generated:
        return await _user_page(request, username, generated=generated)
    raise _back(username, "password")


def _int(form: dict[str, str], name: str, low: int, high: int) -> int:
    raw = form.get(name, "")
    if not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
        raise ValidationError({name: f"expected a whole number {low} to {high}"})
    return int(raw)


async def _queue_add(request: web.Request, username: str, form: dict[str, str]
                     ) -> web.StreamResponse:
    penalty = _int(form, "penalty", 0, 100)
    await off_loop(contact_center.set_queue_member, _db(request), form.get("queue", ""),
                   username, penalty)
    raise _back(username, "saved")


async def _queue_remove(request: web.Request, username: str, form: dict[str, str]
                        ) -> web.StreamResponse:
    await off_loop(users.remove_queue_member, _db(request), form.get("queue", ""), username)
    raise _back(username, "saved")


async def _skill_add(request: web.Request, username: str, form: dict[str, str]
                     ) -> web.StreamResponse:
    skill = form.get("skill", "").lower()
    if not SKILL_NAME.match(skill):
        raise ValidationError({"skill": "1 to 40 lowercase letters, digits or underscores"})
    level = _int(form, "level", 1, 5)
    await off_loop(contact_center.set_agent_skill, _db(request), username, skill, level)
    raise _back(username, "saved")


async def _skill_remove(request: web.Request, username: str, form: dict[str, str]
                        ) -> web.StreamResponse:
    await off_loop(users.remove_skill, _db(request), username, form.get("skill", ""))
    raise _back(username, "saved")


async def _department_add(request: web.Request, username: str, form: dict[str, str]
                          ) -> web.StreamResponse:
    await off_loop(department.add_member, _db(request), username, form.get("department", ""),
                   head=form.get("head") == "1")
    raise _back(username, "saved")


async def _department_remove(request: web.Request, username: str, form: dict[str, str]
                             ) -> web.StreamResponse:
    if not form.get("department"):
        raise ValidationError({"department": "name the department"})
    await off_loop(department.remove_member, _db(request), username, form["department"])
    raise _back(username, "saved")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin", users_page)
    app.router.add_post("/admin/users", create_user)
    app.router.add_get("/admin/users/{username}", user_page)
    app.router.add_post("/admin/users/{username}/profile", _action(_profile))
    app.router.add_post("/admin/users/{username}/active", _action(_active))
    app.router.add_post("/admin/users/{username}/password", _action(_password))
    app.router.add_post("/admin/users/{username}/queues", _action(_queue_add))
    app.router.add_post("/admin/users/{username}/queues/remove", _action(_queue_remove))
    app.router.add_post("/admin/users/{username}/skills", _action(_skill_add))
    app.router.add_post("/admin/users/{username}/skills/remove", _action(_skill_remove))
    app.router.add_post("/admin/users/{username}/departments", _action(_department_add))
    app.router.add_post("/admin/users/{username}/departments/remove", _action(_department_remove))
