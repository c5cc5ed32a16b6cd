"""Property: whatever arrives — odd paths, parameters, bodies, encodings — the API and the
portal answer below 500, and every API error is a spec-format error list with the same code.
Runs against a live server (real sockets, real parsing) on SQLite and PostgreSQL, which is the
stricter of the two (it rejects NUL bytes in text, for one)."""

from __future__ import annotations

import http.client
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_core.db import Database
from crm_core.services.contact_center import create_api_key
from ground.settings import Settings

from .conftest import LiveServer, make_app, tiny_png

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
PARAMS = [
    "service_code",
    "service_request_id",
    "status",
    "start_date",
    "end_date",
    "page",
    "page_size",
    "jurisdiction_id",
    "lat",
    "long",
    "address_string",
    "address_id",
    "description",
    "email",
    "phone",
    "first_name",
    "last_name",
    "media_url",
    "attribute[district]",
    "attribute[location_details]",
    "attribute[animal_aggressive]",
    "device_id",
    "api_key",
]
NASTY = st.sampled_from(
    [
        "",
        "0",
        "-1",
        "1e309",
        "NaN",
        "inf",
        "52.2297",
        "21.0122",
        "open",
        "closed",
        "open,closed",
        "roads.pothole",
        "Wola",
        "2026-01-01T00:00:00Z",
        "2026-13-45",
        "19115-2026-000001",
        "\x00",
        "\ud7ff",
        "' OR 1=1 --",
        "<x/>",
        "%00",
        "a" * 6000,
        "../../etc/passwd",
        "9" * 40,
    ]
)
VALUES = st.one_of(NASTY, st.text(max_size=80))
SEGMENTS = st.one_of(NASTY, st.text(min_size=1, max_size=40))


@pytest.fixture
def live(settings: Settings, crm: Database, tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    key = create_api_key(crm, "Fuzzer", rate_limit_per_min=10_000)[1]
    with LiveServer(make_app(settings, crm, tmp_path / "data")) as server:
        yield server, key


def request(
    server: LiveServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        conn.close()


def check_api_answer(status: int, content_type: str, body: bytes, fmt: str) -> None:
    assert status < 500, body[:300]
    assert b"Traceback" not in body
    if status < 400:
        return
    if content_type.startswith("text/plain") and status in (400, 413, 414, 431):
        # Rejected by aiohttp's HTTP parser (request line or headers too long) before any
        # application code runs: a protocol-level answer, still a 4xx.
        return
    if fmt == "xml" and "xml" in content_type:
        root = ET.fromstring(body)
        assert root.tag == "errors"
        assert [int(e.findtext("code") or 0) for e in root] == [status] * len(root)
    else:
        errors = json.loads(body)
        assert errors and all(e["code"] == status and e["description"] for e in errors)


def q(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


@FUZZ
@given(
    template=st.sampled_from(
        [
            "services.{f}",
            "services/{s}.{f}",
            "requests.{f}",
            "requests/{s}.{f}",
            "tokens/{s}.{f}",
            "{s}.{f}",
            "{s}",
            "openapi.json",
        ]
    ),
    fmt=st.sampled_from(["json", "xml"]),
    segment=SEGMENTS,
    params=st.dictionaries(st.one_of(st.sampled_from(PARAMS), st.text(max_size=10)), VALUES, max_size=6),
)
def test_get_never_fails_on_the_server(
    live: tuple[LiveServer, str], template: str, fmt: str, segment: str, params: dict[str, str]
) -> None:
    server, _ = live
    path = "/open311/v2/" + template.format(f=fmt, s=q(segment))
    query = urlencode(
        {k.encode("utf-8", "surrogatepass"): v.encode("utf-8", "surrogatepass") for k, v in params.items()}
    )
    status, content_type, body = request(server, "GET", f"{path}?{query}")
    check_api_answer(status, content_type, body, fmt)


@FUZZ
@given(
    fmt=st.sampled_from(["json", "xml"]),
    params=st.dictionaries(st.sampled_from(PARAMS), VALUES, max_size=12),
    valid_key=st.booleans(),
    base=st.booleans(),
    media=st.one_of(st.none(), st.binary(max_size=200), st.just(tiny_png())),
    encoding=st.sampled_from(["form", "multipart", "json", "garbage"]),
)
def test_post_never_fails_on_the_server(
    live: tuple[LiveServer, str],
    fmt: str,
    params: dict[str, str],
    valid_key: bool,
    base: bool,
    media: bytes | None,
    encoding: str,
) -> None:
    server, key = live
    fields = (
        {
            "service_code": "roads.pothole",
            "attribute[district]": "Wola",
            "description": "Dziura",
            "lat": "52.23",
            "long": "21.01",
        }
        if base
        else {}
    )
    fields.update(params)
    if valid_key:
        fields["api_key"] = key
    encoded = {k: v.encode("utf-8", "surrogatepass") for k, v in fields.items()}
    headers: dict[str, str] = {}
    if encoding == "form":
        body = urlencode(encoded).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif encoding == "multipart":
        boundary = "fuzzboundary7MA4YWxk"
        parts = [
            b"--"
            + boundary.encode()
            + b'\r\nContent-Disposition: form-data; name="'
            + k.encode()
            + b'"\r\n\r\n'
            + v
            + b"\r\n"
            for k, v in encoded.items()
        ]
        if media is not None:
            parts.append(
                b"--" + boundary.encode() + b'\r\nContent-Disposition: form-data; name="media"; '
                b'filename="x.png"\r\nContent-Type: image/png\r\n\r\n' + media + b"\r\n"
            )
        body = b"".join(parts) + b"--" + boundary.encode() + b"--\r\n"
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    elif encoding == "json":
        body = json.dumps(fields).encode("utf-8", "surrogatepass")
        headers["Content-Type"] = "application/json"
    else:
        body = media or b"\xff\xfe\x00garbage"
        headers["Content-Type"] = "multipart/form-data; boundary="
    status, content_type, answer = request(server, "POST", f"/open311/v2/requests.{fmt}", body, headers)
    check_api_answer(status, content_type, answer, fmt)


@FUZZ
@given(
    fields=st.dictionaries(
        st.sampled_from(
            [
                "category",
                "district",
                "address",
                "location_details",
                "lat",
                "lon",
                "description",
                "anonymous",
                "name",
                "email",
                "phone",
                "number",
                "secret",
            ]
        ),
        VALUES,
        max_size=10,
    ),
    path=st.sampled_from(["/portal/report", "/portal/track"]),
)
def test_portal_forms_never_fail_on_the_server(
    live: tuple[LiveServer, str], fields: dict[str, str], path: str
) -> None:
    server, _ = live
    fields = {**fields, "csrf": "t" * 43}
    encoded = {k: v.encode("utf-8", "surrogatepass") for k, v in fields.items()}
    status, _, body = request(
        server,
        "POST",
        path,
        urlencode(encoded).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "Cookie": "ckm_portal_csrf=" + "t" * 43},
    )
    assert status < 500, body[:300]
    assert b"Traceback" not in body
