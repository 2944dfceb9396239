"""The sandbox's storage: one SQLite file per sandbox, writes serialised.

The file holds the LMS objects (users, courses, catalogs, groups, enrollments), what the
API cannot reach (enrollment rules, notifications and their outbox), the issued tokens,
and ``meta`` (credentials, settings, clock override). Dates are stored as Docebo writes
them (``YYYY-MM-DD HH:MM:SS`` UTC), so they sort as text and are served unchanged.

Concurrency: WAL journal, one connection per ``Store`` guarded by a lock, and every write
in ``BEGIN IMMEDIATE``, so one writer at a time within a process and across processes
(``sandbox load`` while ``sandbox serve`` runs).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from certops.errors import CertopsError
from certops.sandbox.shapes import Shapes
from certops.sandbox.values import from_wire, to_wire

SCHEMA_VERSION = "2"  # 2: audiences (uuid, ruleset), self-unenrollment settings
ADMIN_USER_ID = 12000  # learners then get 12001, 12002, ... like a young Docebo tenant

DEFAULT_CLIENT_ID = "certops-sandbox"
DEFAULT_CLIENT_SECRET = "sandbox-secret"
DEFAULT_USERNAME = "admin"
DEFAULT_PASSWORD = "admin"
DEFAULT_MAX_PAGE_SIZE = 200
DEFAULT_TOKEN_TTL_S = 3600

# user_groups holds audiences: ``id`` is internal (the API names them by ``uuid``),
# ``rule_set_operator`` and ``rule_sets`` are the ruleset's operator and normalised sets.
# courses.can_self_unenroll and unenroll_completed are the two self-unenrollment settings.
# (No SQL comments in here: SQLite keeps this text and re-parses it on ALTER TABLE.)
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL DEFAULT '',
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    active INTEGER NOT NULL DEFAULT 1,
    level INTEGER NOT NULL DEFAULT 6,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS users_email ON users (email);
CREATE INDEX IF NOT EXISTS users_first_name ON users (first_name, id);
CREATE TABLE IF NOT EXISTS courses (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL,
    code TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    course_type TEXT NOT NULL DEFAULT 'elearning',
    published INTEGER NOT NULL DEFAULT 0,
    can_self_unenroll INTEGER NOT NULL DEFAULT 1,
    enrollment_policy INTEGER NOT NULL DEFAULT 2,
    date_start TEXT,
    date_end TEXT,
    soft_deadline INTEGER NOT NULL DEFAULT 0,
    visibility INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    unenroll_completed INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX IF NOT EXISTS courses_code ON courses (code) WHERE code <> '';
CREATE TABLE IF NOT EXISTS catalogs (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS catalog_items (
    catalog_id INTEGER NOT NULL,
    course_id INTEGER NOT NULL,
    PRIMARY KEY (catalog_id, course_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS user_groups (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    automatic INTEGER NOT NULL DEFAULT 0,
    rule_set_operator TEXT NOT NULL DEFAULT 'OR',
    rule_sets TEXT NOT NULL DEFAULT '[]',
    uuid TEXT NOT NULL DEFAULT '',
    exclude_deactivated INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS user_groups_uuid ON user_groups (uuid);
CREATE TABLE IF NOT EXISTS group_members (
    group_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    joined_at TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS group_members_user ON group_members (user_id);
CREATE TABLE IF NOT EXISTS enrollments (
    course_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    status INTEGER NOT NULL DEFAULT 0,
    level INTEGER NOT NULL DEFAULT 3,
    enrolled_at TEXT,
    completed_at TEXT,
    valid_from TEXT,
    valid_until TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (course_id, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS enrollments_user ON enrollments (user_id, course_id);
CREATE INDEX IF NOT EXISTS enrollments_status ON enrollments (status, course_id, user_id);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    client_id TEXT NOT NULL,
    username TEXT,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS enrollment_rules (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    group_id INTEGER NOT NULL,
    course_ids TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    event TEXT NOT NULL,
    course_ids TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    notification TEXT NOT NULL,
    event TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    course_id INTEGER NOT NULL,
    at TEXT NOT NULL
);
"""


class SandboxError(CertopsError):
    """A sandbox file is missing, not a sandbox, or cannot be used as asked."""


@dataclass(frozen=True, slots=True, repr=False)
class SandboxCredentials:
    """The OAuth2 client and admin user a sandbox accepts."""

    client_id: str
    client_secret: str
    username: str
    password: str

    def __repr__(self) -> str:
        # Secrets never reach logs or tracebacks through a repr.
        return f"SandboxCredentials(client_id={self.client_id!r}, username={self.username!r})"


class Store:
    """One open sandbox file. ``read()`` and ``write()`` hand out its connection."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SandboxError(
                f"no sandbox at {self.path}: create one with `certops sandbox init {self.path}`"
            )
        self._lock = threading.RLock()
        try:
            self._conn = _connect(self.path)
            version = self._meta_raw("schema_version")
        except sqlite3.DatabaseError as exc:
            raise SandboxError(f"{self.path} is not a certops sandbox ({exc})") from None
        if version is None:
            self._conn.close()
            raise SandboxError(f"{self.path} is not a certops sandbox (no schema version)")
        if version != json.dumps(SCHEMA_VERSION):
            try:
                _migrate(self._conn, json.loads(version))
            except (sqlite3.Error, ValueError) as exc:
                self._conn.close()
                raise SandboxError(f"{self.path} cannot be upgraded ({exc})") from None

    def close(self) -> None:
        """Closes the connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Yields the connection for reading (serialised with writers in this process)."""
        with self._lock:
            yield self._conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """Yields the connection inside ``BEGIN IMMEDIATE``; commits, or rolls back on error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # meta ------------------------------------------------------------------------------

    def _meta_raw(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def meta(self, key: str, default: object = None) -> object:
        """Returns the JSON value stored under ``key``, or ``default``."""
        with self._lock:
            raw = self._meta_raw(key)
        return default if raw is None else json.loads(raw)

    def _meta_int(self, key: str, default: int) -> int:
        """Returns the number stored under ``key`` (the settings endpoint stores only
        integers there), or ``default``."""
        value = self.meta(key, default)
        if not isinstance(value, int | float | str):
            raise TypeError(f"sandbox setting {key} is not a number: {value!r}")
        return int(value)

    def credentials(self) -> SandboxCredentials:
        """Returns the credentials this sandbox accepts."""
        creds = self.meta("credentials")
        assert isinstance(creds, dict)
        return SandboxCredentials(**creds)

    def max_page_size(self) -> int:
        """Returns the page size above which requests are clamped."""
        return self._meta_int("max_page_size", DEFAULT_MAX_PAGE_SIZE)

    def token_ttl_s(self) -> int:
        """Returns the lifetime of an access token, in seconds."""
        return self._meta_int("token_ttl_s", DEFAULT_TOKEN_TTL_S)

    def shapes(self) -> Shapes:
        """The response shapes this sandbox answers in (``certops.sandbox.shapes``)."""
        raw = self.meta("shapes", {})
        return Shapes().with_changes(raw if isinstance(raw, dict) else {})

    def set_shapes(self, changes: dict[str, str]) -> None:
        """Stores the response shapes named in ``changes`` (the others are kept)."""
        shapes = self.shapes().with_changes(changes).to_json()
        with self.write() as conn:
            set_meta(conn, "shapes", shapes)

    def lenient(self) -> bool:
        """Returns whether the API ignores unknown request fields (as Docebo does) instead
        of rejecting them (the default, strict)."""
        return bool(self.meta("lenient", False))

    def set_lenient(self, lenient: bool) -> None:
        """Stores whether the API ignores unknown request fields (see ``lenient``)."""
        with self.write() as conn:
            set_meta(conn, "lenient", lenient)

    def clock_override(self) -> datetime | None:
        """Returns the overridden "now", or None when the sandbox follows real time."""
        value = self.meta("clock")
        return from_wire(value) if isinstance(value, str) else None

    def now(self) -> datetime:
        """Returns the sandbox's current instant (the override, else real UTC time)."""
        return self.clock_override() or datetime.now(UTC).replace(microsecond=0)

    def now_wire(self) -> str:
        """Returns ``now()`` as a Docebo date-time string."""
        return to_wire(self.now())


def _migrate(conn: sqlite3.Connection, version: object) -> None:
    """Upgrades a sandbox file made by an older certops to ``SCHEMA_VERSION``, in one
    transaction: version 1 had numbered groups with ``condition_type`` rules and one
    self-unenrollment flag."""
    if version != "1":
        raise ValueError(f"unknown schema version {version!r}; recreate it with `sandbox init`")
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have upgraded the file while this one waited for the lock.
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if json.loads(row[0]) == SCHEMA_VERSION:
            conn.execute("COMMIT")
            return
        for statement in (
            "ALTER TABLE courses ADD COLUMN unenroll_completed INTEGER NOT NULL DEFAULT 1",
            "UPDATE courses SET unenroll_completed = can_self_unenroll",
            "ALTER TABLE user_groups ADD COLUMN uuid TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE user_groups ADD COLUMN exclude_deactivated INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE user_groups ADD COLUMN updated_at TEXT NOT NULL DEFAULT ''",
        ):
            conn.execute(statement)
        rows = conn.execute("SELECT id, rule_set_operator, rule_sets FROM user_groups").fetchall()
        for group_id, operator, rule_sets in rows:
            sets = [
                {
                    "rules_operator": "AND",
                    "rules": [
                        {
                            "type": "CourseEnrollmentStatus",
                            "payload": {
                                "course_ids": [int(rule["condition_value"])],
                                "status": "completed",
                            },
                        }
                        for rule in old["rules"]
                    ],
                }
                for old in json.loads(rule_sets)
            ]
            conn.execute(
                "UPDATE user_groups SET uuid = ?, rule_set_operator = ?, rule_sets = ?"
                " WHERE id = ?",
                (
                    str(uuid.uuid4()),
                    "AND" if operator == "ALL" else "OR",
                    json.dumps(sets),
                    group_id,
                ),
            )
        conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS user_groups_uuid ON user_groups (uuid)")
        set_meta(conn, "schema_version", SCHEMA_VERSION)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def set_meta(conn: sqlite3.Connection, key: str, value: object) -> None:
    """Stores ``value`` (JSON) under ``key``; ``None`` removes the key."""
    if value is None:
        conn.execute("DELETE FROM meta WHERE key = ?", (key,))
    else:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )


def row_exists(conn: sqlite3.Connection, table: str, row_id: int) -> bool:
    """Returns whether ``table`` has a row with this ``id`` (``table`` is ours, never input)."""
    return conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (row_id,)).fetchone() is not None


class _Connection(sqlite3.Connection):
    """A store's connection, with a random ``nonce`` naming it among all connections ever
    opened (``id()`` would repeat across server runs)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.nonce = secrets.token_hex(8)


def change_stamp(conn: sqlite3.Connection) -> str | None:
    """Returns a text that stays the same exactly as long as nothing was written to the
    database since it was taken, or None for a connection a ``Store`` did not open.

    It joins the connection's nonce, its count of rows written (``total_changes``) and
    ``PRAGMA data_version`` (which moves when another connection commits, such as
    ``sandbox load`` beside ``sandbox serve``). List pages use it to reuse a count taken
    earlier in the same cursor walk only while it is still exact.
    """
    if not isinstance(conn, _Connection):
        return None
    version = conn.execute("PRAGMA data_version").fetchone()[0]
    return f"{conn.nonce}.{conn.total_changes}.{version}"


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE in Store.write).
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=30, factory=_Connection
    )
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA foreign_keys = OFF")
    return conn


def create_store_file(
    path: str | Path,
    credentials: SandboxCredentials,
    *,
    settings: dict[str, object] | None = None,
) -> None:
    """Creates an empty sandbox file with its schema, credentials and settings.

    ``path`` must not exist yet (``init_sandbox`` builds at a path it has just cleared); the
    admin user is created (Docebo lists its superadmin among users, level 3).
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        conn = _connect(target)
    except (OSError, sqlite3.Error) as exc:
        raise SandboxError(f"cannot create a sandbox at {target}: {exc}") from None
    try:
        conn.executescript(SCHEMA)
        now = to_wire(datetime.now(UTC))
        conn.execute("BEGIN IMMEDIATE")
        set_meta(conn, "schema_version", SCHEMA_VERSION)
        set_meta(
            conn,
            "credentials",
            {
                "client_id": credentials.client_id,
                "client_secret": credentials.client_secret,
                "username": credentials.username,
                "password": credentials.password,
            },
        )
        for key, value in (settings or {}).items():
            set_meta(conn, key, value)
        conn.execute(
            "INSERT INTO users (id, username, email, first_name, last_name, active, level,"
            " created_at, updated_at) VALUES (?, ?, ?, 'Sandbox', 'Admin', 1, 3, ?, ?)",
            (
                ADMIN_USER_ID,
                credentials.username,
                f"{credentials.username}@sandbox.local",
                now,
                now,
            ),
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
