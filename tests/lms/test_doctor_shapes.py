"""``certops doctor --shapes FILE`` keeps the shapes of a tenant's answers and no value of
theirs, and ``doctor`` tells whether the tenant honours a larger page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from certops.cli.main import cli
from certops.lms.shapes import describe, merge
from certops.sandbox import init_sandbox, load_dataset

# Values no shape may show: every text the tenant holds is one of these, or holds one.
MARK = "Zq7"
DATASET = {
    "users": [
        {"username": f"{MARK}-user-{n}", "email": f"{MARK.lower()}.{n}@{MARK.lower()}-mail.example",
         "first_name": f"{MARK}First{n}", "last_name": f"{MARK}Last{n}"}
        for n in range(4)
    ],
    "courses": [
        {"code": f"{MARK}-CODE-{n}", "name": f"{MARK} Course {n}", "description": f"{MARK} about",
         "date_begin": "2026-01-01", "date_end": "2026-12-31"}
        for n in range(3)
    ],
    "catalogs": [{"code": f"{MARK}-CAT", "name": f"{MARK} Catalog", "courses": [f"{MARK}-CODE-0"]}],
    "enrollments": [
        {"user": f"{MARK}-user-{n}", "course": f"{MARK}-CODE-{n % 3}", "status": "completed",
         "enrolled_at": "2026-02-01T10:00:00Z", "completed_at": "2026-03-01T10:00:00Z",
         "valid_from": "2026-01-01", "valid_until": "2026-12-31"}
        for n in range(4)
    ],
}  # fmt: skip

# What a shape file may say besides field names: type words, formats, endpoints, params.
VOCABULARY = ("null", "boolean", "integer", "number", "text", "empty", "GET /")


@pytest.fixture
def tenant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in ("DOCEBO_CLIENT_ID", "DOCEBO_CLIENT_SECRET", "DOCEBO_USERNAME",
                 "DOCEBO_PASSWORD", "CERTOPS_LMS", "CERTOPS_PAGE_SIZE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    db = tmp_path / "tenant.db"
    init_sandbox(db)
    data = tmp_path / "data.json"
    data.write_text(json.dumps(DATASET), encoding="utf-8")
    load_dataset(db, data)
    yield db


def _strings(node: Any, keys: list[str], values: list[Any]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            keys.append(key)
            _strings(value, keys, values)
    elif isinstance(node, list):
        for item in node:
            _strings(item, keys, values)
    else:
        values.append(node)


def test_the_shapes_file_holds_no_value_of_the_tenant(tenant: Path, tmp_path: Path) -> None:
    out = tmp_path / "shapes.json"
    result = CliRunner().invoke(
        cli, ["doctor", "--lms", f"sandbox:{tenant}", "--shapes", str(out)],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"answers written to {out}" in result.stdout
    text = out.read_text(encoding="utf-8")
    # No name, e-mail, code or description, in any case.
    assert MARK.lower() not in text.lower()
    record = json.loads(text)
    keys: list[str] = []
    values: list[Any] = []
    _strings(record["answers"], keys, values)
    # Every value is a type word, a format, an endpoint or a query parameter's name; no
    # number at all (ids included).
    params = {"page", "page_size", "sort_attr", "sort_dir", "get_cursor", "get_total_count"}
    for value in values:
        assert isinstance(value, str), value
        assert value.startswith(VOCABULARY) or value in params, value
    # It shows what a contract fixture needs: the fields, their formats, the paging.
    endpoints = [a["endpoint"] for a in record["answers"]]
    for endpoint in (
        "GET /manage/v1/user",
        "GET /learn/v1/courses",
        "GET /learn/v1/courses/{id}",
        "GET /learn/v1/catalog/{id}",
        "GET /course/v1/courses/enrollments",
    ):
        assert endpoint in endpoints, endpoints
    enrollments = record["answers"][endpoints.index("GET /course/v1/courses/enrollments")]
    data = enrollments["body"]["object"]["data"]["object"]
    row = data["items"]["array"]["object"]
    assert row["enrollment_validity_end_date"] == "text (date-time 'YYYY-MM-DD HH:MM:SS')"
    assert (data["has_more_data"] == "boolean" and "cursor" in data) or data["has_more_data"]
    users = record["answers"][endpoints.index("GET /manage/v1/user")]
    user = users["body"]["object"]["data"]["object"]["items"]["array"]["object"]
    assert user["email"] == "text (e-mail)" and user["user_id"].startswith("text of digits")


def test_shapes_describe_formats_and_merge_items() -> None:
    assert describe("1693586500594") == "text of digits (13)"
    assert describe("2026-01-01") == "text (date 'YYYY-MM-DD')"
    assert describe("0000-00-00 00:00:00") == "text (zero date)"
    assert describe({"a@b.example": 1}) == {"object": {"<key>": "integer"}}
    merged = describe([{"a": 1, "b": "x"}, {"a": None}])
    assert merged == {"array": {"object": {"a": {"one of": ["integer", "null"]}, "b?": "text"}}}
    assert merge("integer", "integer") == "integer"


def test_doctor_says_whether_a_larger_page_is_honoured(tenant: Path) -> None:
    lms = f"sandbox:{tenant}"
    result = CliRunner().invoke(cli, ["doctor", "--lms", lms], catch_exceptions=False)
    assert "ok      page size (1000 asked): clamped to 200" in result.stdout
    from certops.sandbox.store import Store

    store = Store(tenant)
    try:
        with store.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('max_page_size', '5000')"
            )
    finally:
        store.close()
    result = CliRunner().invoke(cli, ["doctor", "--lms", lms], catch_exceptions=False)
    line = next(x for x in result.stdout.splitlines() if "page size" in x)
    assert line.startswith("ok") and "set CERTOPS_PAGE_SIZE=1000" in line, line
