"""``certops doctor``'s comparison of certops' wire fields with a tenant's service documents."""

from __future__ import annotations

from certops.lms import wire
from certops.lms.doctor import compare_service_document


def _schema(fields):
    return {"type": "object", "properties": {f: {"type": "string"} for f in fields}}


def _complete_document(service: str) -> dict:
    """A Swagger 2.0 document that documents every field certops uses on ``service``."""
    paths: dict = {}
    for use in wire.USED:
        if use.path.split("/")[1] != service:
            continue
        sub = use.path[len(f"/{service}/v1") :].replace("{id}", "{item_id}")
        params = [{"in": "query", "name": n, "type": "string"} for n in use.params]
        if use.body:
            params.append({"in": "body", "name": "body", "schema": {"$ref": "#/definitions/B"}})
        paths.setdefault(sub, {})[use.method.lower()] = {
            "parameters": params,
            "responses": {
                "200": {
                    "schema": {
                        "type": "object",
                        "properties": {"data": {"type": "array", "items": _schema(use.response)}},
                    }
                }
            },
        }
    body_fields = {f for u in wire.USED for f in u.body}
    return {
        "swagger": "2.0",
        "basePath": f"/{service}/v1",
        "paths": paths,
        "definitions": {"B": _schema(sorted(body_fields))},
    }


def test_a_document_with_every_field_has_no_mismatch():
    for service in ("learn", "manage", "course"):
        assert compare_service_document(service, _complete_document(service)) == []


def test_every_missing_field_and_endpoint_is_listed():
    doc = _complete_document("course")
    operation = doc["paths"]["/courses/enrollments"]["get"]
    operation["parameters"] = [p for p in operation["parameters"] if p["name"] != "cursor"]
    items = operation["responses"]["200"]["schema"]["properties"]["data"]["items"]
    del items["properties"]["enrollment_status"]
    problems = compare_service_document("course", doc)
    assert problems == [
        "GET /course/v1/courses/enrollments: query parameter 'cursor' not documented",
        "GET /course/v1/courses/enrollments: response field 'enrollment_status' not documented",
    ]
    learn = _complete_document("learn")
    del learn["paths"]["/enrollment/batch"]
    assert "POST /learn/v1/enrollment/batch: endpoint not in the document" in (
        compare_service_document("learn", learn)
    )


def test_a_document_that_is_not_swagger_is_reported():
    assert "not a Swagger 2.0 document" in compare_service_document("learn", {"openapi": "3"})[0]
