"""What Docebo does on its own when data changes, and the API does not expose.

- Automatic audiences (groups): a user is a member while their course completions satisfy
  the audience's ruleset (rules combined inside a set with its ``rules_operator``, sets
  with the ruleset's ``operator``; deactivated users excluded when the audience says so).
  Membership is recomputed whenever a completion, a user's activation or the rules change.
- Enrollment rules: when a user *joins* a group, enroll them in the rule's courses.
  Deactivated users are skipped, and existing members are never back-filled.
- Notifications: enrollment events write a line to the outbox (event, user, course, time).

Every function works inside the caller's write transaction, so a request's effects commit
or roll back together.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from certops.sandbox import webhooks

# Enrollment status codes the automation needs (Docebo's numeric statuses, docs/wire.md).
SUBSCRIBED = 0
IN_PROGRESS = 1
COMPLETED = 2

# The audience rule type the sandbox evaluates (payload: course_ids, status "completed").
COURSE_STATUS_RULE = "CourseEnrollmentStatus"

# Notification events (named like Docebo's webhook events).
EVENT_ENROLLED = "course.enrollment.created"
EVENT_COMPLETED = "course.enrollment.completed"
EVENT_UPDATED = "course.enrollment.updated"
EVENTS = (EVENT_ENROLLED, EVENT_COMPLETED, EVENT_UPDATED)

# Large user sets are recomputed unrestricted, then intersected (SQLite caps parameters).
_RESTRICT_LIMIT = 500


@dataclass(slots=True)
class Effects:
    """What a request changed that automation must follow up on before it commits."""

    now: str  # the sandbox's "now" for every timestamp the request writes
    notify: bool = True
    webhooks: bool = True  # loads are imports: they fire no webhook either
    batch: bool = False  # the request is a batch call (the envelope says so)
    completion_changed: set[int] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class EnrollmentFields:
    """Stored enrollment fields a write sets; ``None`` leaves a field alone on update."""

    status: int | None = None
    level: int | None = None
    enrolled_at: str | None = None
    completed_at: str | None = None
    valid_from: str | None = None
    valid_until: str | None = None
    clear: frozenset[str] = frozenset()  # fields set to "none" (zero dates on the wire)


def is_enrolled(conn: sqlite3.Connection, user_id: int, course_id: int) -> bool:
    """Returns whether the user has an enrollment in the course."""
    row = conn.execute(
        "SELECT 1 FROM enrollments WHERE course_id = ? AND user_id = ?", (course_id, user_id)
    ).fetchone()
    return row is not None


def enroll(
    conn: sqlite3.Connection,
    effects: Effects,
    user_id: int,
    course_id: int,
    values: EnrollmentFields = EnrollmentFields(),
) -> None:
    """Creates an enrollment (the caller checked it does not exist) and notifies."""
    status = SUBSCRIBED if values.status is None else values.status
    completed_at = values.completed_at
    if status == COMPLETED and completed_at is None:
        completed_at = effects.now
    conn.execute(
        "INSERT INTO enrollments (course_id, user_id, status, level, enrolled_at, completed_at,"
        " valid_from, valid_until, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            course_id,
            user_id,
            status,
            values.level or 3,
            values.enrolled_at or effects.now,
            completed_at,
            values.valid_from,
            values.valid_until,
            effects.now,
        ),
    )
    notify(conn, effects, EVENT_ENROLLED, user_id, course_id)
    if status == COMPLETED:
        effects.completion_changed.add(user_id)
        notify(conn, effects, EVENT_COMPLETED, user_id, course_id)


def update_enrollment(
    conn: sqlite3.Connection,
    effects: Effects,
    user_id: int,
    course_id: int,
    values: EnrollmentFields,
) -> bool:
    """Sets the given fields on an existing enrollment; returns False if there is none.

    Setting ``completed`` without a completion date records "now" unless one is stored.
    """
    row = conn.execute(
        "SELECT status, completed_at FROM enrollments WHERE course_id = ? AND user_id = ?",
        (course_id, user_id),
    ).fetchone()
    if row is None:
        return False
    old_status, old_completed = row
    sets: dict[str, object] = {}
    for name in ("status", "level", "enrolled_at", "completed_at", "valid_from", "valid_until"):
        value = getattr(values, name)
        if value is not None:
            sets[name] = value
        elif name in values.clear:
            sets[name] = None
    new_status = sets.get("status", old_status)
    if new_status == COMPLETED and "completed_at" not in sets and old_completed is None:
        sets["completed_at"] = effects.now
    sets["updated_at"] = effects.now
    assignments = ", ".join(f"{name} = ?" for name in sets)
    conn.execute(
        f"UPDATE enrollments SET {assignments} WHERE course_id = ? AND user_id = ?",
        (*sets.values(), course_id, user_id),
    )
    new_completed = sets.get("completed_at", old_completed)
    if (old_status == COMPLETED) != (new_status == COMPLETED) or new_completed != old_completed:
        effects.completion_changed.add(user_id)
    if new_status == COMPLETED and old_status != COMPLETED:
        # Docebo fires "completed" instead of "updated" when an update completes.
        notify(conn, effects, EVENT_COMPLETED, user_id, course_id)
    else:
        notify(conn, effects, EVENT_UPDATED, user_id, course_id)
    return True


def notify(
    conn: sqlite3.Connection, effects: Effects, event: str, user_id: int, course_id: int
) -> None:
    """Writes an outbox line for every notification on ``event`` that covers the course,
    and queues the event for every webhook registered for it."""
    if effects.webhooks:
        webhooks.fire(
            conn, event, user_id, course_id, fired_at_wire=effects.now, batch=effects.batch
        )
    if not effects.notify:
        return
    for name, course_ids in conn.execute(
        "SELECT name, course_ids FROM notifications WHERE event = ?", (event,)
    ).fetchall():
        covered = json.loads(course_ids)
        if not covered or course_id in covered:
            conn.execute(
                "INSERT INTO outbox (notification, event, user_id, course_id, at)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, event, user_id, course_id, effects.now),
            )


def settle(conn: sqlite3.Connection, effects: Effects) -> None:
    """Follows up a request's changes: recompute automatic groups for users whose
    completions changed (joins fire enrollment rules). Call once before commit."""
    if effects.completion_changed:
        users = set(effects.completion_changed)
        effects.completion_changed.clear()
        recompute_groups(conn, effects, users)


def recompute_groups(
    conn: sqlite3.Connection,
    effects: Effects,
    user_ids: set[int] | None = None,
    group_ids: Iterable[int] | None = None,
) -> None:
    """Brings automatic audiences' membership in line with their rules; the users who join
    fire the audiences' enrollment rules.

    Restricted to ``user_ids`` / ``group_ids`` when given.
    """
    sql = (
        "SELECT id, rule_set_operator, rule_sets, exclude_deactivated FROM user_groups"
        " WHERE automatic = 1"
    )
    groups = conn.execute(sql).fetchall()
    wanted = set(group_ids) if group_ids is not None else None
    for group_id, operator, rule_sets_json, exclude in groups:
        if wanted is not None and group_id not in wanted:
            continue
        matching = _matching_users(conn, json.loads(rule_sets_json), operator, user_ids)
        if exclude:
            matching -= {row[0] for row in conn.execute("SELECT id FROM users WHERE active = 0")}
        current = _members(conn, group_id, user_ids)
        joins = matching - current
        leaves = current - matching
        conn.executemany(
            "INSERT INTO group_members (group_id, user_id, joined_at) VALUES (?, ?, ?)",
            [(group_id, u, effects.now) for u in sorted(joins)],
        )
        conn.executemany(
            "DELETE FROM group_members WHERE group_id = ? AND user_id = ?",
            [(group_id, u) for u in sorted(leaves)],
        )
        if joins:
            fire_rules(conn, effects, group_id, joins)


def _combine(found: list[set[int]], operator: str) -> set[int]:
    if not found:
        return set()
    return set.intersection(*found) if operator == "AND" else set.union(*found)


def _matching_users(
    conn: sqlite3.Connection,
    rule_sets: list[dict[str, Any]],
    operator: str,
    user_ids: set[int] | None,
) -> set[int]:
    # Rules inside a set combine with its rules_operator, sets with the ruleset's operator.
    found = [
        _combine([_rule_users(conn, rule, user_ids) for rule in s["rules"]], s["rules_operator"])
        for s in rule_sets
    ]
    matching = _combine(found, operator)
    return matching & user_ids if user_ids is not None else matching


def _rule_users(
    conn: sqlite3.Connection, rule: dict[str, Any], user_ids: set[int] | None
) -> set[int]:
    """Returns the users a rule holds for: a ``CourseEnrollmentStatus`` rule, those who
    completed every listed course; a rule of another type (kept in lenient mode) none."""
    if rule.get("type") != COURSE_STATUS_RULE:
        return set()
    courses = sorted(set(rule["payload"]["course_ids"]))
    marks = ", ".join("?" for _ in courses)
    sql = f"SELECT user_id FROM enrollments WHERE status = {COMPLETED} AND course_id IN ({marks})"
    params: list[int] = list(courses)
    if user_ids is not None and len(user_ids) <= _RESTRICT_LIMIT:
        sql += f" AND user_id IN ({', '.join('?' for _ in user_ids)})"
        params.extend(user_ids)
    sql += " GROUP BY user_id HAVING COUNT(*) = ?"
    params.append(len(courses))
    return {row[0] for row in conn.execute(sql, params)}


def _members(conn: sqlite3.Connection, group_id: int, user_ids: set[int] | None) -> set[int]:
    rows = conn.execute("SELECT user_id FROM group_members WHERE group_id = ?", (group_id,))
    members = {row[0] for row in rows}
    return members & user_ids if user_ids is not None else members


def add_members(
    conn: sqlite3.Connection, effects: Effects, group_id: int, user_ids: Iterable[int]
) -> None:
    """Adds users to a group; those who were not members fire the group's rules."""
    current = _members(conn, group_id, None)
    joins = set(user_ids) - current
    conn.executemany(
        "INSERT INTO group_members (group_id, user_id, joined_at) VALUES (?, ?, ?)",
        [(group_id, u, effects.now) for u in sorted(joins)],
    )
    fire_rules(conn, effects, group_id, joins)


def fire_rules(
    conn: sqlite3.Connection, effects: Effects, group_id: int, joined: Iterable[int]
) -> None:
    """Runs the group's enrollment rules for users who just joined it.

    Deactivated users are skipped and existing enrollments are left alone, as in Docebo.
    """
    rules = conn.execute(
        "SELECT course_ids FROM enrollment_rules WHERE group_id = ? ORDER BY id", (group_id,)
    ).fetchall()
    if not rules:
        return
    courses = [c for (ids,) in rules for c in json.loads(ids)]
    for user_id in sorted(joined):
        active = conn.execute("SELECT active FROM users WHERE id = ?", (user_id,)).fetchone()
        if not active or not active[0]:
            continue
        for course_id in courses:
            if not is_enrolled(conn, user_id, course_id):
                enroll(conn, effects, user_id, course_id)
