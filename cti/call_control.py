"""Connected calls: hold, hang-up, blind and attended transfer, supervisor snoop.

Rules: as for the whole ACD (see `cti.acd`): check everything, then change; a request about a
call the agent is not on raises `AcdError`; reports about legs already gone change nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cti import commands as cmd
from cti import events as ev
from cti import notices as nt
from cti.agent import Action, Agent, AgentStatus, transition
from cti.floor import (
    TRANSFER_PRIORITY_BOOST,
    AcdError,
    ActiveCall,
    Consult,
    Floor,
    bridge_name,
    valid_number,
)
from cti.frozen import evolve
from cti.queue import EntryPhase, QueueEntry


class CallControl(Floor):
    def _on_agent_hung_up(self, e: ev.AgentHungUp) -> None:
        call = self.calls.get(e.call_id)
        if (call is not None and call.consult is not None and call.consult.target == e.agent
                and call.agent != e.agent):
            self._consult_failed(call, e.at)  # the colleague hung up the consultation
            return
        if call is None or call.agent != e.agent:
            entry = self.entries.get(e.call_id)
            if entry is not None and entry.phase is EntryPhase.DIALING and e.agent in entry.offered_to:
                # The agent gave up on a callback being dialled: stop dialling, keep the place.
                self._cmds.append(cmd.HangupCall(e.call_id))
                agent = self.agents[e.agent]
                self._set_agent(transition(agent, Action.END_CALL, e.at,
                                           to=self._idle_target(agent),
                                           reason=agent.pending_pause or ""))
                self._put(evolve(entry, phase=EntryPhase.WAITING,
                                              offered_to=frozenset()))
            return
        if call.consult is not None and call.consult.answered:
            self._complete_transfer(call, e.at)  # hanging up mid-consult hands the caller over
            return
        if call.consult is not None:
            self._drop_consult(call, e.at, hang_up_leg=True)
        self._cmds.append(cmd.HangupCall(call.call_id))
        self._end_call(call, e.at, by="agent")

    def _on_hangup_requested(self, e: ev.HangupRequested) -> None:
        call = self._agent_call(e.call_id, e.agent)
        if call.consult is not None:
            self._drop_consult(call, e.at, hang_up_leg=True)
        self._cmds.append(cmd.HangupCall(call.call_id))
        self._end_call(call, e.at, by="agent")

    def _end_call(self, call: ActiveCall, at: datetime, *, by: str) -> None:
        del self.calls[call.call_id]
        config = self.queues[call.queue]
        talk = (at - call.connected_at).total_seconds()
        previous = self.handle_s.get(call.queue, config.default_handle_s)
        self.handle_s[call.queue] = 0.8 * previous + 0.2 * (talk + config.wrapup_s)
        self._notes.append(nt.CallEnded(at, call.call_id, call.queue, call.agent, by, talk))
        agent = self.agents[call.agent]
        self.wrapup_queue[call.agent] = (call.call_id, call.queue)
        if config.wrapup_s > 0:
            new = transition(agent, Action.END_CALL, at, to=AgentStatus.WRAP_UP)
            self._set_agent(evolve(
                new, wrapup_until=at + timedelta(seconds=config.wrapup_s)))
        else:
            self._set_agent(transition(agent, Action.END_CALL, at, to=self._idle_target(agent),
                                       reason=agent.pending_pause or ""))

    def _on_hold(self, e: ev.HoldRequested) -> None:
        call = self._agent_call(e.call_id, e.agent)
        if call.held:
            raise AcdError(f"call {e.call_id} is already on hold")
        self.calls[call.call_id] = evolve(call, held=True)
        self._cmds.append(cmd.HoldCall(call.call_id, self.queues[call.queue].moh_class))
        self._notes.append(nt.CallHeld(e.at, call.call_id, call.agent, True))

    def _on_unhold(self, e: ev.UnholdRequested) -> None:
        call = self._agent_call(e.call_id, e.agent)
        if not call.held:
            raise AcdError(f"call {e.call_id} is not on hold")
        if call.consult is not None:
            raise AcdError(f"call {e.call_id}: finish or cancel the transfer first")
        self.calls[call.call_id] = evolve(call, held=False)
        self._cmds.append(cmd.UnholdCall(call.call_id))
        self._notes.append(nt.CallHeld(e.at, call.call_id, call.agent, False))

    def _on_transfer(self, e: ev.TransferRequested) -> None:
        call = self._agent_call(e.call_id, e.agent)
        if call.consult is not None:
            raise AcdError(f"call {e.call_id}: a transfer is already in progress")
        target_agent: Agent | None = None
        if e.kind is ev.TargetKind.QUEUE:
            self._queue(e.target)
            if e.attended:
                raise AcdError("attended transfer to a queue: not supported, transfer blind")
        elif e.kind is ev.TargetKind.AGENT:
            target_agent = self.agents.get(e.target)
            if target_agent is None or target_agent.status is not AgentStatus.AVAILABLE:
                state = target_agent.status.value if target_agent else "unknown"
                raise AcdError(f"agent {e.target} is not available ({state})")
            if e.target == e.agent:
                raise AcdError("cannot transfer a call to yourself")
        elif not valid_number(e.target):
            raise AcdError(f"external number: expected digits with an optional +, "
                           f"got {e.target!r}")
        config = self.queues[call.queue]
        if e.attended:
            assert e.kind is not ev.TargetKind.QUEUE
            deadline = e.at + timedelta(seconds=config.ring_timeout_s)
            if target_agent is not None:
                self._set_agent(transition(target_agent, Action.OFFER, e.at, call_id=e.call_id))
                endpoint = target_agent.endpoint
            else:
                endpoint = f"external:{e.target}"
            self.calls[call.call_id] = evolve(
                call, held=True, consult=Consult(e.kind, e.target, deadline=deadline))
            if not call.held:
                self._cmds.append(cmd.HoldCall(call.call_id, config.moh_class))
                self._notes.append(nt.CallHeld(e.at, call.call_id, call.agent, True))
            self._cmds.append(cmd.StartConsult(call.call_id, call.agent, endpoint))
            return
        self._notes.append(nt.CallTransferred(e.at, call.call_id, call.agent, e.kind.value,
                                              e.target, False))
        self._cmds.append(cmd.HangupAgentLeg(call.call_id, call.agent))
        if e.kind is ev.TargetKind.EXTERNAL:
            self._cmds.append(cmd.DialExternal(call.call_id, e.target))
            self._end_call(call, e.at, by="transfer")
            return
        self._end_call(call, e.at, by="transfer")
        queue = e.target if e.kind is ev.TargetKind.QUEUE else call.queue
        qconf = self.queues[queue]
        self.seq += 1
        entry = QueueEntry(
            call_id=call.call_id, queue=queue, caller=call.caller,
            priority=call.priority + (TRANSFER_PRIORITY_BOOST if target_agent else 0),
            seq=self.seq, joined_at=e.at, skills=qconf.required_skills, context=call.context,
            only_agent=e.target if target_agent else None, transferred=True,
            next_announce_at=self._first_announce(qconf, e.at))
        self._insert(entry)
        self._cmds.append(cmd.HoldInQueue(call.call_id, queue, bridge_name(queue),
                                          qconf.moh_class))
        self._notes.append(nt.CallQueued(e.at, call.call_id, queue, call.caller, entry.priority,
                                         False, call.context))

    def _on_consult_answered(self, e: ev.ConsultAnswered) -> None:
        call = self.calls.get(e.call_id)
        if call is None or call.consult is None or call.consult.answered:
            raise AcdError(f"call {e.call_id} has no consultation ringing")
        if call.consult.kind is ev.TargetKind.AGENT:
            target = self.agents[call.consult.target]
            self._set_agent(transition(target, Action.ANSWER, e.at, call_id=e.call_id))
        self.calls[call.call_id] = evolve(
            call, consult=evolve(call.consult, answered=True, deadline=None))

    def _on_consult_failed(self, e: ev.ConsultFailed) -> None:
        call = self.calls.get(e.call_id)
        if call is None or call.consult is None:
            return
        self._consult_failed(call, e.at)

    def _consult_failed(self, call: ActiveCall, at: datetime) -> None:
        self._drop_consult(call, at, hang_up_leg=True)
        self.calls[call.call_id] = evolve(self.calls[call.call_id], held=False)
        self._notes.append(nt.CallHeld(at, call.call_id, call.agent, False))

    def _drop_consult(self, call: ActiveCall, at: datetime, *, hang_up_leg: bool) -> None:
        """Release the consultation target (and hang up its leg)."""
        consult = call.consult
        assert consult is not None
        if hang_up_leg:
            self._cmds.append(cmd.CancelConsult(call.call_id, call.agent))
        if consult.kind is ev.TargetKind.AGENT:
            target = self.agents[consult.target]
            if target.status is AgentStatus.RESERVED:
                self._set_agent(transition(target, Action.WITHDRAW, at))
            elif target.status is AgentStatus.ON_CALL and target.call_id == call.call_id:
                self._set_agent(transition(target, Action.END_CALL, at,
                                           to=self._idle_target(target),
                                           reason=target.pending_pause or ""))
        if call.call_id in self.calls:
            self.calls[call.call_id] = evolve(self.calls[call.call_id], consult=None)

    def _on_transfer_completed(self, e: ev.TransferCompleted) -> None:
        call = self._agent_call(e.call_id, e.agent)
        if call.consult is None or not call.consult.answered:
            raise AcdError(f"call {e.call_id}: the transfer target has not answered yet")
        self._complete_transfer(call, e.at)

    def _complete_transfer(self, call: ActiveCall, at: datetime) -> None:
        consult = call.consult
        assert consult is not None
        self._cmds.append(cmd.CompleteConsult(
            call.call_id, call.agent,
            consult.target if consult.kind is ev.TargetKind.AGENT else ""))
        self._notes.append(nt.CallTransferred(at, call.call_id, call.agent, consult.kind.value,
                                              consult.target, True))
        self._end_call(call, at, by="transfer")
        if consult.kind is ev.TargetKind.AGENT:
            # The call goes on with the colleague; it is theirs from now on.
            self.calls[call.call_id] = evolve(
                call, agent=consult.target, consult=None, held=False, connected_at=at)
            self._notes.append(nt.CallConnected(at, call.call_id, call.queue, consult.target,
                                                0.0, call.callback, transferred=True))

    def _on_transfer_cancelled(self, e: ev.TransferCancelled) -> None:
        call = self._agent_call(e.call_id, e.agent)
        if call.consult is None:
            raise AcdError(f"call {e.call_id} has no transfer in progress")
        self._consult_failed(call, e.at)

    def _on_snoop(self, e: ev.SnoopRequested) -> None:
        call = self.calls.get(e.call_id)
        if call is None:
            raise AcdError(f"call {e.call_id} is not connected to an agent")
        self._cmds.append(cmd.Snoop(e.call_id, call.agent, e.supervisor, e.endpoint, e.mode))
