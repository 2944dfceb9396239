"""Datasets that keep a tenant's ids and carry its groups: read back through the API as
they were written (what a copy of a tenant relies on)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from certops.address import sandbox_address
from certops.connection import connect_reader
from certops.errors import ConfigError
from certops.sandbox import init_sandbox, load_dataset
from certops.sandbox.transport import sandbox_credentials

DATASET = {
    "users": [
        {"username": "kwan", "id": 12000, "email": "kwan@example.com"},  # the admin's id
        {"username": "admin", "id": 777},
        {"username": "jdoe", "id": 31},
    ],
    "courses": [
        {"code": "WP-101", "name": "Widget Pro 101", "id": 5},
        {"code": "WP-EXAM", "name": "Widget Pro exam", "id": 9},
    ],
    "groups": [
        {
            "name": "Certified: Widget Pro",
            "uuid": "6f1c0b1e-0000-4000-8000-000000000001",
            "rules": [["WP-101"], ["WP-EXAM"]],
            "exclude_deactivated": True,
        }
    ],
    "enrollments": [
        {"user": "kwan", "course": "WP-101", "status": "completed",
         "completed_at": "2025-03-01T10:00:00Z", "enrolled_at": "2025-04-01T10:00:00Z"},
    ],
}  # fmt: skip


async def _read(db: Path):  # what certops reads back
    async with connect_reader(
        sandbox_address(db), credentials=sandbox_credentials(str(db))
    ) as reader:
        users = {u.username: u.id for u in await reader.list_users()}
        courses = {c.code: c.id for c in await reader.list_courses()}
        [group] = [g for g in await reader.list_groups() if g.name.startswith("Certified")]
        detail = await reader.get_group(group.id)
        return users, courses, detail


def test_ids_and_groups_are_kept(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    init_sandbox(db)
    file = tmp_path / "data.json"
    file.write_text(json.dumps(DATASET), encoding="utf-8")
    summary = load_dataset(db, file)
    assert (summary.users, summary.courses, summary.groups) == (3, 2, 1)
    users, courses, group = asyncio.run(_read(db))
    # The sandbox's own admin gave way to the dataset's ids, and took the id asked for.
    assert (users["kwan"], users["admin"], users["jdoe"]) == (12000, 777, 31)
    assert (courses["WP-101"], courses["WP-EXAM"]) == (5, 9)
    assert group.id == "6f1c0b1e-0000-4000-8000-000000000001"
    assert [r.completed_all for r in group.rules] == [("WP-101",), ("WP-EXAM",)]
    assert (group.automatic, group.rules_operator, group.exclude_deactivated) == (
        True,
        "ANY",
        True,
    )


def test_a_course_id_taken_by_another_course_is_located(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    init_sandbox(db)
    first = tmp_path / "first.json"
    first.write_text(json.dumps({"courses": [{"code": "A", "name": "A", "id": 5}]}))
    load_dataset(db, first)
    second = tmp_path / "second.yaml"
    second.write_text("courses:\n  - {code: B, name: B, id: 5}\n  - {code: A, name: A, id: 6}\n")
    with pytest.raises(ConfigError) as caught:
        load_dataset(db, second)
    assert [str(p).replace(str(second), "F") for p in caught.value.problems] == [
        "F:2:28: id 5 belongs to course 'A' in this sandbox",
        "F:3:28: course 'A' has id 5 in this sandbox, not 6",
    ]
