"""The agents' desk: log in and out, pause and ready, wrap-up with a disposition.

Rules: as for the whole ACD (see `cti.acd`). A pause asked for during a call is kept as
pending and applied when the call (and its wrap-up) ends; a forced logout of a ringing agent
puts the call back in line.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cti import commands as cmd
from cti import events as ev
from cti import notices as nt
from cti.agent import Action, Agent, AgentStatus, transition
from cti.floor import AcdError, Floor
from cti.frozen import evolve
from cti.queue import EntryPhase


class AgentDesk(Floor):
    def _on_login(self, e: ev.AgentLoggedIn) -> None:
        current = self.agents.get(e.profile.agent_id)
        if current is not None and current.status is not AgentStatus.OFFLINE:
            raise AcdError(f"agent {e.profile.agent_id} is already logged in "
                           f"({current.status.value})")
        if not e.endpoint:
            raise AcdError(f"agent {e.profile.agent_id}: expected an endpoint to ring")
        unknown = [m.queue for m in e.profile.memberships if m.queue not in self.queues]
        if unknown:
            raise AcdError(f"agent {e.profile.agent_id}: unknown queue(s) {', '.join(unknown)}")
        base = current if current is not None else Agent(e.profile)
        base = evolve(base, profile=e.profile, endpoint=e.endpoint)
        to = AgentStatus.PAUSED if e.paused_reason else AgentStatus.AVAILABLE
        self._set_agent(transition(base, Action.LOGIN, e.at, to=to,
                                   reason=e.paused_reason or ""))

    def _on_logout(self, e: ev.AgentLoggedOut) -> None:
        agent = self._agent(e.agent)
        if agent.status is AgentStatus.ON_CALL:
            raise AcdError(f"agent {e.agent} is on a call; pause after the call instead")
        new = transition(agent, Action.LOGOUT, e.at,
                         reason=f"forced by {e.by}" if e.by else "")
        if agent.status is AgentStatus.RESERVED and agent.call_id is not None:
            self._release_ring(agent, e.at, "logout")
        self._finish_wrapup_record(agent, e.at)
        self._set_agent(new, reason=f"forced by {e.by}" if e.by else "")
        self._leave_when_empty(agent, e.at)

    def _release_ring(self, agent: Agent, at: datetime, reason: str) -> None:
        assert agent.call_id is not None
        self._cmds.append(cmd.CancelRing(agent.call_id, agent.agent_id))
        self._notes.append(nt.OfferWithdrawn(at, agent.call_id, agent.agent_id, reason))
        entry = self.entries.get(agent.call_id)
        if entry is not None and agent.agent_id in entry.offered_to:
            left = entry.offered_to - {agent.agent_id}
            self._put(evolve(
                entry, offered_to=left, phase=EntryPhase.OFFERED if left else EntryPhase.WAITING,
                offer_deadline=entry.offer_deadline if left else None, only_agent=None))
            return
        call = self.calls.get(agent.call_id)
        if call is not None and call.consult is not None and call.consult.target == agent.agent_id:
            self._cmds.append(cmd.CancelConsult(call.call_id, call.agent))
            self.calls[call.call_id] = evolve(call, consult=None, held=False)
            self._notes.append(nt.CallHeld(at, call.call_id, call.agent, False))

    def _on_paused(self, e: ev.AgentPaused) -> None:
        agent = self._agent(e.agent)
        if not e.reason:
            raise AcdError("pause: expected a reason")
        reason = f"{e.reason} (forced by {e.by})" if e.by else e.reason
        if agent.status in (AgentStatus.ON_CALL, AgentStatus.RESERVED):
            self._set_agent(evolve(agent, pending_pause=reason),
                            reason=f"pause pending: {reason}")
            return
        new = transition(agent, Action.PAUSE, e.at, reason=reason)
        if agent.status is AgentStatus.WRAP_UP:
            self._finish_wrapup_record(agent, e.at)
        self._set_agent(new)
        self._leave_when_empty(agent, e.at)

    def _on_ready(self, e: ev.AgentReady) -> None:
        agent = self._agent(e.agent)
        if agent.pending_pause is not None:
            self._set_agent(evolve(agent, pending_pause=None))
            return
        self._set_agent(evolve(transition(agent, Action.READY, e.at), unanswered=0))

    def _on_wrapup_completed(self, e: ev.WrapUpCompleted) -> None:
        agent = self._agent(e.agent)
        if agent.status is not AgentStatus.WRAP_UP:
            raise AcdError(f"agent {e.agent} is not in wrap-up ({agent.status.value})")
        _, queue = self.wrapup_queue.get(e.agent, ("", ""))
        codes = self.queues[queue].dispositions if queue in self.queues else frozenset()
        if codes and e.disposition not in codes:
            raise AcdError(f"disposition {e.disposition!r} is not one of "
                           f"{', '.join(sorted(codes))}")
        self._end_wrapup(agent, e.at, e.disposition, e.notes)

    def _on_wrapup_extended(self, e: ev.WrapUpExtended) -> None:
        agent = self._agent(e.agent)
        if agent.status is not AgentStatus.WRAP_UP or agent.wrapup_until is None:
            raise AcdError(f"agent {e.agent} is not in wrap-up ({agent.status.value})")
        if not 0 < e.seconds <= 3600:
            raise AcdError(f"wrap-up extension: expected 1 to 3600 seconds, got {e.seconds:g}")
        self._set_agent(evolve(agent, wrapup_until=agent.wrapup_until
                               + timedelta(seconds=e.seconds)),
                        reason=f"wrap-up extended by {e.by}" if e.by else "wrap-up extended")

    def _end_wrapup(self, agent: Agent, at: datetime, disposition: str, notes: str) -> None:
        new = transition(agent, Action.END_WRAPUP, at, to=self._idle_target(agent),
                         reason=agent.pending_pause or "")
        call_id, _ = self.wrapup_queue.pop(agent.agent_id, (None, ""))
        self._notes.append(nt.WrapUpDone(at, agent.agent_id, call_id, disposition, notes))
        self._set_agent(new)

    def _finish_wrapup_record(self, agent: Agent, at: datetime) -> None:
        if agent.status is AgentStatus.WRAP_UP:
            call_id, _ = self.wrapup_queue.pop(agent.agent_id, (None, ""))
            self._notes.append(nt.WrapUpDone(at, agent.agent_id, call_id, "", ""))

    def _leave_when_empty(self, agent: Agent, at: datetime) -> None:
        for m in agent.profile.memberships:
            config = self.queues[m.queue]
            if not config.leave_when_empty or self.staffed(m.queue):
                continue
            for _, call_id in list(self.order[m.queue]):
                entry = self.entries[call_id]
                if entry.callback or entry.phase is not EntryPhase.WAITING:
                    continue
                self._remove(entry)
                self._reject(call_id, m.queue, "no_agents", at)
