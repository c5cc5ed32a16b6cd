"""Callers' speech to the recognisers, through ARI externalMedia.

Why externalMedia (RTP) rather than AudioSocket or chan_websocket: it is plain ARI (no extra
dialplan, no TCP framing), Asterisk does the resampling to 16 kHz signed linear, and one UDP
socket serves every call — packets are told apart by the port Asterisk sends from, which the
externalMedia response names (UNICASTRTP_LOCAL_PORT).

Per call, on the first `Listen`: a snoop channel on the caller (only what the caller says,
never our prompts), an externalMedia channel to our socket, and a bridge joining them.
The pipeline stays up for the whole call (menus follow each other quickly); each `Listen`
switches the recogniser's grammar and turn. Decoding runs in a worker thread, one call's audio
in order; the loop only moves bytes.

RTP carries L16 in network byte order; recognisers want little-endian — swapped on arrival.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ground.settings import Settings
from ivr.asr import Recognition, Recognizer
from ivr.asr.models import SpeechModels
from pbx import call_session as cs
from pbx.ari_client import AriClient, AriError, AriUnavailable, new_id

log = logging.getLogger(__name__)

RTP_HEADER = 12
CHUNK_BYTES = 3200  # 100 ms at 16 kHz: small enough for barge-in, big enough to be cheap
TAP_PREFIXES = ("asr-snoop", "asr-media")  # ids of the helper channels of an audio tap
Sink = Callable[[str, cs.SessionInput], None]


@dataclass
class Stream:
    channel_id: str
    snoop_id: str
    media_id: str
    bridge_id: str
    port: int = 0
    language: str = ""
    recognizer: Recognizer | None = None
    turn: int = -1
    active: bool = False
    began: bool = False
    pending: bytearray = field(default_factory=bytearray)
    chunks: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task[None] | None = None
    sink: Sink | None = None
    listen_started: float = 0.0
    speech_ended: float = 0.0
    results: list[Recognition] = field(default_factory=list)
    packets: int = 0


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, owner: SpeechStreams) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.owner.on_packet(data, addr[1])


class SpeechStreams:
    def __init__(self, ari: AriClient, settings: Settings, models: SpeechModels,
                 *, workers: int = 2) -> None:
        self.ari = ari
        self.settings = settings
        self.models = models
        self.streams: dict[str, Stream] = {}
        self.by_port: dict[int, Stream] = {}
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asr")
        self.transport: asyncio.DatagramTransport | None = None
        self.local_port = 0
        self.latencies_s: list[float] = []  # end of speech → result delivered
        self.strays = 0  # packets from a port no stream owns

    async def open(self, port: int = 0) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Receiver(self), local_addr=("127.0.0.1", port))
        self.transport = transport
        self.local_port = int(transport.get_extra_info("sockname")[1])
        log.info("speech audio arrives on udp 127.0.0.1:%d", self.local_port)

    async def close(self) -> None:
        for channel_id in list(self.streams):
            await self.release(channel_id)
        if self.transport is not None:
            self.transport.close()
        self.executor.shutdown(wait=False, cancel_futures=True)

    # --- SpeechPort -----------------------------------------------------------------------
    async def start(self, channel_id: str, phrases: tuple[str, ...], language: str, turn: int,
                    sink: Sink) -> None:
        stream = self.streams.get(channel_id)
        if stream is None:
            try:
                stream = await self._open_stream(channel_id)
            except (AriError, AriUnavailable) as exc:
                await self.release(channel_id)
                # Keys still work: the IVR's no-input timer runs as usual.
                log.warning("speech unavailable for %s: %s", channel_id, exc)
                return
        if stream.recognizer is None or stream.language != language:
            stream.recognizer = await asyncio.get_running_loop().run_in_executor(
                self.executor, self.models.recognizer, language, 16000)
            stream.language = language
        stream.recognizer.set_grammar(phrases)  # a Grammar: phrases grouped by choice
        stream.recognizer.reset()
        stream.turn, stream.sink = turn, sink
        stream.began, stream.active = False, True
        stream.pending.clear()
        stream.listen_started = time.monotonic()

    async def stop(self, channel_id: str) -> None:
        stream = self.streams.get(channel_id)
        if stream is not None:
            stream.active = False
            stream.pending.clear()

    async def release(self, channel_id: str) -> None:
        stream = self.streams.pop(channel_id, None)
        if stream is None:
            return
        log.info("speech %s: %d packets on port %d, %d results, %d stray packets in all",
                 channel_id, stream.packets, stream.port, len(stream.results), self.strays)
        stream.active = False
        self.by_port.pop(stream.port, None)
        stream.chunks.put_nowait(None)
        for chan in (stream.snoop_id, stream.media_id):
            await self.ari.hangup(chan)
        await self.ari.destroy_bridge(stream.bridge_id)

    async def reclaim(self, channels: list[dict[str, Any]]) -> int:
        """Remove audio taps this process does not own: a killed predecessor's snoop and
        externalMedia channels (in our app with args `speech`) and their bridges.

        Called on every (re)connect; after a mere websocket blip our own streams are still
        live and listed in `self.streams`, so they are kept.
        """
        owned = {cid for s in self.streams.values() for cid in (s.snoop_id, s.media_id)}
        owned_bridges = {s.bridge_id for s in self.streams.values()}
        removed = 0
        for chan in channels:
            # Told apart by the ids we gave them: Asterisk lists an externalMedia channel's
            # dialplan app data as the bare app name, without our `speech` argument.
            cid = str(chan.get("id", ""))
            app = str(chan.get("dialplan", {}).get("app_data", "")).split(",", 1)[0]
            if cid.startswith(TAP_PREFIXES) and cid not in owned and app == self.settings.ari_app:
                await self.ari.hangup(cid)
                removed += 1
        for bridge in await self.ari.bridges():
            if bridge.get("name") == self._bridge_name() and bridge.get("id") not in owned_bridges:
                await self.ari.destroy_bridge(str(bridge["id"]))
                removed += 1
        if removed:
            log.info("reclaimed %d audio-tap channels and bridges left by a previous process",
                     removed)
        return removed

    def _bridge_name(self) -> str:
        # Named after the app so a restarted controller finds its predecessor's bridges and
        # never touches another app's.
        return f"asr:{self.settings.ari_app}"

    # --- media -----------------------------------------------------------------------------
    async def _open_stream(self, channel_id: str) -> Stream:
        stream = Stream(channel_id, snoop_id=new_id(TAP_PREFIXES[0]),
                        media_id=new_id(TAP_PREFIXES[1]),
                        bridge_id=new_id("asr-bridge"))
        self.streams[channel_id] = stream
        app = self.settings.ari_app
        # Both helper channels must be in Stasis before they can join the bridge.
        entered = [self.ari.expect("StasisStart", stream.snoop_id),
                   self.ari.expect("StasisStart", stream.media_id)]
        # spy=in: what the caller says; "out" would be our own prompts (checked on Asterisk 22
        # with a Local caller: in = the caller's clip only, out = the prompt only).
        await self.ari.request("POST", f"/channels/{channel_id}/snoop/{stream.snoop_id}",
                               {"app": app, "appArgs": "speech", "spy": "in"})
        media = await self.ari.request("POST", "/channels/externalMedia", {
            "app": app, "appArgs": "speech", "channelId": stream.media_id,
            "external_host": f"127.0.0.1:{self.local_port}", "format": "slin16"})
        port = (media or {}).get("channelvars", {}).get("UNICASTRTP_LOCAL_PORT") \
            or await self.ari.get_var(stream.media_id, "UNICASTRTP_LOCAL_PORT")
        stream.port = int(port or 0)
        self.by_port[stream.port] = stream
        try:
            await asyncio.wait_for(asyncio.gather(*entered), 5)
        except TimeoutError:
            raise AriUnavailable("the audio tap channels never entered Stasis") from None
        await self.ari.create_bridge(stream.bridge_id, "mixing", self._bridge_name())
        for chan in (stream.snoop_id, stream.media_id):
            await self.ari.request("POST", f"/bridges/{stream.bridge_id}/addChannel",
                                   {"channel": chan})
        stream.worker = asyncio.create_task(self._decode(stream), name=f"asr-{channel_id}")
        return stream

    def on_packet(self, data: bytes, port: int) -> None:
        stream = self.by_port.get(port)
        if stream is None:
            self.strays += 1
            return
        stream.packets += 1
        if not stream.active or len(data) <= RTP_HEADER:
            return
        payload = bytearray(data[RTP_HEADER: len(data) - (len(data) - RTP_HEADER) % 2])
        if sys.byteorder == "little":
            payload[0::2], payload[1::2] = payload[1::2], payload[0::2]
        stream.pending += payload
        if len(stream.pending) >= CHUNK_BYTES:
            stream.chunks.put_nowait(bytes(stream.pending))
            stream.pending.clear()

    async def _decode(self, stream: Stream) -> None:
        loop = asyncio.get_running_loop()
        while True:
            chunk = await stream.chunks.get()
            if chunk is None:
                return
            recognizer, turn = stream.recognizer, stream.turn
            if recognizer is None or not stream.active:
                continue
            try:
                result = await loop.run_in_executor(self.executor, recognizer.accept_audio, chunk)
            except Exception:
                log.exception("recogniser failed on %s", stream.channel_id)
                continue
            if not stream.active or stream.turn != turn or stream.sink is None:
                if result is not None and result.final:
                    log.info("speech %s: result for turn %d dropped, the IVR moved on (%r)",
                             stream.channel_id, turn, result.text)
                continue  # the IVR moved on while this chunk was decoding
            if not stream.began and (getattr(recognizer, "speech_started", False)
                                     or (result is not None and result.text)):
                log.info("speech %s turn %d: caller started speaking", stream.channel_id, turn)
                stream.began = True
                stream.sink(stream.channel_id, cs.SpeechBegan(at=_now(), turn=turn))
            if result is not None and result.final:
                stream.active = False
                stream.results.append(result)
                self.latencies_s.append(result.decode_s)
                log.info("speech %s turn %d: %r (heard %r) confidence %.2f by %s in %.2f s",
                         stream.channel_id, turn, result.text, result.raw_text,
                         result.confidence, result.engine, result.decode_s)
                stream.sink(stream.channel_id, cs.Speech(
                    at=_now(), text=result.text, confidence=result.confidence,
                    engine=result.engine, turn=turn))


def _now() -> datetime:
    return datetime.now(UTC)
