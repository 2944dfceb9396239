"""``certops doctor``'s comparison of certops' wire fields with a tenant's service documents."""

from __future__ import annotations

import asyncio

import httpx

from certops.address import parse_address
from certops.connection import connect_reader
from certops.lms import Credentials
from certops.lms.doctor import Outcome, compare_service_document, run_checks
from certops.lms.manifest import USED


def _leaf(name: str) -> str:
    """``items[].active_until`` → ``active_until`` (documents list flat property names)."""
    return name.rsplit(".", 1)[-1].removesuffix("[]")


def _schema(fields):
    return {"type": "object", "properties": {_leaf(f): {"type": "string"} for f in fields}}


def _complete_document(service: str) -> dict:
    """A Swagger 2.0 document that documents every field certops uses on ``service``."""
    paths: dict = {}
    for use in USED:
        if use.path.split("/")[1] != service:
            continue
        sub = use.path[len(f"/{service}/v1") :].replace("{id}", "{item_id}")
        params = [{"in": "query", "name": _leaf(n), "type": "string"} for n in use.params]
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
    body_fields = {f for u in USED for f in u.body}
    return {
        "swagger": "2.0",
        "basePath": f"/{service}/v1",
        "paths": paths,
        "definitions": {"B": _schema(sorted(body_fields))},
    }


def test_a_document_with_every_field_has_no_mismatch():
    for service in ("learn", "manage", "course", "audiences"):
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


def _tenant_publishing_documents() -> httpx.MockTransport:
    """A stand-in tenant that publishes its service documents (the sandbox does not)."""
    learn = _complete_document("learn")
    del learn["paths"]["/courses/{item_id}"]["get"]["responses"]["200"]["schema"]["properties"][
        "data"
    ]["items"]["properties"]["in_soft_deadline"]
    documents = {
        "/learn/v1/swagger.json": learn,
        "/manage/v1/swagger.json": _complete_document("manage"),
    }
    empty = {"data": {"items": [], "has_more_data": False}}
    admin = {"user_id": "1", "username": "api-admin", "level": "3", "status": "1"}

    def route(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "tok-1", "expires_in": 3600})
        if path == "/manage/v1/site/microservices":
            base = "https://acme.docebosaas.com"
            return httpx.Response(
                200,
                json={
                    "data": [
                        {"app": "learn", "url": f"{base}/learn/v1/swagger.json"},
                        {"app": "manage", "url": f"{base}/manage/v1/swagger.json"},
                        {"app": "course", "url": "https://docs.elsewhere.example/course.json"},
                    ]
                },
            )
        if path in documents:
            return httpx.Response(200, json=documents[path])
        if path == "/manage/v1/user":
            return httpx.Response(200, json={"data": {"items": [admin], "has_more_data": False}})
        return httpx.Response(200, json=empty)

    return httpx.MockTransport(route)


def test_doctor_lists_every_mismatch_with_published_documents():
    def connector(address):
        return connect_reader(
            address,
            transport=_tenant_publishing_documents(),
            credentials=Credentials("app", "app-secret-1", "api-admin", "pw-secret-2"),
        )

    checks = asyncio.run(
        run_checks(parse_address("https://acme.docebosaas.com"), connector=connector)
    )
    by_name = {c.name: c for c in checks}
    learn = by_name["service document: learn"]
    assert learn.outcome is Outcome.FAIL
    assert (
        "GET /learn/v1/courses/{id}: response field 'in_soft_deadline' not documented"
        in learn.detail
    )
    assert by_name["service document: manage"].outcome is Outcome.OK
    assert by_name["service document: course"].outcome is Outcome.SKIPPED  # token stays home
    assert by_name["write permissions"].outcome is Outcome.OK
    assert all(c.outcome is Outcome.OK for n, c in by_name.items() if n.startswith("read "))
