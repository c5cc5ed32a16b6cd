"""JSON endpoints of the IVR editor (role ivr_author or admin).

validate: the ivr validator on the editor's text, every problem with its line and column, and
the menu graph; simulate: the ivr interpreter driven by typed inputs; diff: against the
published version; publish: a new immutable version that new calls get; rollback: make an
older version live again (as is: it keeps its own version stamp).
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from agent_desktop import security
from agent_desktop.crm import off_loop
from agent_desktop.desk_api import bad, json_body
from agent_desktop.ivr_editor import check, diff, simulate_text
from agent_desktop.pages import desk_of
from agent_desktop.security import IVR_ROLES, requires
from crm_core.errors import CrmError
from ivr.problems import ScriptInvalid

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
MAX_SCRIPT = 200_000


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not NAME.match(name):
        raise web.HTTPBadRequest(text="script names are letters, digits, _ . -")
    return name


def _script_text(data: dict[str, Any]) -> str:
    text = data.get("text")
    if not isinstance(text, str) or len(text) > MAX_SCRIPT:
        raise web.HTTPBadRequest(text=f"field 'text': expected the script, at most {MAX_SCRIPT}")
    return text


@requires(IVR_ROLES, api=True)
async def script_detail(request: web.Request) -> web.StreamResponse:
    return web.json_response({"ok": True, **await desk_of(request).scripts.detail(_name(request))})


@requires(IVR_ROLES, api=True)
async def version_text(request: web.Request) -> web.StreamResponse:
    name = _name(request)
    raw = request.match_info["version"]
    book = desk_of(request).scripts
    text = book.file_text(name) if raw == "file" else (
        await book.version_text(name, int(raw)) if raw.isdigit() else None)
    if text is None:
        raise web.HTTPNotFound(text=f"no version {raw} of {name}")
    return web.json_response({"ok": True, "text": text})


@requires(IVR_ROLES, api=True)
async def validate(request: web.Request) -> web.StreamResponse:
    name = _name(request)
    data = await json_body(request)
    # ~0.2 s for the 19115 script: off the loop, so screen-pops of other desks never wait.
    result = await off_loop(check, _script_text(data), name, desk_of(request).scripts.known_queues)
    return web.json_response({"ok": result.ok, "problems": result.problems,
                              "graph": result.graph, "summary": result.summary})


@requires(IVR_ROLES, api=True)
async def simulate(request: web.Request) -> web.StreamResponse:
    name = _name(request)
    data = await json_body(request)
    inputs = data.get("inputs", [])
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        return bad({"inputs": "expected a list of texts"})
    caller = data.get("caller", "")
    result = await off_loop(simulate_text, _script_text(data), name, inputs,
                            caller if isinstance(caller, str) else "",
                            desk_of(request).scripts.known_queues)
    return web.json_response(result)


@requires(IVR_ROLES, api=True)
async def diff_published(request: web.Request) -> web.StreamResponse:
    name = _name(request)
    data = await json_body(request)
    published = await desk_of(request).scripts.published_text(name)
    return web.json_response({"ok": True, "lines": diff(published, _script_text(data),
                                                        "opublikowana", "edytowana")})


@requires(IVR_ROLES, api=True)
async def publish(request: web.Request) -> web.StreamResponse:
    name = _name(request)
    user = await security.current_user(request)
    assert user is not None
    data = await json_body(request)
    comment = data.get("comment", "")
    try:
        result = await desk_of(request).scripts.publish(
            name, _script_text(data), comment[:500] if isinstance(comment, str) else "", user.id)
    except ScriptInvalid as exc:
        return web.json_response({"ok": False, "problems": [
            {"line": p.line, "column": p.column, "message": p.message, "hint": p.hint,
             "root": p.root, "covers": list(p.covers)} for p in exc.problems]}, status=422)
    except CrmError as exc:
        return bad({"error": str(exc)})
    return web.json_response({"ok": True, **result})


@requires(IVR_ROLES, api=True)
async def rollback(request: web.Request) -> web.StreamResponse:
    name = _name(request)
    data = await json_body(request)
    version = data.get("version")
    if not isinstance(version, int):
        return bad({"version": "expected a version number"})
    try:
        result = await desk_of(request).scripts.rollback(name, version)
    except KeyError as exc:
        return bad({"version": str(exc)}, status=404)
    except ScriptInvalid as exc:
        return bad({"version": str(exc)})
    return web.json_response({"ok": True, **result})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/ivr/api/scripts/{name}", script_detail)
    app.router.add_get("/ivr/api/scripts/{name}/versions/{version}", version_text)
    app.router.add_post("/ivr/api/scripts/{name}/validate", validate)
    app.router.add_post("/ivr/api/scripts/{name}/simulate", simulate)
    app.router.add_post("/ivr/api/scripts/{name}/diff", diff_published)
    app.router.add_post("/ivr/api/scripts/{name}/publish", publish)
    app.router.add_post("/ivr/api/scripts/{name}/rollback", rollback)
