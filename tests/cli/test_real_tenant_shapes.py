"""certops against tenants that answer in the shapes production integrations see.

The demo story (take-over on 2026-12-01, the 2027 rollover previewed) runs on a sandbox
answering in the default shapes and on sandboxes answering in the other shapes the public
record shows (epoch-millisecond course dates, ``_datetime`` validity names, catalog items
typed ``course``, paging by number alone): the plans must be the same. A tenant whose
paging loops makes ``plan`` fail within a few calls, naming the problem.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from certops.sandbox import create_app, init_sandbox, read_credentials
from tests.cli.conftest import Workspace
from tests.support import serve_app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

PRODUCTION = {
    "course_list_dates": "epoch_ms",
    "enrollment_validity": "date",
    "catalog_item_type": "learning_course_type",
    "paging": "page_only",
}
OTHER = {
    "course_list_dates": "date",
    "enrollment_validity": "datetime",
    "catalog_item_type": "course",
    "paging": "cursor",
}


def _story(root: Path, shapes: dict[str, str] | None) -> tuple[dict[str, Any], str]:
    """The README's story on a demo sandbox answering in ``shapes``: the take-over applied
    on 2026-12-01, then the plan at 2027-01-02 (as JSON) and doctor's output."""
    root.mkdir()
    ws = Workspace(root)
    ws.env = {"CERTOPS_LMS": ws.lms, "CERTOPS_AT": None, "NO_COLOR": None}
    init_sandbox(ws.db, demo=True, shapes=shapes)
    examples = str(shutil.copytree(EXAMPLES, root / "examples"))
    audit = str(root / "audit.jsonl")
    applied = ws.run("apply", examples, "--yes", "--at", "2026-12-01", "--audit-log", audit)
    assert applied.code == 0, applied.output
    planned = ws.run("plan", examples, "--at", "2027-01-02", "--format", "json")
    assert planned.code in (0, 3), planned.output
    doctor = ws.run("doctor")
    assert doctor.code == 0, doctor.output
    return json.loads(planned.stdout), doctor.stdout


def _suspended(plan: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for change in plan["changes"]:
        if change["action"] == "update" and change.get("after", {}).get("status") == "suspended":
            counts[change["product"]] = counts.get(change["product"], 0) + 1
    return counts


def test_the_demo_story_is_the_same_in_every_shape(tmp_path: Path) -> None:
    default, _ = _story(tmp_path / "default", None)
    # The README's figures: who did not complete their 2026 course is suspended.
    assert _suspended(default) == {"widget-pro": 20, "gadget-max": 9, "sprocket": 6}
    for name, shapes in (("production", PRODUCTION), ("other", OTHER)):
        plan, doctor = _story(tmp_path / name, shapes)
        assert "records parse as certops expects" in doctor, name
        assert plan["changes"] == default["changes"], name
        assert plan["summary"] == default["summary"], name


@contextmanager
def _misbehaving(ws: Workspace, rewrite: Callable[[dict[str, Any]], None]) -> Iterator[str]:
    """The workspace's sandbox served behind a proxy that rewrites the query of every user
    list read (``rewrite`` changes it in place), as a tenant with broken paging would
    answer; certops is pointed at it."""
    app = create_app(ws.db)

    async def tenant(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/manage/v1/user":
            query = dict(parse_qsl(scope["query_string"].decode()))
            rewrite(query)
            scope = {**scope, "query_string": urlencode(query).encode()}
        await app(scope, receive, send)

    with serve_app(tenant) as url:
        creds = read_credentials(ws.db)
        ws.env.update(
            CERTOPS_LMS=url,
            DOCEBO_CLIENT_ID=creds.client_id,
            DOCEBO_CLIENT_SECRET=creds.client_secret,
            DOCEBO_USERNAME=creds.username,
            DOCEBO_PASSWORD=creds.password,
        )
        yield url


def _forget_position(query: dict[str, Any]) -> None:
    # A tenant that serves page 1 whatever is asked, and keeps saying there is more.
    query.pop("page", None)
    query.pop("cursor", None)
    query["page_size"] = "2"


def test_a_tenant_whose_paging_loops_stops_the_plan_within_a_few_calls(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    init_sandbox(ws.db, demo=True, overwrite=True)
    shutil.copytree(EXAMPLES, ws.root / "examples")
    with _misbehaving(ws, _forget_position):
        ran = ws.run("plan", "examples", "--at", "2026-12-01")
        log = _user_list_calls(ws)
    assert ran.code == 1, ran.output
    assert "GET /manage/v1/user" in ran.stderr and "paging does not advance" in ran.stderr
    assert len(log) <= 4, log


def _user_list_calls(ws: Workspace) -> list[str]:
    url = ws.env["CERTOPS_LMS"]
    assert url is not None
    items = httpx.get(f"{url}/_sandbox/calls", timeout=10).json()["items"]
    return [c["path"] for c in items if c["path"] == "/manage/v1/user"]
