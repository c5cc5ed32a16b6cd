"""A scripted resident: `ckm call 19115 --dtmf 1,2 --say speech.wav`.

It places a real call through Asterisk: a Local channel whose callee half dials the number in
[inbound] (so it meets the same dialplan as a trunk call) and whose caller half enters this
tool's own Stasis app. The tool sends DTMF and plays audio on the caller half and watches the
center's playbacks on the callee half to report which prompts the resident heard.

Its app name is unique per run, so several scripted residents (tests, benchmarks) can call at
once, and it never competes with the controller's app.

What the resident went through is read from Asterisk alone: each prompt's text and language
from the description staged beside it (`pbx.prompts.describe_media`), the IVR steps, queue and
language from the channel variables the controller keeps on the call (`CKM_PATH`, `CKM_IVR`,
`CKM_QUEUE`), and the consultant from the agent leg that joins the call's bridge (its Stasis
args name the agent).

When to hang up: `hangup_after` seconds after the answer when given; otherwise once the DTMF
and audio steps are done and `linger_s` more have passed (time to hear the center's answer to
the last key), at most `max_call_s` after the answer — or as soon as the center hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import shutil
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ground.settings import Settings
from pbx import ari_events as ev
from pbx.ari_client import AriClient, AriError, AriUnavailable, new_id
from pbx.call_session import IVR_VAR, PATH_VAR, QUEUE_VAR
from pbx.prompts import describe_media


class CallerError(RuntimeError):
    """The call could not be placed; the message says why."""


@dataclass(frozen=True)
class DtmfStep:
    pause_s: float
    digit: str


@dataclass(frozen=True)
class SayStep:
    """Audio the resident plays: right away (after the DTMF), or once the center has finished
    its `after_prompts`-th prompt, or the prompt whose media URI ends with `after_media` — a
    resident answers a menu when it has been read out."""

    path: Path
    after_prompts: int | None = None
    after_media: str | None = None


# Without --hangup-after: listen this long after the last key or clip, and never more than
# MAX_CALL_S after the answer (a clip waiting for a prompt that never comes).
LINGER_S = 10.0
MAX_CALL_S = 180.0


@dataclass(frozen=True)
class CallPlan:
    number: str = "19115"
    caller_id: str = "+48600100200"
    name: str = "Jan Kowalski"
    dtmf: tuple[DtmfStep, ...] = ()
    say: tuple[SayStep, ...] = ()
    hangup_after: float | None = None  # None: when the steps are done, plus linger_s
    wait_answer: float = 10.0
    first_input_after: float = 1.0
    context: str = "inbound"
    linger_s: float = LINGER_S
    max_call_s: float = MAX_CALL_S

    @classmethod
    def from_args(cls, *, number: str, caller_id: str, name: str, dtmf: str,
                  say: list[str], hangup_after: float | None,
                  wait_answer: float) -> CallPlan:
        """Parse CLI text; raise ValueError naming the bad part.

        DTMF is "1,2,3"; "w1.5" before a digit waits that many seconds first (default 0.5).
        `--say FILE@N` plays FILE once the center's N-th prompt has finished.
        """
        steps: list[DtmfStep] = []
        pause = 0.5
        for token in filter(None, (t.strip() for t in dtmf.split(","))):
            if token.startswith("w"):
                try:
                    pause = float(token[1:])
                except ValueError:
                    raise ValueError(f"--dtmf: {token!r} is not a pause like w1.5") from None
                continue
            if len(token) != 1 or token not in "0123456789*#ABCD":
                raise ValueError(f"--dtmf: {token!r} is not a DTMF digit (0-9 * # A-D)")
            steps.append(DtmfStep(pause, token))
            pause = 0.5
        files = []
        for item in say:
            name, sep, after = item.rpartition("@")
            if not sep:
                name, after = item, ""
            if after and not after.isdigit():
                raise ValueError(f"--say: {item!r}: after @ comes a prompt count, e.g. x.wav@4")
            path = Path(name)
            if not path.is_file():
                raise ValueError(f"--say: {name} is not a file")
            files.append(SayStep(path, int(after) if after else None))
        if not number or any(c not in "+0123456789*#" for c in number):
            raise ValueError(f"number {number!r}: digits only (a leading + is allowed)")
        if (hangup_after is not None and hangup_after <= 0) or wait_answer <= 0:
            raise ValueError("--hangup-after and --wait-answer must be positive")
        return cls(number=number, caller_id=caller_id, name=name, dtmf=tuple(steps),
                   say=tuple(files), hangup_after=hangup_after, wait_answer=wait_answer)


@dataclass
class PromptHeard:
    media: str
    text: str = ""  # empty for a recorded file or a prompt ckm did not stage
    language: str = ""
    prompt: str = ""  # the IVR prompt: node.slot.language, e.g. "greeting.prompt.pl"


@dataclass
class AgentReached:
    agent: str  # the ACD's agent (the CRM username)
    endpoint: str  # the channel that rang: PJSIP/1001-..., Local/...


@dataclass
class CallSummary:
    number: str
    answered: bool = False
    answer_delay_s: float = 0.0
    duration_s: float = 0.0
    prompts_heard: list[str] = field(default_factory=list)
    prompts_finished: list[str] = field(default_factory=list)
    prompts: list[PromptHeard] = field(default_factory=list)
    ivr_path: list[str] = field(default_factory=list)  # steps: "main_menu:3", "greeting"
    ivr_node: str = ""  # where the IVR was last
    language: str = ""
    queue: str = ""
    queue_request: dict[str, Any] = field(default_factory=dict)
    agents: list[AgentReached] = field(default_factory=list)
    dtmf_sent: list[str] = field(default_factory=list)
    audio_played: list[str] = field(default_factory=list)
    ended_by: str = ""  # caller | center | no_answer | failed
    caller_channel: str = ""
    callee_channel: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """What happened, for a person: one line per fact, prompts with their text."""
        if not self.answered:
            return f"call to {self.number}: not answered ({self.ended_by})"
        lines = [f"call to {self.number}: answered after {self.answer_delay_s:.2f} s, lasted "
                 f"{self.duration_s:.1f} s, ended by {self.ended_by}"]
        lines.append(f"  keys sent: {','.join(self.dtmf_sent) or 'none'}"
                     + (f"; audio played: {', '.join(self.audio_played)}"
                        if self.audio_played else ""))
        lines.append(f"  heard {len(self.prompts)} prompt(s):" if self.prompts
                     else "  heard no prompt")
        for heard in self.prompts:
            if heard.text:
                lines.append(f"    [{heard.language}] {heard.text}  ({heard.prompt})")
            else:
                lines.append(f"    {heard.media}")
        if self.ivr_path:
            lines.append(f"  IVR: {' → '.join(self.ivr_path)}"
                         + (f" (language {self.language})" if self.language else ""))
        if self.queue:
            lines.append(f"  queue: {self.queue}")
        for agent in self.agents:
            lines.append(f"  consultant: {agent.agent} ({agent.endpoint})")
        if self.queue and not self.agents:
            lines.append("  consultant: none answered while the resident was on the line")
        return "\n".join(lines)


def stage_audio(settings: Settings, source: Path) -> str:
    """Copy `source` as 8 kHz mono WAV into Asterisk's sounds; return its media URI."""
    data = source.read_bytes()
    name = "caller-" + hashlib.sha256(data).hexdigest()[:16]
    target = settings.sounds_dir / f"{name}.wav"
    if not target.exists():
        if shutil.which("sox") is None:
            raise CallerError("sox is needed to convert --say audio (apt-get install sox)")
        settings.sounds_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp.wav")
        proc = subprocess.run(["sox", str(source), "-r", "8000", "-c", "1", "-b", "16",
                               "-e", "signed-integer", str(tmp)], capture_output=True, text=True,
                              check=False)
        if proc.returncode != 0:
            raise CallerError(f"--say {source}: sox could not read it: {proc.stderr.strip()}")
        tmp.replace(target)
    return settings.sound_uri(name)


async def place_call(settings: Settings, plan: CallPlan) -> CallSummary:
    app = f"{settings.ari_app}-caller-{uuid.uuid4().hex[:8]}"
    client = AriClient(settings.ari_base, settings.ari_user, settings.ari_password, app,
                       subscribe_all=True)
    events: asyncio.Queue[ev.AriEvent] = asyncio.Queue()

    async def collect(event: ev.AriEvent) -> None:
        events.put_nowait(event)

    client.on_event(collect)
    await client.start()
    try:
        if not await client.wait_connected(5):
            raise CallerError(client.last_error or f"no ARI events socket at {settings.ari_base}")
        return await _converse(settings, client, plan, events)
    except AriUnavailable as exc:
        raise CallerError(str(exc)) from None
    finally:
        await client.stop()


async def _converse(settings: Settings, client: AriClient, plan: CallPlan,
                    events: asyncio.Queue[ev.AriEvent]) -> CallSummary:
    caller = new_id("resident")
    callee = new_id("resident-in")
    summary = CallSummary(number=plan.number, caller_channel=caller, callee_channel=callee)
    started = time.monotonic()
    answered = client.expect("StasisStart", caller)
    try:
        await client.originate(
            f"Local/{plan.number}@{plan.context}", channel_id=caller, other_channel_id=callee,
            app=client.app, caller_id=f'"{plan.name}" <{plan.caller_id}>',
            timeout=max(1, int(plan.wait_answer)),
            # "_" makes the callee half inherit it: the dialplan sends the call to this app.
            variables={"_CKM_ROUTE_APP": settings.ari_app},
        )
    except AriError as exc:
        raise CallerError(f"originate refused: {exc}") from None
    try:
        await asyncio.wait_for(answered, plan.wait_answer)
    except TimeoutError:
        summary.ended_by = "no_answer"
        await client.hangup(caller)
        return summary
    except BaseException:
        await _on_hook(client, caller)
        raise
    summary.answered = True
    summary.answer_delay_s = time.monotonic() - started
    answered_at = time.monotonic()
    ended = asyncio.Event()
    watcher = asyncio.create_task(_watch(settings, events, caller, callee, summary, ended))
    actions = asyncio.create_task(_act(settings, client, plan, caller, summary, ended))
    center_hung_up = asyncio.create_task(ended.wait())
    resident_done = asyncio.create_task(_resident_done(plan, actions))
    try:
        done, _ = await asyncio.wait(
            {center_hung_up, resident_done}, return_when=asyncio.FIRST_COMPLETED,
            timeout=None if plan.hangup_after is not None else plan.max_call_s)
        if center_hung_up in done:
            summary.ended_by = "center"
        else:
            summary.ended_by = "caller"
            await client.hangup(caller)
    except BaseException:
        await _on_hook(client, caller)
        raise
    finally:
        for task in (center_hung_up, resident_done, actions):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, AriError, AriUnavailable):
            await actions
        await asyncio.sleep(0.05)  # let the last playback events of the callee arrive
        watcher.cancel()
    summary.duration_s = time.monotonic() - answered_at
    return summary


async def _on_hook(client: AriClient, caller: str) -> None:
    """Whatever stopped the call (a cancelled task, Ctrl-C), the resident's phone goes on
    hook: a call left in Asterisk would be adopted by the next controller of that app."""
    with contextlib.suppress(Exception):
        await client.hangup(caller)


async def _resident_done(plan: CallPlan, actions: asyncio.Task[None]) -> None:
    """When the resident hangs up: `hangup_after` after the answer, or `linger_s` after the
    last of their keys and clips."""
    if plan.hangup_after is not None:
        await asyncio.sleep(plan.hangup_after)
        return
    await asyncio.wait({actions})
    await asyncio.sleep(plan.linger_s)


async def _watch(settings: Settings, events: asyncio.Queue[ev.AriEvent], caller: str,
                 callee: str, summary: CallSummary, ended: asyncio.Event) -> None:
    while True:
        event = await events.get()
        match event:
            case ev.PlaybackStarted(target_uri=target, media_uri=media) \
                    if target == f"channel:{callee}":
                summary.prompts_heard.append(media)
                for one in media.split(","):  # several prompts played as one playback
                    about = describe_media(settings, one)
                    summary.prompts.append(PromptHeard(
                        one, about.get("text", ""), about.get("language", ""),
                        about.get("prompt", "")))
            case ev.PlaybackFinished(target_uri=target, media_uri=media) \
                    if target == f"channel:{callee}":
                summary.prompts_finished.append(media)
            case ev.ChannelVarset(channel=chan, variable=name, value=value) \
                    if chan is not None and chan.id == callee:
                _note_var(summary, name, value)
            case ev.ChannelEnteredBridge(channel=chan):
                # The consultant's leg carries `agent,<call>,<agent>` in its Stasis args.
                args = chan.app_data.split(",")
                if len(args) >= 4 and args[1] == "agent" and args[2] == callee \
                        and all(a.agent != args[3] for a in summary.agents):
                    summary.agents.append(AgentReached(args[3], chan.name))
            case ev.StasisEnd(channel=chan) if chan.id == caller:
                ended.set()
            case ev.ChannelDestroyed(channel=chan) if chan.id in (caller, callee):
                ended.set()
            case _:
                pass


def _note_var(summary: CallSummary, name: str, value: str) -> None:
    """The controller's channel variables (pbx.call_session): IVR steps, position, queue."""
    try:
        data = json.loads(value) if value else None
    except ValueError:
        return
    if name == PATH_VAR and isinstance(data, list):
        summary.ivr_path = [str(step) for step in data]
    elif name == IVR_VAR and isinstance(data, dict):
        summary.ivr_node = str(data.get("node", ""))
        summary.language = str(data.get("language", "")) or summary.language
    elif name == QUEUE_VAR and isinstance(data, dict):
        summary.queue = str(data.get("queue", ""))
        summary.queue_request = data
        summary.language = str(data.get("language", "")) or summary.language


async def _act(settings: Settings, client: AriClient, plan: CallPlan, caller: str,
               summary: CallSummary, ended: asyncio.Event) -> None:
    await asyncio.sleep(plan.first_input_after)
    for step in plan.dtmf:
        await asyncio.sleep(step.pause_s)
        if ended.is_set():
            return
        await client.send_dtmf(caller, step.digit)
        summary.dtmf_sent.append(step.digit)
    for clip in plan.say:
        while not ended.is_set() and not _due(clip, summary):
            await asyncio.sleep(0.05)
        if ended.is_set():
            return
        media = stage_audio(settings, clip.path)
        playback_id = new_id("say")
        await client.play(caller, media, playback_id)
        summary.audio_played.append(clip.path.name)
        # The next clip waits for this one to end (its length is known from the file).
        await asyncio.sleep(_wav_seconds(clip.path))


def _due(step: SayStep, summary: CallSummary) -> bool:
    if step.after_prompts is not None:
        return len(summary.prompts_finished) >= step.after_prompts
    if step.after_media is not None:
        return any(m.endswith(step.after_media) for m in summary.prompts_finished)
    return True


def _wav_seconds(path: Path) -> float:
    import wave

    try:
        with wave.open(str(path)) as wav:
            return float(wav.getnframes()) / float(wav.getframerate())
    except (wave.Error, OSError, EOFError):
        return 1.0
