"""ARI JSON is parsed once into typed events; bad input is named, unknown types are kept apart."""

from __future__ import annotations

import json
import logging

import pytest

from pbx import ari_events as ev
from pbx.ari_client import AriClient

CHANNEL = {
    "id": "1732860000.12", "name": "Local/19115@inbound-0001;2", "state": "Ring",
    "caller": {"name": "<img src=x onerror=alert(1)>", "number": "+48600100200"},
    "dialplan": {"context": "ckm-entry", "exten": "s", "priority": 3, "app_name": "Stasis",
                 "app_data": "ckm,inbound,19115"},
    "language": "pl",
}


def test_stasis_start_keeps_caller_id_args_and_dialplan_position() -> None:
    event = ev.parse_event({"type": "StasisStart", "application": "ckm",
                            "timestamp": "2026-11-29T05:48:58.545+0000",
                            "args": ["inbound", "19115"], "channel": CHANNEL})
    assert isinstance(event, ev.StasisStart)
    assert event.args == ("inbound", "19115")
    assert event.channel.caller_number == "+48600100200"
    # Hostile caller names are data, kept verbatim; escaping is the web layer's job.
    assert event.channel.caller_name == "<img src=x onerror=alert(1)>"
    assert event.channel.app_data == "ckm,inbound,19115"
    assert event.timestamp is not None and event.timestamp.year == 2026


def test_dtmf_and_playback_events_are_typed() -> None:
    dtmf = ev.parse_event({"type": "ChannelDtmfReceived", "digit": "#", "duration_ms": 120,
                           "channel": CHANNEL})
    assert isinstance(dtmf, ev.ChannelDtmfReceived) and dtmf.digit == "#"
    done = ev.parse_event({"type": "PlaybackFinished", "playback": {
        "id": "pb1", "media_uri": "sound:hello-world", "target_uri": "channel:c1",
        "state": "done"}})
    assert isinstance(done, ev.PlaybackFinished) and done.target_uri == "channel:c1"


@pytest.mark.parametrize(("raw", "message"), [
    ([1, 2], "expected a JSON object"),
    ({"channel": CHANNEL}, "missing 'type'"),
    ({"type": "StasisStart", "args": []}, "missing 'channel'"),
    ({"type": "StasisStart", "channel": {"name": "x"}}, "missing 'id'"),
    ({"type": "ChannelDtmfReceived", "digit": "12", "channel": CHANNEL}, "not a DTMF digit"),
    ({"type": "PlaybackFinished", "playback": "nope"}, "playback must be an object"),
    ({"type": "StasisStart", "channel": CHANNEL, "args": "inbound"}, "args must be a list"),
])
def test_malformed_events_raise_an_error_naming_what_is_wrong(raw: object, message: str) -> None:
    with pytest.raises(ev.MalformedEvent, match=message):
        ev.parse_event(raw)


def test_unknown_types_are_returned_as_unknown_not_errors() -> None:
    event = ev.parse_event({"type": "ChannelTalkingStarted", "channel": CHANNEL})
    assert isinstance(event, ev.UnknownEvent) and event.type == "ChannelTalkingStarted"


async def test_dispatch_skips_garbage_and_unknown_events_and_keeps_going(
        caplog: pytest.LogCaptureFixture) -> None:
    client = AriClient("http://127.0.0.1:9", "u", "p", "ckm-test")
    seen: list[ev.AriEvent] = []

    async def handler(event: ev.AriEvent) -> None:
        seen.append(event)

    client.on_event(handler)
    with caplog.at_level(logging.INFO):
        await client._dispatch("{not json")
        await client._dispatch(json.dumps({"type": "StasisStart"}))
        await client._dispatch(json.dumps({"type": "ChannelDtmfReceived", "digit": "x",
                                           "channel": CHANNEL, "duration_ms": "long"}))
        await client._dispatch(json.dumps({"type": "BrandNewEvent"}))
        await client._dispatch(json.dumps({"type": "BrandNewEvent"}))
        await client._dispatch(json.dumps({"type": "StasisEnd", "channel": CHANNEL}))
    assert [type(e) for e in seen] == [ev.StasisEnd]
    assert caplog.text.count("malformed event skipped") == 3
    # An unknown type is mentioned once, not on every occurrence.
    assert caplog.text.count("BrandNewEvent is not handled") == 1
    await client.stop()
