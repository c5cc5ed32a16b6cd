"""GeoReport v2 as clients written elsewhere use it: description optional unless the service
says so, jurisdiction_id checked the same wherever it is sent, 405 with Allow, the discovery
document, errors worded for people (never an exception's name), form encoding asked for by
name, the spec's 4,000-character description and 414 for oversize URLs, in the error format."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient

from crm_core.db import Database
from crm_core.models import Case

from .conftest import tiny_png
from .test_open311_conformance import FORMATS, post, report, rows

Client = TestClient[Any, Any]


def case_count(crm: Database) -> int:
    with crm.reading() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Case)) or 0


def errors_of(fmt: str, text: str, status: int) -> list[str]:
    found = rows(fmt, text, "errors", "error")
    assert found and all(int(e["code"]) == status for e in found), text
    return [e["description"] for e in found]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_request_without_description_is_accepted(client: Client, crm: Database, api_key: str,
                                                         fmt: str) -> None:
    response = await post(client, fmt, api_key, description=None)
    assert response.status == 200, await response.text()
    [posted] = rows(fmt, await response.text(), "service_requests", "request")
    [one] = await (await client.get(f"/open311/v2/requests/{posted['service_request_id']}.json")).json()
    assert one["description"] == "Dziura w jezdni (zgłoszenie bez opisu)"


async def test_a_service_that_needs_a_description_says_so_and_refuses_none(
    client: Client, crm: Database, api_key: str
) -> None:
    definition = await (await client.get("/open311/v2/services/other.complaint.json")).json()
    note = next(a for a in definition["attributes"] if a["code"] == "description_required")
    assert note["variable"] is False and "opisu" in note["description"]
    pothole = await (await client.get("/open311/v2/services/roads.pothole.json")).json()
    assert all(a["code"] != "description_required" for a in pothole["attributes"])
    before = case_count(crm)
    refused = await post(client, "json", api_key, service_code="other.complaint", description=None)
    assert refused.status == 400
    assert any(m.startswith("description: required") for m in errors_of("json", await refused.text(), 400))
    assert case_count(crm) == before


@pytest.mark.parametrize("fmt", FORMATS)
async def test_jurisdiction_id_is_checked_in_the_body_as_in_the_query(
    client: Client, crm: Database, api_key: str, fmt: str
) -> None:
    before = case_count(crm)
    for response in (
        await post(client, fmt, api_key, jurisdiction_id="krakow.pl"),
        await client.post(f"/open311/v2/requests.{fmt}?jurisdiction_id=krakow.pl",
                          data={"api_key": api_key, **report()}),
        # A wrong city is refused before the key is even looked at.
        await post(client, fmt, "not-a-key", jurisdiction_id="krakow.pl"),
    ):
        assert response.status == 404
        assert "jurisdiction_id" in errors_of(fmt, await response.text(), 404)[0]
    assert case_count(crm) == before
    assert (await post(client, fmt, api_key, jurisdiction_id="um.warszawa.pl")).status == 200
    assert (await post(client, fmt, api_key, jurisdiction_id="")).status == 200  # empty = absent
    assert (await client.get(f"/open311/v2/services.{fmt}?jurisdiction_id=")).status == 200
    assert (await client.get(f"/open311/v2/requests.{fmt}?jurisdiction_id=&status=open")).status == 200
    assert case_count(crm) == before + 2


@pytest.mark.parametrize("fmt", FORMATS)
async def test_405_names_the_allowed_methods(client: Client, fmt: str) -> None:
    response = await client.delete(f"/open311/v2/requests.{fmt}")
    assert response.status == 405
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}
    assert "allowed: " in errors_of(fmt, await response.text(), 405)[0]
    response = await client.put(f"/open311/v2/services.{fmt}")
    assert response.status == 405 and "POST" not in response.headers["Allow"]
    assert "GET" in response.headers["Allow"]


async def test_discovery_document_in_json_and_xml(client: Client) -> None:
    response = await client.get("/open311/discovery.json")
    assert response.status == 200 and response.content_type == "application/json"
    doc = await response.json()
    assert set(doc) == {"changeset", "contact", "key_service", "endpoints"}
    assert doc["contact"] and doc["key_service"]
    [endpoint] = doc["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["type"] == "production" and endpoint["changeset"] == doc["changeset"]
    assert set(endpoint["formats"]) == {"application/json", "text/xml"}
    base = str(client.make_url("/open311/v2"))
    assert endpoint["url"] == base
    assert (await client.get(endpoint["url"].removeprefix(str(client.make_url("")).rstrip("/"))
                             + "/services.json")).status == 200

    response = await client.get("/open311/discovery.xml")
    assert response.status == 200 and response.content_type == "text/xml"
    top = ET.fromstring(await response.text())
    assert top.tag == "discovery" and top.findtext("changeset") == doc["changeset"]
    [node] = top.findall("endpoints/endpoint")
    assert node.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
    assert node.findtext("url") == base and node.findtext("type") == "production"
    assert {f.text for f in node.findall("formats/format")} == {"application/json", "text/xml"}
    missing = await client.get("/open311/discovery.html")
    assert missing.status == 404 and json.loads(await missing.text())[0]["code"] == 404
    refused = await client.post("/open311/discovery.json")
    assert refused.status == 405 and "GET" in refused.headers["Allow"]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_error_texts_are_worded_for_people(client: Client, crm: Database, api_key: str,
                                                 fmt: str) -> None:
    url = f"/open311/v2/requests.{fmt}"
    bad_utf8 = await client.post(url, data=b"api_key=" + api_key.encode() + b"&description=\xff\xfe",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    broken = await client.post(url, data=b"--nope\r\nContent-Disposition: form-data\r\n\r\nx",
                               headers={"Content-Type": "multipart/form-data; boundary=other"})
    for response in (bad_utf8, broken):
        text = await response.text()
        assert response.status == 400, text
        assert "Error" not in text and "Exception" not in text  # no UnicodeDecodeError & co.
    assert "UTF-8" in errors_of(fmt, await bad_utf8.text(), 400)[0]

    before = case_count(crm)
    as_json = await client.post(url, json={"api_key": api_key, **report()})
    assert as_json.status == 415
    [message] = errors_of(fmt, await as_json.text(), 415)
    assert "form-encoded" in message and "application/x-www-form-urlencoded" in message
    assert "multipart/form-data" in message and "api_key" not in message
    assert case_count(crm) == before


@pytest.mark.parametrize("fmt", FORMATS)
async def test_descriptions_over_4000_characters_are_refused(client: Client, crm: Database, api_key: str,
                                                             fmt: str) -> None:
    before = case_count(crm)
    refused = await post(client, fmt, api_key, description="d" * 4001)
    assert refused.status == 400
    assert "description: at most 4000 characters (got 4001)" in errors_of(fmt, await refused.text(), 400)
    assert case_count(crm) == before
    assert (await post(client, fmt, api_key, description="d" * 4000)).status == 200


@pytest.mark.parametrize("fmt", FORMATS)
async def test_oversize_urls_answer_414_in_the_error_format(client: Client, fmt: str) -> None:
    response = await client.get(f"/open311/v2/requests.{fmt}?service_code=" + "a" * 9000)
    assert response.status == 414
    assert "too long" in errors_of(fmt, await response.text(), 414)[0]
    # Just under the limit the API answers as usual (a 400 for the bad code here).
    response = await client.get(f"/open311/v2/requests.{fmt}?service_code=" + "a" * 8000)
    assert response.status == 400


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_body_over_the_servers_limit_answers_in_the_error_format(
    client: Client, crm: Database, api_key: str, fmt: str
) -> None:
    before = case_count(crm)
    response = await post(client, fmt, api_key, photo=tiny_png() + b"\0" * (13 * 1024 * 1024))
    assert response.status == 413
    assert "at most 5 MB" in errors_of(fmt, await response.text(), 413)[0]
    assert case_count(crm) == before
