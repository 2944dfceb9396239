"""The durable event queue of ``certops listen``: one SQLite file (WAL, synchronous FULL).

An event is acknowledged to Docebo only after its row is committed, so a crash after the
2xx loses nothing; a restart finds the pending rows and goes on. ``message_id`` is
unique: a redelivery (Docebo delivers at least once) is counted and dropped. Settled
rows are kept for ``RETENTION_S`` so late duplicates still dedupe, then pruned. An event
that failed ``max_attempts`` times moves to ``dead_letters``.

Every method is synchronous and thread-safe (one connection under a lock): the service
calls them from worker threads so the event loop never waits on an fsync.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certops.errors import CertopsError
from certops.listen.envelope import Event

RETENTION_S = 7 * 24 * 3600.0  # Docebo retries for hours, never for a week

PENDING = "pending"
DONE = "done"
DROPPED = "dropped"

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    event TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    username TEXT NOT NULL,
    course_id INTEGER NOT NULL,
    envelope TEXT NOT NULL,
    received_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    last_error TEXT,
    settled_at REAL,
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS events_due ON events (state, next_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    event TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    username TEXT NOT NULL,
    course_id INTEGER NOT NULL,
    envelope TEXT NOT NULL,
    received_at REAL NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    dead_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value REAL NOT NULL)
"""


class QueueError(CertopsError):
    """The queue file cannot be opened or written."""


@dataclass(frozen=True, slots=True)
class Added:
    """What one delivery did to the queue."""

    queued: int
    duplicates: int
    ignored: int


@dataclass(frozen=True, slots=True)
class Queued:
    """A pending event as the worker sees it."""

    seq: int
    message_id: str
    event: str
    user_id: int
    username: str
    course_id: int
    received_at: float
    attempts: int


class EventQueue:
    """The queue in the SQLite file at ``path`` (created with its folder if needed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            # FULL: the commit is on disk before the 2xx goes out (NORMAL could lose the
            # last commits on a power cut, and Docebo would not send them again).
            self._conn.execute("PRAGMA synchronous = FULL")
            with self._write() as conn:
                for statement in SCHEMA.strip().split(";"):
                    conn.execute(statement)
        except (sqlite3.Error, OSError) as exc:
            raise QueueError(f"cannot open the event queue {path}: {exc}") from None

    def close(self) -> None:
        """Closes the file (every acknowledged event is already on disk)."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @staticmethod
    def _bump(conn: sqlite3.Connection, name: str, by: float = 1) -> None:
        if by:
            conn.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                (name, by),
            )

    def add(self, events: Sequence[Event], ignored: int = 0, now: float | None = None) -> Added:
        """Queues ``events`` in one durable commit; a ``message_id`` seen before (pending,
        settled or dead) is a duplicate and is not queued again."""
        now = time.time() if now is None else now
        queued = 0
        with self._write() as conn:
            for event in events:
                dead = conn.execute(
                    "SELECT 1 FROM dead_letters WHERE message_id = ?", (event.message_id,)
                ).fetchone()
                if dead:
                    continue
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO events (message_id, event, user_id, username,"
                    " course_id, envelope, received_at, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (event.message_id, event.event, event.user_id, event.username,
                     event.course_id, event.envelope, now, now),
                )  # fmt: skip
                queued += cursor.rowcount
            duplicates = len(events) - queued
            self._bump(conn, "received", len(events) + ignored)
            self._bump(conn, "duplicates", duplicates)
            self._bump(conn, "ignored_events", ignored)
        return Added(queued, duplicates, ignored)

    def count_rejected(self, reason: str) -> None:
        """Counts a delivery refused before queueing (``unauthorized``, ``malformed``,
        ``too_large``)."""
        with self._write() as conn:
            self._bump(conn, f"rejected_{reason}")

    def due(self, now: float | None = None, limit: int = 500) -> list[Queued]:
        """Pending events whose time has come, oldest first."""
        now = time.time() if now is None else now
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, message_id, event, user_id, username, course_id, received_at,"
                " attempts FROM events WHERE state = ? AND next_at <= ? ORDER BY seq LIMIT ?",
                (PENDING, now, limit),
            ).fetchall()
        return [Queued(*row) for row in rows]

    def next_due(self) -> float | None:
        """When the earliest pending event becomes due (epoch seconds), or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT MIN(next_at) FROM events WHERE state = ?", (PENDING,)
            ).fetchone()
        # MIN over no rows is NULL: an aggregate always answers one row.
        earliest: float | None = row[0]
        return earliest

    def settle(self, seqs: Iterable[int], state: str, outcome: str) -> None:
        """Marks events ``done`` (reconciled) or ``dropped`` (nothing to reconcile), with
        a short outcome; counts them and, for ``done``, records the last success."""
        seqs = list(seqs)
        if not seqs:
            return
        now = time.time()
        with self._write() as conn:
            conn.executemany(
                "UPDATE events SET state = ?, outcome = ?, settled_at = ? WHERE seq = ?",
                [(state, outcome, now, seq) for seq in seqs],
            )
            self._bump(conn, state, len(seqs))
            if state == DONE:
                conn.execute(
                    "INSERT INTO counters (name, value) VALUES ('last_success', ?)"
                    " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    (now,),
                )

    def retry(
        self,
        seqs: Iterable[int],
        error: str,
        *,
        base_s: float,
        cap_s: float,
        max_attempts: int,
    ) -> int:
        """Counts a failed attempt for each event: it waits ``base_s * 2^(n-1)`` (at most
        ``cap_s``) before the next, or moves to ``dead_letters`` after ``max_attempts``.
        Returns how many went to the dead letters."""
        now = time.time()
        dead = 0
        with self._write() as conn:
            for seq in seqs:
                row = conn.execute("SELECT attempts FROM events WHERE seq = ?", (seq,)).fetchone()
                if row is None:
                    continue
                attempts = row[0] + 1
                if attempts >= max_attempts:
                    conn.execute(
                        "INSERT OR IGNORE INTO dead_letters (seq, message_id, event, user_id,"
                        " username, course_id, envelope, received_at, attempts, last_error,"
                        " dead_at) SELECT seq, message_id, event, user_id, username, course_id,"
                        " envelope, received_at, ?, ?, ? FROM events WHERE seq = ?",
                        (attempts, error, now, seq),
                    )
                    conn.execute("DELETE FROM events WHERE seq = ?", (seq,))
                    dead += 1
                    continue
                wait = min(cap_s, base_s * 2 ** (attempts - 1))
                conn.execute(
                    "UPDATE events SET attempts = ?, next_at = ?, last_error = ? WHERE seq = ?",
                    (attempts, now + wait, error, seq),
                )
            self._bump(conn, "retries", 1)
        return dead

    def prune(self, older_than_s: float = RETENTION_S) -> int:
        """Deletes settled events older than ``older_than_s``; returns how many."""
        cutoff = time.time() - older_than_s
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM events WHERE state != ? AND settled_at < ?", (PENDING, cutoff)
            )
        return cursor.rowcount

    def health(self) -> dict[str, Any]:
        """Depth, oldest pending age, dead letters, last success and the counters."""
        now = time.time()
        with self._lock:
            depth, oldest = self._conn.execute(
                "SELECT COUNT(*), MIN(received_at) FROM events WHERE state = ?", (PENDING,)
            ).fetchone()
            dead = self._conn.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]
            counters = dict(self._conn.execute("SELECT name, value FROM counters").fetchall())
        last = counters.pop("last_success", None)
        return {
            "queue_depth": depth,
            "oldest_event_age_s": round(now - oldest, 3) if oldest is not None else None,
            "dead_letters": dead,
            "last_success": (
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last)) if last else None
            ),
            "counts": {name: int(value) for name, value in sorted(counters.items())},
        }

    def dead_letters(self) -> list[dict[str, Any]]:
        """Every dead letter: message, event, learner, course, attempts and last error."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT message_id, event, user_id, username, course_id, attempts, last_error"
                " FROM dead_letters ORDER BY seq"
            ).fetchall()
        keys = ("message_id", "event", "user_id", "username", "course_id", "attempts", "error")
        return [dict(zip(keys, row, strict=True)) for row in rows]
