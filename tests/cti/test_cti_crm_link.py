"""cti's ports over a real (SQLite) CRM database: queues, seats, sessions, caller history."""

from __future__ import annotations

from pathlib import Path

from crm_core.db import Database, migrate
from crm_core.services import contact_center as cc
from crm_core.services import residents, users
from cti.config import SkillRequirement, Strategy
from cti.crm_link import CrmDirectory, CrmHistory, CrmSessions
from cti.ports import Role


async def test_queues_seats_sessions_and_history_from_the_crm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    migrate(url)
    db = Database(url)
    try:
        anna = users.create_user(db, username="anna", full_name="Anna Nowak", role="consultant",
                                 password="correct horse", extension="2001")
        users.create_user(db, username="ivr", full_name="IVR Author", role="ivr_author",
                          password="correct horse")
        cc.create_queue(db, name="general", display_name="Ogólna")
        cc.create_queue(db, name="roads", display_name="Drogi", strategy="skills_based",
                        skills_required=("roads",), sl_threshold_s=20, sl_target_pct=80,
                        overflow_queue="general", overflow_after_s=120)
        cc.set_queue_member(db, "roads", "anna", penalty=1)
        cc.set_agent_skill(db, "anna", "roads", 4)
        residents.create_resident(db, phones=["22 123 45 67"], name="Jan Kowalski")

        directory = CrmDirectory(db)
        roads = {q.name: q for q in await directory.queues()}["roads"]
        assert roads.strategy is Strategy.LONGEST_IDLE
        assert roads.required_skills == (SkillRequirement("roads"),)
        assert (roads.overflow_queue, roads.overflow_after_s) == ("general", 120.0)
        assert (roads.service_level_s, roads.service_level_target) == (20.0, 0.8)

        seat = await directory.seat("anna")
        assert seat is not None
        assert seat.endpoint == "PJSIP/2001"
        assert seat.profile.membership("roads") is not None
        assert seat.profile.has_skills(roads.required_skills)
        assert await directory.seat("ivr") is None

        sessions = CrmSessions(db)
        token = users.open_session(db, anna.id)
        principal = await sessions.authenticate(token)
        assert principal is not None and (principal.user, principal.role) == (
            "anna", Role.CONSULTANT)
        assert await sessions.authenticate("forged") is None

        history = await CrmHistory(db).caller_history("+48221234567")
        assert history["resident"]["name"] == "Jan Kowalski"
        assert history["open_cases"] == []
    finally:
        db.dispose()


async def test_the_assembly_mounts_the_hub_with_crm_sessions(tmp_path: Path) -> None:
    """The ACD as `ckm run` assembles it (ckm.assembly.attach_acd) on a CRM: queues booted from
    the CRM, the hub admits a CRM web session, the snapshot is written when the center stops."""
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from ckm.assembly import Center, attach_acd
    from ground.bus import EventBus
    from ground.settings import Settings
    from pbx.ari_client import AriClient
    from pbx.prompts import PromptStage

    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    migrate(url)
    db = Database(url)
    boss = users.create_user(db, username="boss", full_name="Szef", role="supervisor",
                             password="correct horse")
    cc.create_queue(db, name="general", display_name="Ogólna")
    settings = Settings(data_dir=tmp_path)
    center = Center(settings, EventBus(), db=db)
    # No Asterisk in this test: the adapter holds an ARI client that never connects.
    ari = AriClient("http://127.0.0.1:9/ari", "nobody", "nothing", "ckm-test-nowhere")
    await attach_acd(center, ari, PromptStage(settings))
    board, hub = center.switchboard, center.hub
    assert board is not None and hub is not None
    assert "general" in board.acd.queues  # booted before attach_acd returned
    app = web.Application()
    hub.mount(app)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        token = users.open_session(db, boss.id)
        ws = await client.ws_connect("/cti/ws", headers={"Cookie": f"ckm_session={token}"})
        first = await ws.receive_json(timeout=3)
        assert (first["type"], first["user"], first["role"]) == ("snapshot", "boss", "supervisor")
        await ws.close()
    finally:
        await client.close()
        await center.close()
        db.dispose()
    assert (tmp_path / "acd-state.json").is_file()
