"""Contract tests: certops' Docebo client against the public record, not against itself.

``fixtures/responses`` holds answers built from public evidence (each names its source and
how it was obtained); they run through the client's real parsers. ``fixtures/requests``
lists, per endpoint, the fields the record supports; every request the real client sends
during a whole demo apply, a rollover and a write probe (recorded on the wire) must use only
those, and never a name an earlier certops used that the record does not support. A field
name reintroduced without evidence fails here.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from certops.address import parse_address
from certops.apply import Executor
from certops.config import load_config
from certops.connection import connect_writer
from certops.listen.envelope import parse_delivery
from certops.live import read_live
from certops.lms import Credentials, wire
from certops.lms.manifest import USED
from certops.lms.paths import path_template
from certops.lms.records import EnrollmentPolicy, EnrollmentStatus
from certops.plan.ack import AckFile
from certops.probe import write_probe
from certops.run import build_plan
from certops.sandbox import create_app, init_sandbox
from certops.sandbox.transport import SandboxTransport, sandbox_credentials

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = Path(__file__).parents[3] / "examples"


def _fixtures(kind: str) -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((FIXTURES / kind).glob("*.json"))
    }


RESPONSES = _fixtures("responses")
REQUESTS = _fixtures("requests")


def test_every_fixture_names_its_source_and_how_it_was_obtained():
    assert RESPONSES and REQUESTS
    for name, fixture in RESPONSES.items():
        assert fixture["source"] and fixture["endpoint"], name
        assert fixture["obtained"] in ("recorded", "schema-derived", "reconstructed"), name
    for name, fixture in REQUESTS.items():
        assert fixture["source"] and fixture["documented_fields"], name


# --- responses through the real parsers -------------------------------------------------


def _body(name: str) -> Any:
    return RESPONSES[name]["response"]


def _items(name: str) -> list[dict[str, Any]]:
    return wire.list_page(_body(name), RESPONSES[name]["endpoint"]).items


def test_user_list_and_session():
    users = [wire.user_from_item(i, "GET users") for i in _items("user_list")]
    assert users and all(u.id > 0 and u.username for u in users)
    me = wire.session_user(_body("user_session"), "GET session")
    assert me.id > 0 and me.username


def test_course_list_and_detail():
    courses = [wire.course_from_item(i, "GET courses") for i in _items("course_list")]
    assert courses and all(c.id > 0 and c.code for c in courses)
    # The list's can_self_unenroll is the caller's right: never read as the setting.
    assert all("self_unenrollment" in c.unread for c in courses)
    detail = wire.course_from_detail(wire.data_of(_body("course_detail"), "GET"), "GET detail")
    assert detail.id > 0 and detail.code
    # Visibility is not in the public detail view: unread, never diffed.
    assert "visible_only_to_enrolled" in detail.unread
    assert detail.settings.visible_only_to_enrolled is None
    data = _body("course_detail")["data"]
    assert detail.settings.self_unenrollment is bool(
        data["self_unenrollment_settings"]["allow_self_unenrollment_from_course"]
    )
    assert detail.settings.published is bool(data["is_published"])
    assert isinstance(detail.settings.enrollment_policy, EnrollmentPolicy)
    assert wire.created_id(_body("course_create"), "id_course", "POST courses") > 0


def test_a_course_list_with_epoch_millisecond_dates():
    # Every date shape reads; the list is never where a managed course's dates are taken.
    courses = [wire.course_from_item(i, "GET courses") for i in _items("course_list_epoch_ms")]
    assert [(c.id, c.code) for c in courses] == [(1, "IT_TEST_01"), (2, "FLS-2026")]
    first = courses[0].settings
    assert first.date_begin == datetime(2023, 9, 1, 16, 41, 40, 594000, tzinfo=UTC)
    assert first.date_end is not None and first.date_end.year == 2026
    assert courses[1].settings.date_begin is None and courses[1].settings.date_end is None


def test_catalog_reads_name_courses_learning_course_type():
    catalog = wire.catalog_from_item(_items("catalog_list")[0], "GET catalogs")
    items = [
        wire.catalog_item_from(i, catalog, "GET items")
        for i in _items("catalog_items_learning_course_type")
    ]
    assert [(i.item_code, i.item_type) for i in items] == [
        ("FLS-2026", "course"),
        ("FLS-2026", "learning_plan"),
    ]


def test_a_grouped_webhook_delivery_is_one_event_per_payload():
    delivery = parse_delivery(json.dumps(_body("webhook_grouped")).encode())
    base = _body("webhook_grouped")["message_id"]
    assert [(e.message_id, e.user_id, e.course_id) for e in delivery.events] == [
        (f"{base}#0", 1001, 512),
        (f"{base}#1", 1002, 512),
    ]


def test_catalogs_and_batch_rows():
    catalogs = [wire.catalog_from_item(i, "GET catalogs") for i in _items("catalog_list")]
    assert catalogs and all(c.code for c in catalogs)
    items = [wire.catalog_item_from(i, catalogs[0], "GET items") for i in _items("catalog_items")]
    assert items and all(i.item_code for i in items)
    for name in ("catalog_batch_rows", "catalog_items_batch_rows", "enrollment_batch_rows"):
        rows = wire.batch_rows(_body(name), name)
        assert rows and all(isinstance(r.success, bool) for r in rows), name


def test_audiences():
    listed = [wire.group_from_item(i, "GET audiences") for i in _items("audience_list")]
    assert listed and all(isinstance(g.id, str) and len(g.id) == 36 for g in listed)
    detail = wire.group_from_detail(
        wire.data_of(_body("audience_detail"), "GET"), {512: "FL-101"}.get, "GET detail"
    )
    assert detail.automatic and detail.exclude_deactivated and detail.rules_operator == "ANY"
    # certops' rule reads as the course code; the admin's branch rule is kept verbatim.
    assert detail.rules[0].completed_all == ("FL-101",)
    assert detail.rules[1].completed_all[0].startswith("BranchMembership=")
    assert wire.created_uuid(_body("audience_create"), "POST audiences")


@pytest.mark.parametrize("name", ["enrollment_list_date", "enrollment_list_datetime"])
def test_enrollment_lists_in_either_validity_suffix(name):
    enrollments = [wire.enrollment_from_item(i, name) for i in _items(name)]
    assert enrollments
    windowed = [e for e in enrollments if e.valid_until is not None]
    assert windowed, "the fixture shows a validity window"
    # The inclusive last second D 23:59:59 reads as the exclusive instant D+1 00:00:00Z.
    assert all(e.valid_until.time() == datetime.min.time() for e in windowed)
    assert all(isinstance(e.status, EnrollmentStatus) for e in enrollments)


@pytest.mark.parametrize("name", ["enrollment_multi_update", "enrollment_multi_update_strings"])
def test_multi_update_answers_never_raise_after_a_write(name):
    answer = wire.update_answer(_body(name), name)
    assert answer.updated, "some pairs were updated"
    assert answer.failed and all(answer.failed.values()), "not-updated pairs carry a message"


@pytest.mark.parametrize("name", ["error_yii", "error_audiences", "error_oauth"])
def test_error_bodies_give_a_message(name):
    message, _field = wire.error_detail(_body(name))
    assert message


def test_token_answer_has_what_the_client_reads():
    token = _body("token")
    assert token["access_token"] and int(token["expires_in"]) > 0


# --- requests on the wire ---------------------------------------------------------------


def _dotted(value: Any, prefix: str = "") -> set[str]:
    """Every field name in a JSON body, nested with dots and list members with ``[]``."""
    names: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            names.add(name)
            names |= _dotted(inner, name)
    elif isinstance(value, list):
        for inner in value:
            names |= _dotted(inner, prefix + "[]")
    return names


def _query_names(query: str) -> set[str]:
    return {key.removesuffix("[]") for key, _ in parse_qsl(query, keep_blank_values=True)}


def _record_wire(tmp: Path) -> dict[str, set[str]]:
    """Run the demo story through the real client, recording every request certops
    sends: ``{"METHOD /path/template": field names}`` (query parameters and body fields)."""
    db = tmp / "sandbox.db"
    init_sandbox(db, demo=True)
    conf = tmp / "conf"
    shutil.copytree(EXAMPLES, conf, ignore=shutil.ignore_patterns("README.md"))
    app = create_app(db)
    sent: dict[str, set[str]] = defaultdict(set)

    async def recording(scope, receive, send):
        if scope["type"] == "http" and not scope["path"].startswith("/_sandbox"):
            body = b""
            more = True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
            key = f"{scope['method']} {path_template(scope['path'])}"
            sent[key] |= _query_names(scope.get("query_string", b"").decode())
            if body and scope["path"] != "/oauth2/token":
                sent[key] |= _dotted(json.loads(body))

            async def replay():
                return {"type": "http.request", "body": body, "more_body": False}

            return await app(scope, replay, send)
        return await app(scope, receive, send)

    credentials: Credentials = sandbox_credentials(str(db))

    async def story() -> None:
        config = load_config([str(conf)])
        for at in (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC)):
            connection = connect_writer(
                parse_address(f"sandbox:{db}"),
                transport=SandboxTransport(recording),
                credentials=credentials,
            )
            async with connection as writer:
                live = await read_live(writer, config)
                planned = build_plan(config, live, at, AckFile.load(conf / ".certops-ack.yaml"))
                report = await Executor(writer).run(planned.plan.changes)
                assert report.ok, report.summary()
        # Writes the demo never needs: a catalog, and a change of a group's rules.
        async with connect_writer(
            parse_address(f"sandbox:{db}"),
            transport=SandboxTransport(recording),
            credentials=credentials,
        ) as writer:
            await writer.create_catalog("CONTRACT-CAT", "Contract catalog")
            group = next(g for g in await writer.list_groups() if g.automatic)
            full = await writer.get_group(group.id)
            await writer.update_group(group.id, full.description, full.rules[:1], "ALL")
        for _ in range(2):  # create, then update the probe and move its enrollment window
            connection = connect_writer(
                parse_address(f"sandbox:{db}"),
                transport=SandboxTransport(recording),
                credentials=credentials,
            )
            async with connection as writer:
                checks = await write_probe(writer)
                assert not any(c.failed for c in checks), checks

    asyncio.run(story())
    return sent


@pytest.fixture(scope="module")
def wire_requests(tmp_path_factory) -> dict[str, set[str]]:
    return _record_wire(tmp_path_factory.mktemp("contract"))


def _endpoint_key(endpoint: str) -> str:
    method, path = endpoint.split(" ", 1)
    return f"{method} {path.replace('{uuid}', '{id}')}"


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_the_client_sends_only_documented_fields(wire_requests, name):
    fixture = REQUESTS[name]
    key = _endpoint_key(fixture["endpoint"])
    allowed = set(fixture["documented_fields"]) | set(fixture.get("assumed_fields", []))
    allowed |= {f.removesuffix("[]") for f in allowed}
    if name == "token":
        # Not recorded (it carries secrets): both grants' forms, as the client builds them.
        sent = set(Credentials("id", "secret").token_form())
        sent |= set(Credentials("id", "secret", "user", "pw").token_form())
    else:
        assert key in wire_requests, f"{key} is not exercised by the recorded story"
        sent = wire_requests[key]
    # A nested field is allowed when the record documents it or its parent object.
    undocumented = sorted(
        f for f in sent if f not in allowed and not any(f.startswith(a + ".") for a in allowed)
    )
    assert undocumented == [], f"{key} sends fields the public record does not support"
    forbidden = sorted(sent & set(fixture.get("forbidden_fields", [])))
    assert forbidden == [], f"{key} sends a field name the record contradicts"


def test_every_write_certops_makes_has_a_request_fixture(wire_requests):
    fixtures = {_endpoint_key(f["endpoint"]) for f in REQUESTS.values()}
    writes = {k for k in wire_requests if not k.startswith("GET ")}
    assert writes - fixtures == set()


def test_the_manifest_names_every_field_the_client_sends(wire_requests):
    """``certops doctor`` checks a tenant's documents against the manifest, so the
    manifest must cover what really goes on the wire."""
    declared = {f"{u.method} {u.path}": set(u.params) | set(u.body) for u in USED}
    for key, sent in wire_requests.items():
        if key == "POST /oauth2/token":
            continue
        names = {n.removesuffix("[]") for n in declared.get(key, set())}
        missing = sorted(
            n
            for n in {n.removesuffix("[]") for n in sent}
            if n not in names
            and not any(d.startswith(n + ".") or d.startswith(n + "[]") for d in names)
        )
        assert missing == [], f"{key}: sent but not in certops/lms/manifest.py"
