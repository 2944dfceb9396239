"""Loading datasets into a sandbox: validated, located, fast.

A dataset is YAML or JSON with five optional lists (docs/sandbox-datasets.md)::

    users:       [{username, id?, email?, first_name?, last_name?, active?}]
    courses:     [{code, name, id?, type?, description?, published?, self_unenrollment?,
                   enrollment_policy?, date_begin?, date_end?, soft_deadline?,
                   visible_only_to_enrolled?}]
    catalogs:    [{code, name, description?, courses?: [course codes]}]
    groups:      [{name, uuid?, description?, automatic?, operator?, exclude_deactivated?,
                   rules?: [[course codes]]}]
    enrollments: [{user, course, status?, enrolled_at?, completed_at?, valid_from?,
                   valid_until?}]

Objects are upserted by natural key (username, course code, catalog code, group name,
user+course); a loaded object's fields replace the stored ones. A user's or course's
``id`` and a group's ``uuid``, when given, are the object's own in the sandbox (a copy of a
tenant keeps its ids, so plans name the same ones). Every problem is reported at once
with ``FILE:LINE:COL``. Loading writes with ``executemany`` in one transaction, so 100,000
users and 500,000 enrollments load in seconds. Loads are imports: they notify no one,
but completions they add do move users into automatic groups (and fire rules).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certops.config import jsonread, yamlpos
from certops.config.model import Location
from certops.config.problems import Problem, format_path, sort_problems
from certops.errors import ConfigError
from certops.sandbox import automation
from certops.sandbox.courses import COURSE_TYPES, assign_uids
from certops.sandbox.store import Store
from certops.sandbox.values import parse_datetime

STATUS_WORDS = {
    "enrolled": 0,
    "subscribed": 0,
    "in_progress": 1,
    "completed": 2,
    "suspended": 3,
    "waiting": -2,
}
POLICIES = {"admin_only": 0, "moderated": 1, "free": 2}
# A group's rule sets combine with ANY (any set holds) or ALL; stored as Docebo's OR/AND.
GROUP_OPERATORS = {"any": "OR", "all": "AND"}

SECTIONS: dict[str, dict[str, str]] = {
    # key -> kind: "str!" required string, "str", "bool", "date", "instant", "choice:..."
    "users": {
        "username": "str!",
        "id": "id",
        "email": "str",
        "first_name": "str",
        "last_name": "str",
        "active": "bool",
    },
    "courses": {
        "code": "str!",
        "name": "str!",
        "id": "id",
        "type": "type",
        "description": "str",
        "published": "bool",
        "self_unenrollment": "bool",
        "enrollment_policy": "policy",
        "date_begin": "date",
        "date_end": "end",
        "soft_deadline": "bool",
        "visible_only_to_enrolled": "bool",
    },
    "catalogs": {"code": "str!", "name": "str!", "description": "str", "courses": "codes"},
    "groups": {
        "name": "str!",
        "uuid": "str",
        "description": "str",
        "automatic": "bool",
        "operator": "operator",
        "exclude_deactivated": "bool",
        "rules": "rules",
    },
    "enrollments": {
        "user": "str!",
        "course": "str!",
        "status": "status",
        "enrolled_at": "instant",
        "completed_at": "instant",
        "valid_from": "date",
        "valid_until": "end",
    },
}


@dataclass(frozen=True, slots=True)
class LoadSummary:
    """How many objects of each kind a load wrote (created or updated)."""

    users: int = 0
    courses: int = 0
    catalogs: int = 0
    enrollments: int = 0
    groups: int = 0

    def __str__(self) -> str:
        groups = f", {self.groups} groups" if self.groups else ""
        return (
            f"{self.users} users, {self.courses} courses, {self.catalogs} catalogs"
            f"{groups}, {self.enrollments} enrollments"
        )


Locator = Callable[..., Location]  # (path, key=False) -> where the node (or its key) is


def read_dataset_file(path: str | Path) -> tuple[Any, Locator]:
    """Returns a dataset file's data and a function locating a JSON path in it.

    JSON is parsed with the standard library (fast for large files) and located only if a
    problem needs it; YAML goes through the position-keeping loader.
    """
    file = str(path)
    if file.lower().endswith(".json"):
        try:
            raw = Path(file).read_bytes()
        except OSError as exc:
            raise ConfigError(
                [Problem(file, 1, 1, "", f"cannot read this file: {exc.strerror or exc}")]
            ) from None
        # Not UTF-8, too deep for Python's parser, numbers too long: located problems.
        text = jsonread.decode_utf8(raw, file)
        data = jsonread.parse_json(text, file)
        return data, _lazy_locator(text, file)
    data = yamlpos.load_file(file)
    return data, lambda path, key=False: _locate(data, path, key)


def _lazy_locator(text: str, file: str) -> Locator:
    tree: list[Any] = []

    def locate(path: list[str | int], key: bool = False) -> Location:
        if not tree:
            try:
                tree.append(yamlpos.loads(text, file))
            except ConfigError:
                tree.append(None)
        if tree[0] is None:
            return Location(file, 1, 1)
        return _locate(tree[0], path, key)

    return locate


def _locate(root: Any, path: list[str | int], key: bool) -> Location:
    return yamlpos.locate_key(root, path) if key else yamlpos.locate(root, path)


# Date kinds -> whether a bare date means the end of that day.
DATE_KINDS = {"date": False, "instant": False, "end": True}


def validate_dataset(data: Any, locate: Locator, known: KnownKeys | None = None) -> list[Problem]:
    """Returns every problem of ``data`` as a dataset (empty when it is valid).

    ``known`` holds the usernames and course codes already in the sandbox, which
    enrollments and catalogs may name besides those in the dataset.
    """
    return _validate(data, locate, known)[0]


def _validate(
    data: Any, locate: Locator, known: KnownKeys | None
) -> tuple[list[Problem], list[dict[str, str | None]]]:
    # Also returns each enrollment's dates as parsed here, by row index, so the load path
    # parses them once (a large load spends most of its time parsing dates).
    problems: list[Problem] = []
    enrollment_dates: list[dict[str, str | None]] = []

    def problem(path: list[str | int], message: str, key: bool = False) -> None:
        loc = locate(path, key=True) if key else locate(path)
        problems.append(Problem(loc.file, loc.line, loc.column, format_path(path), message))

    if data is None:
        return [], enrollment_dates
    if not isinstance(data, dict):
        problem([], "a dataset must be a mapping with users, courses, catalogs, enrollments")
        return problems, enrollment_dates
    for key in data:
        if key not in SECTIONS:
            problem([key], f"unknown key {key!r}; expected {', '.join(SECTIONS)}", key=True)
    seen: dict[str, dict[Any, int]] = {name: {} for name in SECTIONS}
    for section, fields in SECTIONS.items():
        rows = data.get(section)
        if rows is None:
            continue
        if not isinstance(rows, list):
            problem([section], f"{section} must be a list")
            continue
        for index, row in enumerate(rows):
            where: list[str | int] = [section, index]
            dates: dict[str, str | None] = {}
            if section == "enrollments":
                enrollment_dates.append(dates)
            if not isinstance(row, dict):
                problem(where, f"each of {section} must be a mapping")
                continue
            dates_ok = True
            for key in row:
                if key not in fields:
                    problem(
                        [*where, key],
                        f"unknown key {key!r}; expected {', '.join(fields)}",
                        key=True,
                    )
            for key, kind in fields.items():
                if kind.endswith("!") and row.get(key) in (None, ""):
                    problem(where, f"{key} is required")
                elif key in row and row[key] is not None:
                    if kind in DATE_KINDS:
                        try:
                            dates[key] = parse_datetime(row[key], end_of_day=DATE_KINDS[kind])
                            message = None
                        except ValueError as exc:
                            message = str(exc)
                            dates_ok = False
                    else:
                        message = _check_value(kind, row[key])
                    if message:
                        problem([*where, key], f"{key}: {message}")
            identity = _identity(section, row)
            if identity is not None:
                first = seen[section].setdefault(identity, index)
                if first != index:
                    problem(where, f"duplicate of {section}[{first}] ({_describe(identity)})")
            if section == "enrollments":
                _check_enrollment(row, where, problem, dates if dates_ok else None)
    _check_references(data, known or KnownKeys(), problem)
    return sort_problems(problems), enrollment_dates


def _identity(section: str, row: dict[str, Any]) -> Any:
    keys = {
        "users": ("username",),
        "courses": ("code",),
        "catalogs": ("code",),
        "groups": ("name",),
    }
    names = keys.get(section, ("user", "course"))
    values = tuple(row.get(k) for k in names)
    if any(not isinstance(v, str) or not v for v in values):
        return None
    return values


def _describe(identity: tuple[str, ...]) -> str:
    return " in ".join(identity)


def _check_value(kind: str, value: Any) -> str | None:
    if kind in ("str", "str!"):
        return None if isinstance(value, str) else "must be a string"
    if kind == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "type":
        return None if value in COURSE_TYPES else f"expected one of {', '.join(COURSE_TYPES)}"
    if kind == "policy":
        return None if value in POLICIES else f"expected one of {', '.join(POLICIES)}"
    if kind == "status":
        return None if value in STATUS_WORDS else f"expected one of {', '.join(STATUS_WORDS)}"
    if kind == "codes":
        ok = isinstance(value, list) and all(isinstance(c, str) and c for c in value)
        return None if ok else "must be a list of course codes"
    if kind == "id":
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**62
        return None if ok else "must be a whole number, 1 or more"
    if kind == "operator":
        return None if value in GROUP_OPERATORS else "expected any or all"
    if kind == "rules":
        ok = isinstance(value, list) and all(
            isinstance(r, list) and r and all(isinstance(c, str) and c for c in r) for r in value
        )
        return None if ok else "must be a list of rule sets, each a list of course codes"
    try:
        parse_datetime(value)
    except ValueError as exc:
        return str(exc)
    return None


def _check_enrollment(
    row: dict[str, Any],
    where: list[str | int],
    problem: Any,
    dates: dict[str, str | None] | None,
) -> None:
    # ``dates``: the row's parsed dates, None when one of them is bad (already reported).
    status = row.get("status", "enrolled")
    if status == "completed" and not row.get("completed_at"):
        problem(where, "completed_at is required when status is completed")
    if row.get("completed_at") and status != "completed":
        problem([*where, "completed_at"], f"completed_at given but status is {status!r}")
    if dates is None:
        return
    begin, end = dates.get("valid_from"), dates.get("valid_until")
    if begin and end and end < begin:
        problem([*where, "valid_until"], f"valid_until {end} is before valid_from {begin}")
    # A completion before the enrollment is fine: an LMS holds those (an enrollment made
    # completed as of an earlier instant, as certops makes certified-course enrollments).


@dataclass(frozen=True, slots=True)
class KnownKeys:
    """Usernames and course codes that already exist in the sandbox."""

    usernames: frozenset[str] = frozenset()
    course_codes: frozenset[str] = frozenset()


def _check_references(data: dict[str, Any], known: KnownKeys, problem: Any) -> None:
    def names(section: str, key: str) -> set[str]:
        rows = data.get(section)
        if not isinstance(rows, list):
            return set()
        return {r[key] for r in rows if isinstance(r, dict) and isinstance(r.get(key), str)}

    users = names("users", "username") | known.usernames
    codes = names("courses", "code") | known.course_codes
    rows = data.get("enrollments")
    for index, row in enumerate(rows if isinstance(rows, list) else []):
        if not isinstance(row, dict):
            continue
        user, course = row.get("user"), row.get("course")
        if isinstance(user, str) and user and user not in users:
            problem(["enrollments", index, "user"], f"unknown user {user!r} (not in users)")
        if isinstance(course, str) and course and course not in codes:
            problem(["enrollments", index, "course"], f"unknown course {course!r} (not in courses)")
    catalogs = data.get("catalogs")
    for index, row in enumerate(catalogs if isinstance(catalogs, list) else []):
        if isinstance(row, dict) and isinstance(row.get("courses"), list):
            for j, code in enumerate(row["courses"]):
                if isinstance(code, str) and code and code not in codes:
                    problem(["catalogs", index, "courses", j], f"unknown course {code!r}")
    groups = data.get("groups")
    for index, row in enumerate(groups if isinstance(groups, list) else []):
        if not isinstance(row, dict) or not isinstance(row.get("rules"), list):
            continue
        for j, rule in enumerate(row["rules"]):
            for k, code in enumerate(rule if isinstance(rule, list) else []):
                if isinstance(code, str) and code and code not in codes:
                    problem(["groups", index, "rules", j, k], f"unknown course {code!r}")
    for section in ("users", "courses"):
        rows = data.get(section)
        seen: dict[int, int] = {}
        for index, row in enumerate(rows if isinstance(rows, list) else []):
            ident = row.get("id") if isinstance(row, dict) else None
            if isinstance(ident, int) and not isinstance(ident, bool):
                first = seen.setdefault(ident, index)
                if first != index:
                    problem([section, index, "id"], f"id {ident} is also {section}[{first}]'s")


def known_keys(conn: sqlite3.Connection) -> KnownKeys:
    """Returns the usernames and course codes stored in the sandbox."""
    return KnownKeys(
        frozenset(r[0] for r in conn.execute("SELECT username FROM users")),
        frozenset(r[0] for r in conn.execute("SELECT code FROM courses WHERE code <> ''")),
    )


def load_into(store: Store, data: Any, locate: Locator, *, now: str | None = None) -> LoadSummary:
    """Validates ``data`` and writes it in one transaction; returns what was written.

    ``now`` (``YYYY-MM-DD HH:MM:SS``) stamps creation and update times; default: the
    sandbox's now. Raises ``ConfigError`` with every located problem, writing nothing, if
    the data is invalid.
    """
    with store.write() as conn:
        problems, enrollment_dates = _validate(data, locate, known_keys(conn))
        if not problems and data:
            problems = _taken_course_ids(conn, data, locate)
        if problems:
            raise ConfigError(problems)
        if not data:
            return LoadSummary()
        return _write(conn, data, enrollment_dates, now or store.now_wire())


def _taken_course_ids(
    conn: sqlite3.Connection, data: dict[str, Any], locate: Locator
) -> list[Problem]:
    """A course ``id`` the sandbox already gives another course is a problem (courses are
    named by id in rules, catalogs and notifications, so they are never renumbered)."""
    problems = []
    for index, row in enumerate(data.get("courses") or []):
        wanted = row.get("id")
        if wanted is None:
            continue
        found = conn.execute("SELECT code FROM courses WHERE id = ?", (wanted,)).fetchone()
        stored = conn.execute(
            "SELECT id FROM courses WHERE code = ? AND code <> ''", (row["code"],)
        ).fetchone()
        message = None
        if found is not None and found[0] != row["code"]:
            message = f"id {wanted} belongs to course {found[0]!r} in this sandbox"
        elif stored is not None and stored[0] != wanted:
            message = f"course {row['code']!r} has id {stored[0]} in this sandbox, not {wanted}"
        if message:
            loc = locate(["courses", index, "id"])
            path = format_path(["courses", index, "id"])
            problems.append(Problem(loc.file, loc.line, loc.column, path, message))
    return problems


def _place_users(conn: sqlite3.Connection, users: list[dict[str, Any]]) -> None:
    """Makes room for users loaded with their own ``id``: a stored user holding that id
    under another username moves to a fresh id, and a stored user of that username takes
    the id (their enrollments and memberships follow)."""
    given = [u["id"] for u in users if u.get("id") is not None]
    if not given:
        return
    stored = conn.execute("SELECT MAX(id) FROM users").fetchone()[0] or 0
    fresh = max(stored, *given) + 1  # above every id stored or asked for
    for user in users:
        wanted, name = user.get("id"), user["username"]
        if wanted is None:
            continue
        holder = conn.execute("SELECT username FROM users WHERE id = ?", (wanted,)).fetchone()
        if holder is not None and holder[0] != name:
            _renumber_user(conn, wanted, fresh)
            fresh += 1
        current = conn.execute("SELECT id FROM users WHERE username = ?", (name,)).fetchone()
        if current is not None and current[0] != wanted:
            _renumber_user(conn, current[0], wanted)


def _renumber_user(conn: sqlite3.Connection, old: int, new: int) -> None:
    conn.execute("UPDATE users SET id = ? WHERE id = ?", (new, old))
    conn.execute("UPDATE enrollments SET user_id = ? WHERE user_id = ?", (new, old))
    conn.execute("UPDATE group_members SET user_id = ? WHERE user_id = ?", (new, old))


def _write(
    conn: sqlite3.Connection,
    data: dict[str, Any],
    enrollment_dates: list[dict[str, str | None]],
    now: str,
) -> LoadSummary:
    users = data.get("users") or []
    _place_users(conn, users)
    conn.executemany(
        "INSERT INTO users (id, username, email, first_name, last_name, active, level,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 6, ?, ?) ON CONFLICT (username)"
        " DO UPDATE SET email = excluded.email, first_name = excluded.first_name,"
        " last_name = excluded.last_name, active = excluded.active,"
        " updated_at = excluded.updated_at",
        [
            (
                u.get("id"),
                u["username"],
                u.get("email") or "",
                u.get("first_name") or "",
                u.get("last_name") or "",
                int(u.get("active", True)),
                now,
                now,
            )
            for u in users
        ],
    )
    courses = data.get("courses") or []
    conn.executemany(
        "INSERT INTO courses (id, uid, code, name, description, course_type, published,"
        " can_self_unenroll, unenroll_completed, enrollment_policy, date_start, date_end,"
        " soft_deadline, visibility, updated_at)"
        " VALUES (?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (code) WHERE code <> '' DO UPDATE SET name = excluded.name,"
        " description = excluded.description, course_type = excluded.course_type,"
        " published = excluded.published, can_self_unenroll = excluded.can_self_unenroll,"
        " unenroll_completed = excluded.unenroll_completed,"
        " enrollment_policy = excluded.enrollment_policy, date_start = excluded.date_start,"
        " date_end = excluded.date_end, soft_deadline = excluded.soft_deadline,"
        " visibility = excluded.visibility, updated_at = excluded.updated_at",
        [
            (
                c.get("id"),
                c["code"],
                c["name"],
                c.get("description") or "",
                c.get("type") or "elearning",
                int(c.get("published", True)),
                int(c.get("self_unenrollment", True)),
                # One dataset flag sets both self-unenrollment settings.
                int(c.get("self_unenrollment", True)),
                POLICIES[c.get("enrollment_policy") or "free"],
                parse_datetime(c.get("date_begin")),
                parse_datetime(c.get("date_end"), end_of_day=True),
                int(c.get("soft_deadline", False)),
                2 if c.get("visible_only_to_enrolled") else 0,
                now,
            )
            for c in courses
        ],
    )
    assign_uids(conn)
    catalogs = data.get("catalogs") or []
    conn.executemany(
        "INSERT INTO catalogs (code, name, description) VALUES (?, ?, ?) ON CONFLICT (code)"
        " DO UPDATE SET name = excluded.name, description = excluded.description",
        [(c["code"], c["name"], c.get("description") or "") for c in catalogs],
    )
    course_ids = dict(conn.execute("SELECT code, id FROM courses WHERE code <> ''").fetchall())
    catalog_ids = dict(conn.execute("SELECT code, id FROM catalogs").fetchall())
    conn.executemany(
        "INSERT OR IGNORE INTO catalog_items (catalog_id, course_id) VALUES (?, ?)",
        [
            (catalog_ids[c["code"]], course_ids[code])
            for c in catalogs
            for code in c.get("courses") or []
        ],
    )
    groups = _write_groups(conn, data.get("groups") or [], course_ids, now)
    enrollments = data.get("enrollments") or []
    changed_users: set[int] = set()
    if enrollments:
        user_ids = dict(conn.execute("SELECT username, id FROM users").fetchall())
        rows = []
        for e, dates in zip(enrollments, enrollment_dates, strict=True):
            user_id = user_ids[e["user"]]
            rows.append(
                (
                    course_ids[e["course"]],
                    user_id,
                    STATUS_WORDS[e.get("status") or "enrolled"],
                    dates.get("enrolled_at") or now,
                    dates.get("completed_at"),
                    dates.get("valid_from"),
                    dates.get("valid_until"),
                    now,
                )
            )
            changed_users.add(user_id)
        rows.sort()  # primary-key order makes the WITHOUT ROWID inserts sequential
        conn.executemany(
            "INSERT INTO enrollments (course_id, user_id, status, level, enrolled_at,"
            " completed_at, valid_from, valid_until, updated_at) VALUES (?, ?, ?, 3, ?, ?, ?, ?, ?)"
            " ON CONFLICT (course_id, user_id) DO UPDATE SET status = excluded.status,"
            " enrolled_at = excluded.enrolled_at, completed_at = excluded.completed_at,"
            " valid_from = excluded.valid_from, valid_until = excluded.valid_until,"
            " updated_at = excluded.updated_at",
            rows,
        )
    if (
        users
        and conn.execute(
            "SELECT 1 FROM user_groups WHERE automatic = 1 AND exclude_deactivated = 1"
        ).fetchone()
    ):
        # A loaded user may have been (de)activated: audiences that exclude deactivated
        # users follow. Only looked up when such an audience exists (large loads).
        names = {u["username"] for u in users}
        changed_users |= {
            user_id for user_id, name in conn.execute("SELECT id, username FROM users")
            if name in names
        }  # fmt: skip
    effects = automation.Effects(now=now, notify=False, webhooks=False)
    if changed_users:
        automation.recompute_groups(conn, effects, changed_users)
    if groups:
        automation.recompute_groups(conn, effects, group_ids=groups)
    return LoadSummary(len(users), len(courses), len(catalogs), len(enrollments), len(groups))


def _write_groups(
    conn: sqlite3.Connection, groups: list[dict[str, Any]], course_ids: dict[str, int], now: str
) -> list[int]:
    """Upserts ``groups`` by name (rules as the sandbox stores what certops sends: one rule
    set per list of codes, one rule per course); returns their ids."""
    written = []
    for g in groups:
        rule_sets = [
            {
                "rules_operator": "AND",
                "rules": [
                    {
                        "type": automation.COURSE_STATUS_RULE,
                        "payload": {"course_ids": [course_ids[code]], "status": "completed"},
                    }
                    for code in codes
                ],
            }
            for codes in g.get("rules") or []
        ]
        automatic = bool(g.get("automatic", bool(rule_sets)))
        values = (
            g.get("description") or "",
            int(automatic),
            int(bool(g.get("exclude_deactivated", False))),
            GROUP_OPERATORS[g.get("operator") or "any"],
            json.dumps(rule_sets),
            now,
        )
        row = conn.execute("SELECT id FROM user_groups WHERE name = ?", (g["name"],)).fetchone()
        if row is None:
            cursor = conn.execute(
                "INSERT INTO user_groups (uuid, name, description, automatic,"
                " exclude_deactivated, rule_set_operator, rule_sets, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (g.get("uuid") or str(uuid.uuid4()), g["name"], *values),
            )
            written.append(int(cursor.lastrowid or 0))
            continue
        conn.execute(
            "UPDATE user_groups SET description = ?, automatic = ?, exclude_deactivated = ?,"
            " rule_set_operator = ?, rule_sets = ?, updated_at = ? WHERE id = ?",
            (*values, row[0]),
        )
        if g.get("uuid"):
            conn.execute("UPDATE user_groups SET uuid = ? WHERE id = ?", (g["uuid"], row[0]))
        written.append(int(row[0]))
    return written


def load_file_into(store: Store, dataset_path: str | Path) -> LoadSummary:
    """Loads a YAML or JSON dataset file into an open store; returns what was written."""
    data, locate = read_dataset_file(dataset_path)
    return load_into(store, data, locate)


def body_locator(text: str, name: str = "<request body>") -> Locator:
    """Returns a locator for a dataset sent as a request body."""
    return _lazy_locator(text, name)
