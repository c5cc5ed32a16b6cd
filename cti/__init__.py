"""cti: the ACD (queues, agents, routing — pure) and the CTI hub (websocket fan-out, live figures).

Layout
------
config.py    QueueConfig, AgentProfile, Membership, SkillRequirement, PenaltyStep, Caller,
             CallContext: plain frozen configuration (crm_core loads it; tests build it).
events.py    what the ACD is told (from pbx/, from desktops via the hub, and Tick).
commands.py  what the ACD asks pbx/ to do.
notices.py   facts the ACD reports (hub, live figures, CRM).
agent.py     the agent state machine (transition table).
queue.py     QueueEntry and the strategies.
callback_offer.py  the callback offer's conversation with a waiting caller (which key accepts,
             a withheld caller's number typed digit by digit); pure, one per caller.
acd.py       Acd.handle(event) -> Step(commands, notices); next_deadline(); pure. The
             dispatcher (time, callers, offers); with call_control.py (hold, hang-up,
             transfers, snoop), agent_desk.py (log in/out, pause, wrap-up) and floor.py (the
             shared state and its helpers).
snapshot.py  dump/restore of the ACD as JSON (callers keep their place across a restart).
stats.py     live figures: waiting, longest wait, service level, ASA, abandoned %, callbacks.
protocol.py  websocket message schema, parsed at the edge.
hub.py       CtiHub: aiohttp websocket handler, mount at /cti/ws.
switchboard.py  the running ACD: feeds events, sends commands to pbx, notices to the bus and
             the notifier, arms the timer, persists the snapshot, maps desktop commands to events.
screen_pop.py  ScreenPops (pure): caller histories per call, the offer's pop, the pops sent
             before their history and the message that completes them.
notifier.py  notices out: hub events, domain events, state-log lines and figures (pure
             mappings); the Notifier sends to the hub and fetches histories in the background.
ports.py     protocols for the outside: Authenticator, HistoryProvider, QueueDirectory,
             CommandSink.
drill.py     a simulated-clock driver for tests, benchmarks and scripted drills.
frozen.py    `evolve`, a fast replace for the core's frozen records.
crm_link.py  crm_core behind the ports (queues/seats/pause reasons, caller history, sessions).
cli.py       `ckm acd state` (who waits where, from the snapshot), `ckm acd bench`.

Contract with the pbx adapter
-----------------------------
The adapter implements `ports.CommandSink.execute(command)` (non-blocking; it must execute the
commands of one call in the order given) and feeds events back with `Switchboard.feed(event)`
(synchronous; raises `AcdError` for an event the state does not allow — log it, it is a bug or
a race the ACD already settled). `call_id` is the caller channel's id (for callbacks: the id
of the callback; the adapter maps it to the resident's new channel). Every event carries `at`
(timezone-aware UTC).

Commands, and what the adapter does for each:

  HoldInQueue(call_id, queue, bridge, moh_class)
      Create (once) the holding bridge named `bridge` ("ckm-queue-<queue>", type "holding",
      so a restarted controller finds it by name), move the caller's channel into it (out of
      whatever bridge it was in) and start music on hold `moh_class` for it.
  AnnouncePosition(call_id, position, estimated_wait_s)
      Play "you are number <position> in line[, expected wait about <minutes>]" to the caller
      in the holding bridge (channel playback; MOH resumes afterwards).
  OfferCallback(call_id, queue)
      Play the callback offer and collect one digit. Accepted → feed
      CallbackRequested(call_id, number) (number = the caller id, or digits entered), then
      play a confirmation and hang up; the CallerHungUp that follows is expected and ignored.
  RejectFromQueue(call_id, queue, reason)            reason: full | no_agents
      The ACD has forgotten the call. Play a "cannot take your call now" prompt, then hang up
      (or hand the call back to the IVR). Feed nothing more for it.
  RingAgent(call_id, agent, endpoint, caller_number, caller_name, timeout_s, queue, callback,
            offer)
      Originate a channel to `endpoint` with caller id "<caller_name> <caller_number>"
      (channel id e.g. "<call_id>-<agent>-<offer>"), do not bridge yet. The ACD times the ring
      itself (a Tick after `timeout_s` cancels it), so no dial timeout is needed, but a longer
      one is harmless. Feed back: AgentAnswered(call_id, agent, offer) when the agent channel
      answers, AgentDeclined(call_id, agent, reason, offer) when it fails/is rejected/busy
      before answer. Pass `offer` back (keep it with the leg): the same agent can be rung again
      for the same call (a new round after `retry_s`), and the id tells a late report about
      the old leg from the new one. (offer=None skips the check.)
  CancelRing(call_id, agent)
      Hang up that agent's ringing channel (timeout, caller gone, answered elsewhere — or an
      answer that came too late: after a ring-all winner, hang up the loser's answered leg).
      404 from ARI means it is already gone: fine. Feed nothing.
  BridgeCall(call_id, agent, record)
      Create a mixing bridge for the call, move the caller (or, for callbacks, the resident's
      channel) and the agent's channel into it, stop MOH. record=True: start a bridge
      recording named `call_id`. Feed AgentHungUp(call_id, agent) when the agent leg ends,
      CallerHungUp(call_id) when the caller leg ends.
  DialResident(call_id, agent, number, caller_name)
      Callback: the agent has answered. Originate to the resident's `number` (outbound trunk,
      presenting 19115), feed ResidentAnswered(call_id) on answer (the ACD then sends
      BridgeCall) or ResidentUnreachable(call_id) on failure/no answer (~30 s).
  HoldCall(call_id, moh_class) / UnholdCall(call_id)
      Take the caller out of the call bridge onto music on their own channel / back into
      the bridge; the agent stays in the bridge (and hears silence meanwhile).
  HangupCall(call_id)            Hang up the caller's channel (and any agent leg with it).
  HangupAgentLeg(call_id, agent) Hang up only the agent's channel for this call (the caller
      stays: e.g. after a blind transfer the caller is already in a holding bridge).
  DialExternal(call_id, number)
      Blind transfer out: originate to `number` and bridge the caller with it (or redirect the
      caller's channel to the dialplan); the ACD has forgotten the call.
  StartConsult(call_id, agent, target_endpoint)
      Attended transfer: the caller is on hold (a HoldCall precedes). Originate a consultation
      channel to `target_endpoint` (an agent endpoint, or "external:<number>") and bridge it
      with the agent's channel in a separate bridge. Feed ConsultAnswered(call_id) or
      ConsultFailed(call_id).
  CompleteConsult(call_id, agent)
      Join the caller with the consultation channel (one bridge), hang up the transferring
      agent's leg, stop the caller's MOH.
  CancelConsult(call_id, agent)
      Hang up the consultation channel; put the agent's channel back with the caller and stop
      MOH.
  Snoop(call_id, agent, supervisor, endpoint, mode)
      ARI snoop on the agent's channel: listen → spy both, whisper none; whisper → spy both,
      whisper out; barge → add the supervisor's channel to the call's bridge. Originate to the
      supervisor's `endpoint` and bridge it with the snoop channel.

Events the adapter feeds: CallEnqueued (the IVR's Enqueue, with Caller, priority, skills and
CallContext: ivr_path, category, transcript), CallerHungUp, AgentAnswered, AgentDeclined,
AgentHungUp, ResidentAnswered, ResidentUnreachable, ConsultAnswered, ConsultFailed,
CallbackRequested. Hangups for calls the ACD no longer knows are ignored (ARI reports both legs
in any order). Desktops' events (log in/out, pause, ready, wrap-up, hold, hangup, transfer,
snoop, schedule callback) come through the hub, checked against the user's role.

Wiring (ckm/assembly.py does this for `ckm run`): the pbx side connects both ways once its
adapter exists — `board.attach_pbx(adapter); adapter.attach(board)`; commands issued
before that are held and then sent in order. A sink
may feed events from inside `execute` (a scripted agent answering at once): they are queued
behind the current step.

After a controller restart: `snapshot.loads(path.read_text(), queues)` gives the ACD back with
every caller at its place; rings in flight are forgotten (the adapter hangs up agent legs it
re-adopts that are not bridged) and re-offered on the first Tick; the adapter feeds
CallerHungUp for any queued or connected call whose channel did not survive.

CTI hub
-------
`CtiHub(authenticator, switchboard).mount(app)` serves GET /cti/ws. Credentials: Bearer
header, `?token=`, the `ckm_session` cookie (all go to the Authenticator: token or session id →
Principal(user, role)), or a first {"type":"auth","token":...} frame. See protocol.py for the
message schema. A connection gets a snapshot (with the current `seq`) first, then deltas
with rising `seq`. Consultants get their own events, supervisors/admins everything plus a
"figures" event every second.
"""
