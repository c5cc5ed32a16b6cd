"""Interactions: applying the call controller's domain events, and non-call contacts.

`apply_event` is what the outbox writer runs for each journal entry. Events may arrive for a
call whose CallStarted was never recorded (a controller restarted mid-call and re-adopted it),
so every event finds-or-creates the interaction by its Asterisk channel id rather than failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_core.db import Database
from crm_core.errors import NotFound, ValidationError
from crm_core.models import (
    CHANNELS,
    DispositionCode,
    Interaction,
    IvrPathStep,
    Resident,
    ResidentPhone,
    User,
)
from crm_core.phone import is_anonymous, normalize_phone
from crm_core.services.agent_states import AgentStateRecorder
from ground import events as ev

MAX_NOTES = 10_000
MAX_TRANSCRIPT = 200_000


class CallEventBatch:
    """Applies a run of call events inside one transaction with few statements: the calls,
    their IVR step counters and the agents are looked up once per batch, new rows are written
    in one flush. This is what lets the outbox writer keep up with thousands of events/s."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._calls: dict[str, Interaction] = {}
        self._next_seq: dict[str, int] = {}
        self._residents: dict[str, Resident] = {}
        self._agents: dict[str, int | None] = {}
        self._missing_numbers: set[str] = set()
        # IVR steps are written with one executemany after the calls have ids (finish()):
        # no ORM object per step, and no RETURNING of step ids nobody reads.
        self._steps: list[tuple[Interaction, dict[str, object]]] = []
        # Agents' state changes are not a call's: the log and its hourly totals.
        self._agent_states = AgentStateRecorder(session)

    def preload(self, events: list[ev.DomainEvent]) -> None:
        events = [e for e in events if not isinstance(e, ev.AgentStateChanged)]
        call_ids = list({e.call_id for e in events} - self._calls.keys())
        if not call_ids:
            return
        self._preload_residents(events)
        with self.session.no_autoflush:
            for call in self.session.scalars(sa.select(Interaction).where(Interaction.call_id.in_(call_ids))):
                assert call.call_id is not None
                self._calls[call.call_id] = call
            for call_id, last in self.session.execute(
                sa.select(Interaction.call_id, sa.func.max(IvrPathStep.seq))
                .join(IvrPathStep, IvrPathStep.interaction_id == Interaction.id)
                .where(Interaction.call_id.in_(call_ids))
                .group_by(Interaction.call_id)
            ):
                if call_id is not None:
                    self._next_seq[call_id] = last + 1
        # Calls not in the database yet: created on first use without asking again.
        first_at: dict[str, datetime] = {}
        for event in events:
            first_at.setdefault(event.call_id, event.at)
        for call_id in call_ids:
            if call_id not in self._calls:
                call = Interaction(channel="phone", call_id=call_id, started_at=first_at[call_id])
                self.session.add(call)
                self._calls[call_id] = call
                self._next_seq[call_id] = 1

    def _preload_residents(self, events: list[ev.DomainEvent]) -> None:
        numbers: set[str] = set()
        for event in events:
            if isinstance(event, ev.CallStarted) and not is_anonymous(event.caller_number):
                try:
                    numbers.add(normalize_phone(event.caller_number))
                except ValidationError:
                    continue
        if not numbers:
            return
        found = self.session.execute(
            sa.select(ResidentPhone.number, Resident)
            .join(Resident, Resident.id == ResidentPhone.resident_id)
            .where(ResidentPhone.number.in_(numbers))
        ).all()
        for number, resident in found:
            self._residents[number] = resident
        self._missing_numbers = numbers - self._residents.keys()

    def _call(self, call_id: str, at: datetime) -> Interaction:
        call = self._calls.get(call_id)
        if call is None:
            call = self.session.scalar(sa.select(Interaction).where(Interaction.call_id == call_id))
            if call is None:
                call = Interaction(channel="phone", call_id=call_id, started_at=at)
                self.session.add(call)
                self._next_seq[call_id] = 1
            else:
                last = self.session.scalar(
                    sa.select(sa.func.max(IvrPathStep.seq)).where(IvrPathStep.interaction_id == call.id)
                )
                self._next_seq[call_id] = (last or 0) + 1
            self._calls[call_id] = call
        return call

    def _resident(self, raw_number: str) -> Resident | None:
        """Find the resident by caller id, creating a nameless one for a new valid number so
        the next call from it already has a history. Withheld or garbled numbers stay
        anonymous."""
        if is_anonymous(raw_number):
            return None
        try:
            number = normalize_phone(raw_number)
        except ValidationError:
            return None
        resident = self._residents.get(number)
        if resident is None and number in self._missing_numbers:
            resident = Resident(phones=[ResidentPhone(number=number)])
            self.session.add(resident)
            self._residents[number] = resident
        if resident is None:
            resident = self.session.scalar(
                sa.select(Resident)
                .join(ResidentPhone, ResidentPhone.resident_id == Resident.id)
                .where(ResidentPhone.number == number)
            )
            if resident is None:
                resident = Resident(phones=[ResidentPhone(number=number)])
                self.session.add(resident)
            self._residents[number] = resident
        return resident

    def _agent_id(self, username: str) -> int | None:
        if username not in self._agents:
            self._agents[username] = self.session.scalar(sa.select(User.id).where(User.username == username))
        return self._agents[username]

    def finish(self) -> None:
        """Write what is pending; call once after the last apply() of the transaction."""
        self.session.flush()
        if self._steps:
            # A Core insert on the table, not the ORM bulk insert of the entity: the latter
            # fetches each new id with its own INSERT … RETURNING (one round trip per step,
            # the writer's largest cost), and leaves out None columns, splitting the rows into
            # one statement per shape. Every row carries every column, so this is one
            # executemany.
            table: sa.Table = IvrPathStep.__table__  # type: ignore[assignment]
            self.session.execute(
                table.insert(),
                [{"interaction_id": call.id, **row} for call, row in self._steps],
            )
            self._steps.clear()
        self._agent_states.finish()

    def apply(self, event: ev.DomainEvent) -> None:
        """Fold one call event into the interaction of `event.call_id`. Applying the same
        event twice is prevented by the outbox (applied_events), not here."""
        if isinstance(event, ev.AgentStateChanged):
            self._agent_states.add(event)
            return
        with self.session.no_autoflush:
            call = self._call(event.call_id, event.at)
            self._apply(call, event)

    def _apply(self, call: Interaction, event: ev.DomainEvent) -> None:
        match event:
            case ev.CallStarted():
                call.started_at = event.at
                call.caller_number = event.caller_number[:32]
                call.dialed = event.dialed[:32]
                call.resident = self._resident(event.caller_number)
            case ev.CallAnswered():
                call.answered_at = call.answered_at or event.at
            case ev.IvrStep():
                seq = self._next_seq.get(event.call_id, 1)
                self._next_seq[event.call_id] = seq + 1
                self._steps.append(
                    (
                        call,
                        {
                            "seq": seq,
                            "at": event.at,
                            "script": event.script[:80],
                            "version": str(event.version)[:20],
                            "node": event.node[:80],
                            "input_kind": event.input_kind[:10],
                            "input_value": event.input_value[:500],
                            "confidence": event.confidence,
                            "next_node": event.next_node[:80],
                        },
                    )
                )
            case ev.CallQueued():
                call.queue = event.queue[:40]
                call.queued_at = event.at
                call.category_hint = event.category[:60] or None
                call.priority = event.priority
                call.language = event.language[:8] or call.language
            case ev.AgentConnected():
                call.queue = event.queue[:40] or call.queue
                call.agent_username = event.agent[:64]
                call.agent_id = self._agent_id(event.agent)
                call.connected_at = event.at
                call.wait_s = event.wait_s
            case ev.CallTransferred():
                call.transferred_to = event.target[:64]
            case ev.CallLeftQueue():
                # The last word wins: an overflowed caller abandoned in the second queue is
                # that queue's abandoned call (the live figures count it there too).
                call.queue = event.queue[:40] or call.queue
                call.left_queue_reason = event.reason[:30]
                call.left_queue_at = event.at
                if call.connected_at is None:
                    call.wait_s = event.waited_s
            case ev.CallHeld():
                if event.held:
                    call.held_since = call.held_since or event.at
                else:
                    self._end_hold(call, event.at)
            case ev.CallEnded():
                call.ended_at = event.at
                call.end_reason = event.reason[:30]
                self._end_hold(call, event.at)
                if call.connected_at is not None:
                    call.talk_s = max(0.0, (event.at - call.connected_at).total_seconds())
            case ev.CallDispositioned():
                # From the desk via cti: recorded as given (the desk offered only known
                # codes; an event cannot be refused after the fact).
                # "" when the wrap-up timer ran out: the wrap-up still ended now.
                call.disposition_code = event.disposition[:40] or call.disposition_code
                call.notes = event.notes[:MAX_NOTES] or call.notes
                call.agent_username = call.agent_username or event.agent[:64]
                call.wrapped_up_at = event.at
            case ev.CallRecorded():
                call.recording_ref = event.ref[:255]
            case ev.CallbackRequested():
                call.queue = call.queue or event.queue[:40]
                call.callback_number = event.number[:32]
                call.callback_status = "pending"
                call.callback_attempts = 0
                call.callback_requested_at = event.at
            case ev.CallbackAttempted():
                call.callback_attempts = max(call.callback_attempts or 0, event.attempt)
                if event.reached:
                    call.callback_status = "reached"
                elif event.final:
                    call.callback_status = "failed"
                if event.final:
                    call.callback_done_at = event.at
            case _:
                # DTMF digits, prompts and offers are carried by IvrStep / AgentConnected;
                # the interaction row exists, which is all they add.
                pass


    @staticmethod
    def _end_hold(call: Interaction, at: datetime) -> None:
        if call.held_since is not None:
            held = max(0.0, (at - call.held_since).total_seconds())
            call.hold_s = (call.hold_s or 0.0) + held
            call.held_since = None


def apply_event(session: Session, event: ev.DomainEvent) -> None:
    """Apply one call event inside the caller's transaction."""
    batch = CallEventBatch(session)
    batch.apply(event)
    batch.finish()


def record_event(db: Database, event: ev.DomainEvent) -> None:
    """Apply one event straight away (tools and tests; telephony goes through the outbox)."""
    with db.writing() as session:
        apply_event(session, event)


@dataclass(frozen=True)
class IvrStepView:
    seq: int
    at: datetime
    node: str
    input_kind: str
    input_value: str
    confidence: float | None
    next_node: str


@dataclass(frozen=True)
class InteractionView:
    id: int
    channel: str
    call_id: str | None
    resident_id: int | None
    caller_number: str | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    queue: str | None
    wait_s: float | None
    agent_username: str | None
    talk_s: float | None
    disposition_code: str | None
    notes: str | None
    recording_ref: str | None
    transcript: str | None
    ivr_path: tuple[IvrStepView, ...]
    callback_number: str | None = None
    callback_status: str | None = None  # pending | reached | failed
    callback_attempts: int | None = None


def _view(i: Interaction) -> InteractionView:
    return InteractionView(
        id=i.id,
        channel=i.channel,
        call_id=i.call_id,
        resident_id=i.resident_id,
        caller_number=i.caller_number,
        started_at=i.started_at,
        answered_at=i.answered_at,
        ended_at=i.ended_at,
        end_reason=i.end_reason,
        queue=i.queue,
        wait_s=i.wait_s,
        agent_username=i.agent_username,
        talk_s=i.talk_s,
        disposition_code=i.disposition_code,
        notes=i.notes,
        recording_ref=i.recording_ref,
        transcript=i.transcript,
        ivr_path=tuple(
            IvrStepView(s.seq, s.at, s.node, s.input_kind, s.input_value, s.confidence, s.next_node)
            for s in i.ivr_steps
        ),
        callback_number=i.callback_number,
        callback_status=i.callback_status,
        callback_attempts=i.callback_attempts,
    )


def get_call(db: Database, call_id: str) -> InteractionView:
    with db.reading() as session:
        found = session.scalar(sa.select(Interaction).where(Interaction.call_id == call_id))
        if found is None:
            raise NotFound("call", call_id)
        return _view(found)


def get_interaction(db: Database, interaction_id: int) -> InteractionView:
    with db.reading() as session:
        found = session.get(Interaction, interaction_id)
        if found is None:
            raise NotFound("interaction", interaction_id)
        return _view(found)


def wrap_up(
    db: Database,
    call_id: str,
    *,
    disposition_code: str,
    notes: str = "",
    recording_ref: str | None = None,
    transcript: str | None = None,
    at: datetime,
) -> InteractionView:
    """The consultant's after-call work: disposition, notes, recording and transcript."""
    errors: dict[str, str] = {}
    if len(notes) > MAX_NOTES:
        errors["notes"] = f"at most {MAX_NOTES} characters (got {len(notes)})"
    if transcript is not None and len(transcript) > MAX_TRANSCRIPT:
        errors["transcript"] = f"at most {MAX_TRANSCRIPT} characters"
    with db.writing() as session:
        known = session.scalar(
            sa.select(DispositionCode.id).where(
                DispositionCode.code == disposition_code, DispositionCode.is_active
            )
        )
        if known is None:
            errors["disposition_code"] = f"unknown disposition code {disposition_code!r}"
        call = session.scalar(sa.select(Interaction).where(Interaction.call_id == call_id))
        if call is None:
            errors["call_id"] = f"no call {call_id!r} (its events may still be in the outbox)"
        if errors:
            raise ValidationError(errors)
        assert call is not None
        call.disposition_code = disposition_code
        call.notes = notes or call.notes
        call.recording_ref = recording_ref or call.recording_ref
        call.transcript = transcript or call.transcript
        call.wrapped_up_at = at
        session.flush()
        return _view(call)


def record_contact(
    db: Database,
    *,
    channel: str,
    at: datetime,
    resident_id: int | None = None,
    subject: str | None = None,
    notes: str | None = None,
) -> InteractionView:
    """A contact that is not a call: a portal or app report, an e-mail."""
    errors: dict[str, str] = {}
    if channel not in CHANNELS or channel == "phone":
        errors["channel"] = f"expected portal, app or email, got {channel!r}"
    if subject is not None and len(subject) > 200:
        errors["subject"] = "at most 200 characters"
    if notes is not None and len(notes) > MAX_NOTES:
        errors["notes"] = f"at most {MAX_NOTES} characters"
    with db.writing() as session:
        if resident_id is not None and session.get(Resident, resident_id) is None:
            errors["resident_id"] = f"no resident {resident_id}"
        if errors:
            raise ValidationError(errors)
        item = Interaction(
            channel=channel, started_at=at, resident_id=resident_id, subject=subject, notes=notes
        )
        session.add(item)
        session.flush()
        return _view(item)
