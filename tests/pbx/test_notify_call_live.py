"""Residents told by a phone call from 19115, on the real Asterisk.

A department accepts a case whose resident chose `phone`: the center's call dispatcher claims
the notification and dials the resident through [ckm-test-residents] (as [ckm-outbound] dials a
trunk). The resident's phone is this test's own ARI app (numbers 48000000300-399 ring there):
it answers, hears the message in Polish — read from what the center plays, as `ckm call --json`
reports it — and the menu, presses 0 and is put through to a consultant by the ACD, whose
screen-pop names the case. The notification is `sent` once, at the answer. A resident who never
answers (or whose line is busy) is called three times, then the notification is `failed` with
the reason, as supervisors see it. Calls nobody drives (a controller that died) are hung up.
"""

from __future__ import annotations

import array
import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa

from ckm.assembly import Center
from crm_core.db import Database
from crm_core.models import Notification
from crm_core.notifications import store
from crm_core.services import cases, residents
from crm_core.services.cases import Actor, NewCase
from ground import events as domain
from ground.settings import Settings
from pbx import ari_events as ev
from pbx.ari_client import AriClient, new_id
from pbx.notify_dial import NotifyDialer
from pbx.prompts import describe_media

from .audio_taps import recording_stored, stored_recording, until
from .live_center import Recorder, crm_call, live_center, log_in

pytestmark = pytest.mark.asterisk

SCRIPTED_AGENT = "Local/answer@ckm-test-agents"
DEPT = Actor("department:ZDM")
POTHOLE = NewCase("roads.pothole", "Dziura na prawym pasie", address="Al. Jerozolimskie 100",
                  district="Ochota")


@pytest_asyncio.fixture
async def center(asterisk: Any, settings: Settings, tmp_path: Path
                 ) -> AsyncIterator[tuple[Center, Recorder]]:
    # Quiet hours off: the suite may run at night (the rule has its own tests with a frozen clock).
    local = replace(settings, outbound_context="ckm-test-residents",
                    notify_call_quiet_hours="none")
    async with live_center(local, tmp_path) as running:
        c, _ = running
        calls = c.notify_calls
        assert calls is not None, "the center has no notification calls"
        # Retries a second apart and a short ring, so three unanswered calls take seconds.
        calls.policy = replace(calls.policy, retry_s=1.0, retry_cap_s=1.0, poll_s=0.2)
        dialer = calls.caller
        assert isinstance(dialer, NotifyDialer)
        dialer.ring_s = 3
        yield running


@pytest_asyncio.fixture
async def observer(settings: Settings) -> AsyncIterator[tuple[AriClient, list[ev.AriEvent]]]:
    """Sees every channel's events (as `ckm call` does): what the center plays to whom."""
    seen: list[ev.AriEvent] = []
    ari = AriClient(settings.ari_base, settings.ari_user, settings.ari_password,
                    f"ckm-observer-{uuid.uuid4().hex[:8]}", subscribe_all=True)

    async def keep(event: ev.AriEvent) -> None:
        seen.append(event)

    ari.on_event(keep)
    await ari.start()
    assert await ari.wait_connected(5), ari.last_error
    try:
        yield ari, seen
    finally:
        await ari.stop()


def _report_by_phone(db: Database, number: str, language: str = "pl") -> int:
    resident = residents.create_resident(db, phones=[number], name="Jan Kowalski",
                                         consent_contact=True)
    made = cases.create_case(db, dataclasses.replace(POTHOLE, resident_id=resident.id),
                             by=Actor("konsultant1"))
    store.set_preference(db, made.case.id, "phone", number, language=language,
                         tracking_token=made.tracking_token)
    cases.transition_case(db, made.case.id, "forwarded", by=Actor("konsultant1"))
    return made.case.id


def _notifications(db: Database, case_id: int) -> list[Notification]:
    with db.reading() as session:
        return list(session.scalars(sa.select(Notification).where(
            Notification.case_id == case_id).order_by(Notification.id)).all())


async def phone_hears(phone: AriClient, settings: Settings, leg: str,
                      seconds: float) -> array.array[int]:
    """What reaches the resident's phone: its leg is the callee half of a Local channel in the
    phone app, so the center's audio is what that leg reads (a snoop spying "in")."""
    tap, name = new_id("obs-snoop"), new_id("phone-heard")
    entered = phone.expect("StasisStart", tap)
    await phone.request("POST", f"/channels/{leg}/snoop/{tap}", {"app": phone.app, "spy": "in"})
    await asyncio.wait_for(entered, 5)
    await phone.request("POST", f"/channels/{tap}/record",
                        {"name": name, "format": "wav", "maxDurationSeconds": int(seconds) + 1,
                         "ifExists": "overwrite"})
    await asyncio.sleep(seconds)  # the listening window itself: what is heard in it is measured
    await phone.hangup(tap)
    await recording_stored(phone, name)
    return await stored_recording(phone, settings, name)


def _heard(settings: Settings, seen: list[ev.AriEvent], channel: str) -> list[str]:
    texts = []
    for event in seen:
        if isinstance(event, ev.PlaybackStarted) and event.target_uri == f"channel:{channel}":
            texts += [describe_media(settings, m).get("text", m) for m in event.media_uri.split(",")]
    return texts


async def test_the_resident_hears_the_news_presses_zero_and_reaches_a_consultant(
        center: tuple[Center, Recorder], phone: AriClient,
        observer: tuple[AriClient, list[ev.AriEvent]], settings: Settings) -> None:
    c, recorder = center
    db, board = c.db, c.switchboard
    assert db is not None and board is not None
    _, seen = observer
    rings: asyncio.Queue[ev.StasisStart] = asyncio.Queue()

    async def ringing(event: ev.AriEvent) -> None:
        if isinstance(event, ev.StasisStart) and event.args[:1] == ("phone",):
            rings.put_nowait(event)

    phone.on_event(ringing)
    await log_in(c, "konsultant1", SCRIPTED_AGENT)
    case_id = await asyncio.to_thread(_report_by_phone, db, "+48000000301")
    # The department accepts the case: that is news for the resident.
    await asyncio.to_thread(cases.transition_case, db, case_id, "in_progress", by=DEPT)

    ring = await asyncio.wait_for(rings.get(), 30)
    assert ring.args == ("phone", "48000000301")
    mine = ring.channel.id
    await phone.answer(mine)  # the resident picks up

    dialer = c.notify_calls.caller if c.notify_calls is not None else None
    assert isinstance(dialer, NotifyDialer)
    [notify_leg] = dialer.calls
    try:
        await _hears_and_presses_zero(c, recorder, phone, settings, seen, rings, case_id,
                                      mine, notify_leg)
    finally:
        await phone.hangup(mine)


async def _hears_and_presses_zero(c: Center, recorder: Recorder, phone: AriClient,
                                  settings: Settings, seen: list[ev.AriEvent],
                                  rings: asyncio.Queue[ev.StasisStart], case_id: int, mine: str,
                                  notify_leg: str) -> None:
    db, board = c.db, c.switchboard
    assert db is not None and board is not None
    case_number = cases.get_case(db, case_id).number

    async def sent() -> bool:
        [row] = await asyncio.to_thread(_notifications, db, case_id)
        return row.status == "sent"

    await until("the notification to be sent at the answer", sent, 20)

    def menu_read() -> bool:
        return any("naciśnij zero" in text for text in _heard(settings, seen, notify_leg))

    async def menu_started() -> bool:
        return menu_read()

    try:
        await until("the message and then the menu", menu_started, 60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; heard {_heard(settings, seen, notify_leg)}") from None
    heard = _heard(settings, seen, notify_leg)
    message = heard[0]
    assert message.startswith("Dzień dobry, tu Miejskie Centrum Kontaktu Warszawa 19115")
    number = int(case_number.rsplit("/", 1)[1])
    assert f"zgłoszenia numer {number} z roku {case_number.split('/')[1]}" in message
    assert "przyjęte do realizacji" in message and "http" not in message
    assert heard[1].startswith("Aby odsłuchać tę wiadomość ponownie, naciśnij jeden")
    # The resident's own phone got sound (the message was really played down the line).
    samples = await phone_hears(phone, settings, mine, 2.0)
    assert max(abs(s) for s in samples) > 1000, "the resident's phone heard silence"

    await phone.send_dtmf(mine, "0")

    offered = await until("a consultant to be offered the call", _async(
        lambda: [e for e in recorder.of(domain.CallOffered) if e.call_id == notify_leg]), 30)
    assert offered[0].agent == "konsultant1" and offered[0].queue == "ogolna"

    async def bridged() -> dict[str, Any] | None:
        for b in await phone.bridges():
            if b["id"] == f"ckm-call-{notify_leg}" and len(b["channels"]) == 2:
                return b
        return None

    await until("the resident and the consultant to be bridged", bridged, 30)
    # The consultant's screen-pop: a notification call, about this case, with what was said.
    context = board.acd.calls[notify_leg].context
    assert context.ivr_path[0] == "notification call" and case_number in context.ivr_path[1]
    assert "przyjęte do realizacji" in context.transcript
    assert "Łączymy z konsultantem." in _heard(settings, seen, notify_leg)
    # The resident hears the consultant (the scripted consultant beeps every two seconds).
    samples = await phone_hears(phone, settings, mine, 4.5)
    assert max(abs(s) for s in samples) > 1000, "the resident hears nothing"

    await phone.hangup(mine)
    await until("the call to end in the ACD", _async(lambda: not board.holds(notify_leg)), 20)
    # The CRM has the conversation as it has a call to 19115: the resident (by their number),
    # the queue, the consultant, the end.
    view = await crm_call(c, notify_leg, lambda v: v.ended_at is not None,
                          "the CRM to record the notification call's conversation", timeout=30)
    # The message was rendered for this call only: its sound files are gone with it.
    first = next(e for e in seen if isinstance(e, ev.PlaybackStarted)
                 and e.target_uri == f"channel:{notify_leg}")
    key = first.media_uri.split(",")[0].rsplit("/", 1)[1]
    staged = settings.sounds_dir / "tts"
    assert describe_media(settings, first.media_uri.split(",")[0]) == {}
    assert not list(staged.glob(f"{key}.*"))
    resident_id = cases.get_case(db, case_id).resident_id
    assert (view.caller_number, view.resident_id, view.queue, view.agent_username,
            view.end_reason) == ("+48000000301", resident_id, "ogolna", "konsultant1",
                                 "caller_hangup_in_queue")
    [row] = await asyncio.to_thread(_notifications, db, case_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    assert rings.empty(), "the resident was called a second time"


@pytest.mark.parametrize(("number", "reason"), [
    ("+48000000201", "not answered: no answer (User alerting, no answer, cause 19)"),  # rings on
    ("+48000000150", "not answered: busy (User busy, cause 17)"),
])
async def test_a_resident_who_never_answers_is_called_three_times_then_it_fails(
        center: tuple[Center, Recorder], settings: Settings, number: str, reason: str) -> None:
    c, _ = center
    db = c.db
    assert db is not None
    case_id = await asyncio.to_thread(_report_by_phone, db, number)
    await asyncio.to_thread(cases.transition_case, db, case_id, "in_progress", by=DEPT)

    async def failed() -> bool:
        [row] = await asyncio.to_thread(_notifications, db, case_id)
        return row.status == "failed"

    await until("three unanswered calls", failed, 90)
    [row] = await asyncio.to_thread(_notifications, db, case_id)
    assert row.attempts == 3 and row.channel == "phone"
    assert row.last_error == reason
    listed = await asyncio.to_thread(store.list_notifications, db, status="failed")
    assert [(n.to, n.attempts, n.last_error) for n in listed] == [(number, 3, reason)]
    # Nothing is left ringing.
    ari = c.ari
    assert ari is not None
    assert not [ch for ch in await ari.channels() if ch["id"].startswith("notify-")]


def _async(check: Any) -> Any:
    async def probe() -> Any:
        try:
            return check()
        except KeyError:
            return False
    return probe


async def test_notification_calls_nobody_drives_are_hung_up(
        center: tuple[Center, Recorder], phone: AriClient, settings: Settings) -> None:
    c, _ = center
    ari, db, calls = c.ari, c.db, c.notify_calls
    assert ari is not None and db is not None and calls is not None
    dialer = calls.caller
    assert isinstance(dialer, NotifyDialer)

    async def gone(channel: str) -> bool:
        return channel not in {ch["id"] for ch in await phone.channels()}

    # A notify call this process never placed (an earlier controller's) enters the app.
    stray = new_id("notify")
    await phone.originate("Local/48000000999@ckm-test-phones", channel_id=stray,
                          app=settings.ari_app, app_args="notify,999", timeout=10)
    await until("the stray notification call to be hung up", lambda: gone(stray), 15)

    # A call in the middle of its message whose controller forgot it (died and came back):
    # after the events socket reconnects, it is hung up rather than left in silence.
    rings: asyncio.Queue[ev.StasisStart] = asyncio.Queue()

    async def ringing(event: ev.AriEvent) -> None:
        if isinstance(event, ev.StasisStart) and event.args[:1] == ("phone",):
            rings.put_nowait(event)

    phone.on_event(ringing)
    case_id = await asyncio.to_thread(_report_by_phone, db, "+48000000302")
    await asyncio.to_thread(cases.transition_case, db, case_id, "in_progress", by=DEPT)
    mine = (await asyncio.wait_for(rings.get(), 30)).channel.id
    try:
        [leg] = dialer.calls
        await phone.answer(mine)
        await until("the message to start", _async(lambda: dialer.calls[leg].core.plays == 1), 10)
        dialer._end(leg)  # the new process knows nothing of it
        await ari.drop_connection()
        await until("the forgotten call to be hung up", lambda: gone(leg), 15)
        await until("the resident's phone to be hung up", lambda: gone(mine), 10)
    finally:
        await phone.hangup(mine)
