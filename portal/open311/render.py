"""GeoReport v2 bodies. JSON is a list of objects; XML wraps the same fields in the spec's
root/item elements (services/service, service_requests/request, errors/error). Times are
W3C date-times in Warsaw's offset, as a resident reads them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

from aiohttp import web

from portal.fields import WARSAW

Row = dict[str, Any]
JSON_TYPE = "application/json"
XML_TYPE = "text/xml"


def w3c(moment: datetime | None) -> str | None:
    return moment.astimezone(WARSAW).isoformat(timespec="seconds") if moment is not None else None


def _xml_value(parent: ET.Element, name: str, value: Any, item_names: dict[str, str]) -> None:
    element = ET.SubElement(parent, name)
    if value is None:
        return
    if isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, list):
        child_name = item_names.get(name, "item")
        for item in value:
            if not isinstance(item, dict):
                _xml_value(element, child_name, item, item_names)
                continue
            node = ET.SubElement(element, child_name)
            for key, sub in item.items():
                _xml_value(node, key, sub, item_names)
    elif isinstance(value, dict):  # extended_attributes
        for key, sub in value.items():
            _xml_value(element, key, sub, item_names)
    else:
        element.text = str(value)


def xml_document(root: str, item: str | None, rows: list[Row] | Row) -> bytes:
    # In a service definition, `attributes` holds <attribute> and `values` holds <value>.
    # In discovery, `endpoints` holds <endpoint> and `formats` holds <format>.
    item_names = {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format"}
    top = ET.Element(root)
    if item is None:
        assert isinstance(rows, dict)
        for key, value in rows.items():
            _xml_value(top, key, value, item_names)
    else:
        assert isinstance(rows, list)
        for row in rows:
            node = ET.SubElement(top, item)
            for key, value in row.items():
                _xml_value(node, key, value, item_names)
    body: bytes = ET.tostring(top, encoding="utf-8", xml_declaration=True)
    return body


def respond(fmt: str, root: str, item: str | None, rows: list[Row] | Row, status: int = 200,
            headers: dict[str, str] | None = None) -> web.Response:
    if fmt == "xml":
        return web.Response(body=xml_document(root, item, rows), status=status,
                            content_type=XML_TYPE, charset="utf-8", headers=headers)
    return web.Response(text=json.dumps(rows, ensure_ascii=False), status=status,
                        content_type=JSON_TYPE, charset="utf-8", headers=headers)


def errors(fmt: str, status: int, messages: list[str], headers: dict[str, str] | None = None) -> web.Response:
    rows: list[Row] = [{"code": status, "description": m} for m in messages]
    return respond(fmt, "errors", "error", rows, status=status, headers=headers)
