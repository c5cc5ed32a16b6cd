"""Forwarding by Open311: ckm (instance A, on SQLite and PostgreSQL) is the Open311 client of a
department's own system — here a second ckm instance (B: its own seeded database and media,
its real GeoReport v2 server on a real port, an API key made as `ckm open311 keys create`
makes one). A case forwarded in A becomes a request in B (photo included); B's department
staff ask and resolve it in B; A's poller maps B's status_notes back: the question as an
internal note, the resolution as A's public answer (and the resident's notification).
Also: B down at first → retried, delivered exactly once when it is up; a key B refuses →
failed at once with B's words, visible."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp import web

import portal.wiring
from ckm.runner import MAX_REQUEST_LINE
from crm_core.db import Database
from crm_core.forwarding.worker import Forwarder, ForwardPolicy
from crm_core.models import Case, CaseForward, CaseNote, Notification
from crm_core.notifications import store
from crm_core.photos import MediaStore, Photo
from crm_core.services import cases, department, forwarding
from crm_core.services.cases import Actor, NewCase
from crm_core.services.contact_center import create_api_key
from ground.settings import Settings
from portal import tracking
from portal.config import PortalConfig
from tests.polling import wait_until

from .conftest import GENEROUS, free_port, tiny_png

CENTER = Actor("konsultant1")
FAST = ForwardPolicy(idle_s=0.05, poll_s=0.2, backoff_base_s=0.1, backoff_cap_s=0.3, error_pause_s=0.1)
POTHOLE = NewCase("roads.pothole", "Głęboka dziura przy przejściu dla pieszych",
                  address="Grójecka 17", district="Ochota", lat=52.2205, lon=20.9801,
                  location_text="przy przystanku Plac Narutowicza")


@dataclass
class InstanceB:
    db: Database
    media: MediaStore
    endpoint: str
    api_key: str
    port: int
    runner: web.AppRunner | None = None

    async def start(self, settings: Settings, data_dir: Path) -> None:
        s = dataclasses.replace(settings, data_dir=data_dir)
        app = web.Application(client_max_size=12 * 1024 * 1024,
                              handler_args={"max_line_size": MAX_REQUEST_LINE})
        portal.wiring.setup(app, s, db=self.db, config=PortalConfig.from_settings(s, **GENEROUS))
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
async def instance_b(settings: Settings, sqlite_seeded_template: Path,
                     tmp_path: Path) -> AsyncIterator[InstanceB]:
    """Another ckm install: its own seeded CRM (`ckm seed`), media and Open311 server."""
    path = tmp_path / "instance-b.sqlite3"
    shutil.copy(sqlite_seeded_template, path)
    db = Database(f"sqlite:///{path}")
    key = create_api_key(db, "19115 Warszawa (instance A)", rate_limit_per_min=10_000)[1]
    port = free_port()
    b = InstanceB(db, MediaStore(tmp_path / "b-data" / "portal-media"),
                  f"http://127.0.0.1:{port}/open311/v2", key, port)
    yield b
    await b.stop()
    db.dispose()


async def until(what: str, check: Callable[[], object], timeout: float = 15.0) -> object:
    # The check reads the database: off the event loop the servers under test run on.
    return await wait_until(what, lambda: asyncio.to_thread(check), timeout, every_s=0.05)


def count_rounds(worker: Forwarder) -> list[int]:
    """Count the worker's rounds (its loop calls `self.run_once`): a check that something
    does *not* happen waits for rounds in which it could have, not for a guessed time."""
    rounds = [0]
    round_once = worker.run_once

    async def counted() -> int:
        done = await round_once()
        rounds[0] += 1
        return done

    worker.run_once = counted  # type: ignore[method-assign]
    return rounds


def forward_row(db: Database, case_id: int) -> CaseForward:
    with db.reading() as session:
        row = session.scalar(sa.select(CaseForward).where(CaseForward.case_id == case_id))
        assert row is not None
        return row


def forwarded_case(crm: Database, media_dir: Path | None = None) -> int:
    created = cases.create_case(crm, POTHOLE, by=CENTER)
    store.set_preference(crm, created.case.id, "email", "jan.kowalski@example.pl",
                         tracking_token=created.tracking_token)
    if media_dir is not None:
        MediaStore(media_dir).save(created.case.id, Photo.parse(tiny_png(), 5_000_000))
    cases.transition_case(crm, created.case.id, "forwarded", by=CENTER)
    return created.case.id


async def test_a_case_forwarded_by_open311_is_worked_in_the_other_ckm_and_its_answer_comes_back(
        crm: Database, instance_b: InstanceB, settings: Settings, tmp_path: Path) -> None:
    await instance_b.start(settings, tmp_path / "b-data")
    forwarding.configure(crm, "ZDM", "open311", instance_b.endpoint, api_key=instance_b.api_key)
    media_a = tmp_path / "a-media"
    case_id = forwarded_case(crm, media_a)
    assert forward_row(crm, case_id).status == "pending"  # written with the forwarding itself

    worker = Forwarder(crm, public_base_url="https://19115.example.test", media_dir=media_a, policy=FAST)
    await worker.start()
    try:
        await until("the request delivered to B", lambda: forward_row(crm, case_id).status == "sent")
        sent = forward_row(crm, case_id)
        assert sent.remote_id and sent.attempts == 1 and sent.last_error is None

        # In B it is a request like any other: found by the id B gave A, with A's data.
        remote = tracking.by_number(instance_b.db, tracking.case_number(sent.remote_id))
        assert remote is not None
        number_a = cases.get_case(crm, case_id).number
        assert number_a in remote.description and "Głęboka dziura" in remote.description
        assert remote.service_code == "roads.pothole" and remote.district == "Ochota"
        assert remote.lat == pytest.approx(52.2205) and remote.lon == pytest.approx(20.9801)
        b_case = cases.get_case_by_number(instance_b.db, remote.number)
        assert instance_b.media.names(b_case.id), "the photo went along"

        # B's center forwards it to B's ZDM, whose staff ask the resident and then resolve it.
        cases.transition_case(instance_b.db, b_case.id, "forwarded", by=Actor("centrum B"))
        zdm_b = department.scope_of(instance_b.db, _user_id(instance_b.db, "zdm_pracownik"))
        department.accept(instance_b.db, zdm_b, b_case.id)
        department.ask_resident(instance_b.db, zdm_b, b_case.id, "Po której stronie jezdni?")

        def noted() -> bool:
            with crm.reading() as session:
                return bool(session.scalar(sa.select(CaseNote.id).where(
                    CaseNote.case_id == case_id, CaseNote.text == "Po której stronie jezdni?")))

        await until("B's status_notes as a note in A", noted)
        assert cases.get_case(crm, case_id).status == "forwarded"  # an open request changes no status

        answer = "Ubytek załatano masą na gorąco 8 grudnia."
        department.resolve(instance_b.db, zdm_b, b_case.id, answer)
        await until("A's case resolved", lambda: cases.get_case(crm, case_id).status == "resolved")
    finally:
        await worker.stop()

    view = cases.get_case(crm, case_id)
    last = view.history[-1]
    assert (last.to_status, last.comment, last.public) == ("resolved", answer, True)
    assert last.by == "department:ZDM (Open311)"
    done = forward_row(crm, case_id)
    assert done.remote_status == "closed" and done.remote_notes == answer and done.closed_at
    with crm.reading() as session:  # the resident is told, by the channel they chose
        kinds = session.scalars(sa.select(Notification.kind).where(Notification.case_id == case_id)).all()
    assert "resolved" in kinds
    # The note is internal: A's public view shows the answer, never B's question as A's note.
    public = tracking.by_number(crm, view.number)
    assert public is not None and public.status_notes == answer


async def test_a_request_the_other_ckm_rejects_is_rejected_here_with_its_reason(
        crm: Database, instance_b: InstanceB, settings: Settings, tmp_path: Path) -> None:
    """GeoReport v2 says only `closed`; B's extended attributes (asked with extensions=true)
    say REJECTED, and A's case is rejected — not resolved — with B's reason as the answer."""
    await instance_b.start(settings, tmp_path / "b-data")
    forwarding.configure(crm, "ZDM", "open311", instance_b.endpoint, api_key=instance_b.api_key)
    case_id = forwarded_case(crm)
    worker = Forwarder(crm, public_base_url="https://19115.example.test", policy=FAST)
    await worker.start()
    try:
        await until("the request delivered to B", lambda: forward_row(crm, case_id).status == "sent")
        remote = tracking.by_number(instance_b.db,
                                    tracking.case_number(forward_row(crm, case_id).remote_id or ""))
        assert remote is not None
        b_case = cases.get_case_by_number(instance_b.db, remote.number)
        cases.transition_case(instance_b.db, b_case.id, "forwarded", by=Actor("centrum B"))
        zdm_b = department.scope_of(instance_b.db, _user_id(instance_b.db, "zdm_pracownik"))
        reason = "Teren kolejowy: zgłoszenie przekazaliśmy zarządcy linii."
        department.reject(instance_b.db, zdm_b, b_case.id, reason)
        await until("A's case rejected", lambda: cases.get_case(crm, case_id).status != "forwarded")
    finally:
        await worker.stop()
    view = cases.get_case(crm, case_id)
    last = view.history[-1]
    assert (view.status, last.comment, last.public) == ("rejected", reason, True)
    row = forward_row(crm, case_id)
    assert (row.remote_status, row.remote_notes) == ("closed", reason) and row.closed_at
    with crm.reading() as session:
        kinds = session.scalars(sa.select(Notification.kind).where(Notification.case_id == case_id)).all()
    assert "rejected" in kinds and "resolved" not in kinds


def _user_id(db: Database, username: str) -> int:
    from crm_core.models import User

    with db.reading() as session:
        found = session.scalar(sa.select(User.id).where(User.username == username))
        assert found is not None
        return found


async def test_the_other_system_down_at_first_gets_the_case_exactly_once_when_it_is_up(
        crm: Database, instance_b: InstanceB, settings: Settings, tmp_path: Path) -> None:
    forwarding.configure(crm, "ZDM", "open311", instance_b.endpoint, api_key=instance_b.api_key)
    case_id = forwarded_case(crm)
    worker = Forwarder(crm, public_base_url="https://19115.example.test", policy=FAST)
    rounds = count_rounds(worker)
    await worker.start()
    try:
        await until("a failed try recorded", lambda: forward_row(crm, case_id).attempts >= 2)
        row = forward_row(crm, case_id)
        assert row.status in ("pending", "sending") and row.remote_id is None
        assert row.last_error and "POST requests.json" in row.last_error
        await instance_b.start(settings, tmp_path / "b-data")
        await until("delivered once B is up", lambda: forward_row(crm, case_id).status == "sent")
        sent_at_round = rounds[0]
        await wait_until("three more rounds of the forwarder (nothing may be sent again)",
                         lambda: rounds[0] >= sent_at_round + 3, 10)
    finally:
        await worker.stop()
    number_a = cases.get_case(crm, case_id).number
    with instance_b.db.reading() as session:
        arrived = session.scalar(sa.select(sa.func.count()).select_from(Case).where(
            Case.description.contains(number_a)))
    assert arrived == 1


async def test_a_key_the_other_system_refuses_fails_at_once_with_its_words(
        crm: Database, instance_b: InstanceB, settings: Settings, tmp_path: Path) -> None:
    await instance_b.start(settings, tmp_path / "b-data")
    forwarding.configure(crm, "ZDM", "open311", instance_b.endpoint, api_key="deadbeef.not-a-key")
    case_id = forwarded_case(crm)
    worker = Forwarder(crm, public_base_url="https://19115.example.test", policy=FAST)
    await worker.start()
    try:
        await until("failed", lambda: forward_row(crm, case_id).status == "failed")
    finally:
        await worker.stop()
    [listed] = forwarding.list_forwards(crm, status="failed")
    assert listed.attempts == 1 and "HTTP 403" in (listed.last_error or "")
    assert "invalid api_key" in (listed.last_error or "")
    assert forwarding.retry_failed(crm) == 1
    assert forward_row(crm, case_id).status == "pending"


def test_forwarding_settings_are_checked_and_a_case_is_queued_once(crm: Database) -> None:
    with pytest.raises(Exception) as refused:
        forwarding.configure(crm, "ZDM", "open311", "ftp://zdm", api_key=None, service_codes="x")
    assert set(refused.value.fields) == {"url", "api_key", "service_code_map"}  # type: ignore[attr-defined]
    forwarding.configure(crm, "ZDM", "email", "zgloszenia@zdm.example")
    case_id = forwarded_case(crm)
    assert [f.channel for f in forwarding.list_forwards(crm, case_id=case_id)] == ["email"]
    forwarding.configure(crm, "ZDM", "none")
    other = forwarded_case(crm)
    assert forwarding.list_forwards(crm, case_id=other) == []


async def test_a_server_that_answers_with_a_token_is_asked_for_the_id_then_the_status(
        crm: Database, tmp_path: Path) -> None:
    """GeoReport v2 lets a server answer a POST with a token only (the request is made later):
    ckm asks tokens/{token} until the id comes, then polls requests/{id}. A local server
    speaking that part of the protocol, counting what it was asked."""
    asked: list[str] = []
    token_lookups = 0

    async def post(request: web.Request) -> web.Response:
        form = await request.post()
        asked.append(f"POST {form['service_code']} {form['api_key']}")
        return web.json_response([{"token": "tok-19115", "service_notice": "queued"}])

    async def token(request: web.Request) -> web.Response:
        nonlocal token_lookups
        token_lookups += 1
        asked.append(f"GET tokens/{request.match_info['token']}")
        if token_lookups < 2:  # not made yet: the spec's 404
            return web.json_response([{"code": 404, "description": "not yet"}], status=404)
        return web.json_response([{"service_request_id": "BGO-77", "token": "tok-19115"}])

    async def status(request: web.Request) -> web.Response:
        asked.append(f"GET requests/{request.match_info['id']}")
        return web.json_response([{"service_request_id": "BGO-77", "status": "closed",
                                   "status_notes": "Kontener wywieziony."}])

    app = web.Application()
    app.router.add_post("/v2/requests.json", post)
    app.router.add_get("/v2/tokens/{token}.json", token)
    app.router.add_get("/v2/requests/{id}.json", status)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        forwarding.configure(crm, "BGO", "open311", f"http://127.0.0.1:{port}/v2", api_key="k-1",
                             service_codes="waste=WASTE,waste.illegal_dump=DUMP")
        created = cases.create_case(crm, NewCase("waste.illegal_dump", "Stara kanapa przy śmietniku",
                                                 address="Wolska 40", district="Wola"), by=CENTER)
        cases.transition_case(crm, created.case.id, "forwarded", by=CENTER)
        worker = Forwarder(crm, public_base_url="https://19115.example.test", policy=FAST)
        await worker.start()
        try:
            await until("resolved from the token's request",
                        lambda: cases.get_case(crm, created.case.id).status == "resolved")
        finally:
            await worker.stop()
    finally:
        await runner.cleanup()
    assert asked[0] == "POST DUMP k-1"  # the subcategory's code, mapped
    assert asked[1:4] == ["GET tokens/tok-19115", "GET tokens/tok-19115", "GET requests/BGO-77"]
    row = forward_row(crm, created.case.id)
    assert (row.remote_token, row.remote_id, row.remote_status) == ("tok-19115", "BGO-77", "closed")
    assert cases.get_case(crm, created.case.id).history[-1].comment == "Kontener wywieziony."
