"""ckm as an Open311 (GeoReport v2) client of a department's own server.

Three calls, JSON format: POST `requests.json` (form-encoded; multipart when a photo goes
along as `media`), GET `tokens/{token}.json` (a server may answer a POST with a token and give
the id later) and GET `requests/{id}.json`. Answers are parsed here, once, into typed values;
anything else is a `RemoteError` saying what was expected and what came, marked permanent when
retrying cannot help (a 4xx other than 408/429: the server refuses this request).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from crm_core.forwarding.rules import is_permanent_http


class RemoteError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        self.permanent = permanent
        super().__init__(message)


@dataclass(frozen=True)
class Posted:
    service_request_id: str | None
    token: str | None


@dataclass(frozen=True)
class RemoteRequest:
    service_request_id: str
    status: str
    status_notes: str | None
    agency_responsible: str | None
    updated_datetime: str | None
    # The server's own status, when it speaks the extended attributes extension (another ckm
    # does: its case status in capitals, REJECTED for a refusal).
    detailed_status: str | None = None


@dataclass(frozen=True)
class Photo:
    data: bytes
    filename: str
    content_type: str


def _errors_text(body: Any) -> str:
    if isinstance(body, list):
        texts = [f"{e.get('code')}: {e.get('description')}" for e in body if isinstance(e, dict)]
        if texts:
            return "; ".join(texts)
    return json.dumps(body, ensure_ascii=False)[:300]


def _first_row(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, list) or not body or not isinstance(body[0], dict):
        raise RemoteError(f"{what}: expected a JSON list of one object, got {str(body)[:200]!r}")
    row: dict[str, Any] = body[0]
    return row


def _text(value: Any, limit: int = 100) -> str | None:
    if value is None or value == "":
        return None
    return str(value)[:limit]


class Open311Client:
    def __init__(self, *, timeout_s: float = 15.0) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, url: str, what: str, **kwargs: Any) -> Any:
        try:
            async with self._http().request(method, url, **kwargs) as resp:
                raw = await resp.text()
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw[:300]
                if resp.status != 200:
                    raise RemoteError(f"{what}: HTTP {resp.status}: {_errors_text(body)}",
                                      permanent=is_permanent_http(resp.status))
                return body
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise RemoteError(f"{what}: {type(exc).__name__} {exc}".strip()) from exc

    async def post_request(self, endpoint: str, fields: dict[str, str],
                           photo: Photo | None = None) -> Posted:
        url = f"{endpoint.rstrip('/')}/requests.json"
        data: aiohttp.FormData | dict[str, str]
        if photo is not None:
            data = aiohttp.FormData()
            for name, value in fields.items():
                data.add_field(name, value)
            data.add_field("media", photo.data, filename=photo.filename, content_type=photo.content_type)
        else:
            data = fields
        row = _first_row(await self._call("POST", url, "POST requests.json", data=data),
                         "POST requests.json")
        posted = Posted(_text(row.get("service_request_id")), _text(row.get("token")))
        if posted.service_request_id is None and posted.token is None:
            raise RemoteError(f"POST requests.json: neither service_request_id nor token in {row!r}"[:300])
        return posted

    async def id_for_token(self, endpoint: str, token: str) -> str | None:
        """The request id a token stands for; None while the server has not made one yet."""
        url = f"{endpoint.rstrip('/')}/tokens/{quote(token, safe='')}.json"
        try:
            body = await self._call("GET", url, "GET tokens")
        except RemoteError as exc:
            if "HTTP 404" in str(exc):
                return None
            raise
        return _text(_first_row(body, "GET tokens").get("service_request_id"))

    async def get_request(self, endpoint: str, request_id: str) -> RemoteRequest:
        # extensions=true asks for the extended attributes; a server without them ignores it.
        url = f"{endpoint.rstrip('/')}/requests/{quote(request_id, safe='')}.json?extensions=true"
        row = _first_row(await self._call("GET", url, "GET requests/{id}"), "GET requests/{id}")
        extended = row.get("extended_attributes")
        detailed = extended.get("detailed_status") if isinstance(extended, dict) else None
        status = _text(row.get("status"), 20)
        if status is None:
            raise RemoteError(f"GET requests/{request_id}: no status in {row!r}"[:300])
        return RemoteRequest(
            service_request_id=_text(row.get("service_request_id")) or request_id,
            status=status.lower(),
            status_notes=_text(row.get("status_notes"), 4000),
            agency_responsible=_text(row.get("agency_responsible"), 200),
            updated_datetime=_text(row.get("updated_datetime"), 40),
            detailed_status=_text(detailed, 20),
        )
