"""The OpenAPI 3.1 description of the GeoReport v2 API as this server implements it."""

from __future__ import annotations

from typing import Any

from crm_core.warsaw import DISTRICTS

_ERR = {"$ref": "#/components/schemas/Errors"}


def _param(
    name: str, where: str, schema: dict[str, Any], description: str, required: bool = False
) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema, "description": description}


def _responses(ok: dict[str, Any], codes: tuple[int, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "200": {
            "description": "OK",
            "content": {"application/json": {"schema": ok}, "text/xml": {"schema": {"type": "string"}}},
        },
    }
    for code in (*codes, 414, 429):
        out[str(code)] = {
            "description": "error",
            "content": {"application/json": {"schema": _ERR}, "text/xml": {"schema": {"type": "string"}}},
        }
    return out


def document(page_size_max: int) -> dict[str, Any]:
    nullable_str = {"type": ["string", "null"]}
    request_schema = {
        "type": "object",
        "required": ["service_request_id", "status", "service_code", "requested_datetime"],
        "properties": {
            "service_request_id": {"type": "string"},
            "status": {"enum": ["open", "closed"]},
            "status_notes": nullable_str,
            "service_name": {"type": "string"},
            "service_code": {"type": "string"},
            "description": {"type": "string"},
            "agency_responsible": nullable_str,
            "service_notice": nullable_str,
            "requested_datetime": {"type": "string", "format": "date-time"},
            "updated_datetime": {"type": "string", "format": "date-time"},
            "expected_datetime": nullable_str,
            "address": nullable_str,
            "address_id": nullable_str,
            "zipcode": nullable_str,
            "lat": {"type": ["number", "null"]},
            "long": {"type": ["number", "null"]},
            "media_url": nullable_str,
            "extended_attributes": {
                "type": "object",
                "description": "with extensions=true: detailed_status, the case's own status",
                "properties": {"detailed_status": {
                    "enum": ["NEW", "FORWARDED", "IN_PROGRESS", "RESOLVED", "REJECTED", "CLOSED"]}},
            },
        },
    }
    extensions = _param("extensions", "query", {"type": "string"},
                        "true: extended_attributes with detailed_status (extension)")
    paths: dict[str, Any] = {}
    for fmt in ("json", "xml"):
        paths[f"/services.{fmt}"] = {
            "get": {
                "operationId": f"services_{fmt}",
                "summary": "Service list",
                "responses": _responses(
                    {"type": "array", "items": {"$ref": "#/components/schemas/Service"}}, ()
                ),
            }
        }
        paths[f"/services/{{service_code}}.{fmt}"] = {
            "get": {
                "operationId": f"service_definition_{fmt}",
                "summary": "Service definition (attributes)",
                "parameters": [
                    _param("service_code", "path", {"type": "string"}, "e.g. roads.pothole", True)
                ],
                "responses": _responses({"$ref": "#/components/schemas/ServiceDefinition"}, (400, 404)),
            }
        }
        paths[f"/requests.{fmt}"] = {
            "get": {
                "operationId": f"get_requests_{fmt}",
                "summary": "Service requests (public fields only)",
                "parameters": [
                    _param("service_request_id", "query", {"type": "string"}, "comma-separated ids"),
                    _param("service_code", "query", {"type": "string"}, "comma-separated codes"),
                    _param("start_date", "query", {"type": "string", "format": "date-time"}, "W3C"),
                    _param("end_date", "query", {"type": "string", "format": "date-time"}, "W3C"),
                    _param(
                        "status",
                        "query",
                        {"type": "string", "enum": ["open", "closed", "open,closed"]},
                        "open or closed",
                    ),
                    _param("page", "query", {"type": "integer", "minimum": 1}, "pagination extension"),
                    _param(
                        "page_size",
                        "query",
                        {"type": "integer", "minimum": 1, "maximum": page_size_max},
                        "pagination extension",
                    ),
                    extensions,
                ],
                "responses": _responses({"type": "array", "items": request_schema}, (400,)),
            },
            "post": {
                "operationId": f"post_request_{fmt}",
                "summary": "Create a service request",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {"$ref": "#/components/schemas/NewRequest"}
                        },
                        "multipart/form-data": {"schema": {"$ref": "#/components/schemas/NewRequest"}},
                    },
                },
                "responses": _responses(
                    {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "service_request_id": {"type": "string"},
                                "token": {"type": "string"},
                                "service_notice": nullable_str,
                                "account_id": nullable_str,
                            },
                        },
                    },
                    (400, 403, 404, 413, 415),
                ),
            },
        }
        paths[f"/requests/{{service_request_id}}.{fmt}"] = {
            "get": {
                "operationId": f"get_request_{fmt}",
                "summary": "One service request",
                "parameters": [
                    _param("service_request_id", "path", {"type": "string"}, "19115-2026-000123", True),
                    extensions,
                ],
                "responses": _responses({"type": "array", "items": request_schema}, (400, 404)),
            }
        }
        paths[f"/tokens/{{token}}.{fmt}"] = {
            "get": {
                "operationId": f"token_{fmt}",
                "summary": "service_request_id for a token",
                "parameters": [_param("token", "path", {"type": "string"}, "token from POST requests", True)],
                "responses": _responses(
                    {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "service_request_id": {"type": "string"},
                                "token": {"type": "string"},
                            },
                        },
                    },
                    (400, 404),
                ),
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Warszawa 19115 — Open311 GeoReport v2",
            "version": "2",
            "description": "GeoReport v2 with the page/page_size pagination extension. Contact "
            "details sent with a request are never returned.",
        },
        "servers": [{"url": "/open311/v2"}],
        "paths": paths,
        "components": {
            "schemas": {
                "Errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["code", "description"],
                        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
                    },
                },
                "Service": {
                    "type": "object",
                    "required": ["service_code", "service_name", "metadata", "type"],
                    "properties": {
                        "service_code": {"type": "string"},
                        "service_name": {"type": "string"},
                        "description": {"type": "string"},
                        "metadata": {"type": "boolean"},
                        "type": {"enum": ["realtime", "batch", "blackbox"]},
                        "keywords": {"type": "string"},
                        "group": {"type": "string"},
                    },
                },
                "ServiceDefinition": {
                    "type": "object",
                    "required": ["service_code", "attributes"],
                    "properties": {
                        "service_code": {"type": "string"},
                        "attributes": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "NewRequest": {
                    "type": "object",
                    "required": ["api_key", "service_code", "attribute[district]"],
                    "properties": {
                        "api_key": {"type": "string"},
                        "service_code": {"type": "string"},
                        "lat": {"type": "number"},
                        "long": {"type": "number"},
                        "address_string": {"type": "string"},
                        "email": {"type": "string"},
                        "phone": {"type": "string"},
                        "first_name": {"type": "string"},
                        "last_name": {"type": "string"},
                        "description": {
                            "type": "string",
                            "maxLength": 4000,
                            "description": "optional unless the service's definition has the "
                            "description_required note",
                        },
                        "jurisdiction_id": {"type": "string", "description": "um.warszawa.pl or empty"},
                        "attribute[district]": {"enum": list(DISTRICTS)},
                        "attribute[location_details]": {"type": "string", "maxLength": 500},
                        "media": {
                            "type": "string",
                            "format": "binary",
                            "description": "JPEG, PNG or WebP photo (multipart only)",
                        },
                        "device_id": {"type": "string"},
                        "account_id": {"type": "string"},
                    },
                },
            }
        },
    }
