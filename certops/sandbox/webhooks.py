"""Webhooks as Docebo delivers them: registered targets, the envelope, at-least-once
delivery with retries and back-off, and faults (duplicates, reordering, delays).

An enrollment event (``course.enrollment.created``, ``...updated``, ``...completed``)
writes one delivery row per matching registration inside the request's own transaction,
so an event exists exactly when the change it reports committed. A background thread
(``Deliverer``, started by ``certops sandbox serve``) posts the due rows; the request that
fired them never waits for the target. ``POST /_sandbox/webhooks/flush`` delivers
everything pending at once, for tests that want determinism instead of timing.

A registration with ``group_size`` above 1 gets grouped deliveries as Docebo sends them:
one envelope per group of events of one kind, with its own ``message_id`` and ``event``
and the events' payload objects in ``payloads`` (up to 25; docs/wire.md). A group keeps
its id, members and order for good, so a retry or a duplicate delivery is the same
message again.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse

from certops.sandbox.envelope import ApiError, bad_request, read_body
from certops.sandbox.state import store_of
from certops.sandbox.store import Store

log = logging.getLogger("certops.sandbox.webhooks")

EVENTS = ("course.enrollment.created", "course.enrollment.updated", "course.enrollment.completed")
MAX_GROUP = 25  # Docebo's limit of events per grouped delivery
DOMAIN = "sandbox.localhost"  # ``original_domain``: the tenant host in Docebo
STATUS_WORDS = {-2: "waiting_list", -1: "to_confirm", 0: "subscribed", 1: "in_progress",
                2: "completed", 3: "suspended", 4: "overbooking"}  # fmt: skip
LEVEL_WORDS = {3: "student", 4: "tutor", 6: "instructor"}
POLL_S = 0.02  # the delivery thread's idle poll: fast enough for "within seconds"
TIMEOUT_S = 5.0  # a target that does not answer within this is a failed attempt
CONCURRENCY = 4  # deliveries in flight at once

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhooks (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    username TEXT,
    password TEXT,
    group_size INTEGER NOT NULL DEFAULT 1,
    active INTEGER NOT NULL DEFAULT 1,
    faults TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id INTEGER PRIMARY KEY,
    webhook_id INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    event TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    course_id INTEGER NOT NULL,
    envelope TEXT NOT NULL,
    fired_at REAL NOT NULL,
    next_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    delivered_at REAL,
    failed INTEGER NOT NULL DEFAULT 0,
    last_status TEXT,
    duplicate INTEGER NOT NULL DEFAULT 0,
    group_id TEXT,
    group_pos INTEGER
);
CREATE INDEX IF NOT EXISTS webhook_due ON webhook_deliveries (delivered_at, failed, next_at);
"""


@dataclass(frozen=True, slots=True)
class DeliveryFaults:
    """What a registration's ``faults`` ask for; all off by default.

    ``duplicate_share``: share of delivered events sent a second time (same message_id).
    ``delay_ms``: each event waits a random 0..delay_ms before its first attempt, which
    also reorders events fired close together. ``out_of_order``: each batch of due events
    is shuffled before it is sent. ``seed`` makes the draws repeatable.
    """

    duplicate_share: float = 0.0
    delay_ms: int = 0
    out_of_order: bool = False
    seed: int = 0

    @classmethod
    def from_json(cls, raw: Any) -> DeliveryFaults:
        """Parses the ``faults`` object of a registration; raises ``ApiError`` (400)."""
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise bad_request("faults", "must be an object")
        unknown = sorted(set(raw) - {"duplicate_share", "delay_ms", "out_of_order", "seed"})
        if unknown:
            raise bad_request(f"faults.{unknown[0]}", "unknown fault")
        share = raw.get("duplicate_share", 0.0)
        delay = raw.get("delay_ms", 0)
        if not isinstance(share, int | float) or isinstance(share, bool) or not 0 <= share <= 1:
            raise bad_request("faults.duplicate_share", "must be a number from 0 to 1")
        if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
            raise bad_request("faults.delay_ms", "must be a whole number of 0 or more")
        if not isinstance(raw.get("out_of_order", False), bool):
            raise bad_request("faults.out_of_order", "must be true or false")
        if not isinstance(raw.get("seed", 0), int):
            raise bad_request("faults.seed", "must be an integer")
        return cls(float(share), delay, bool(raw.get("out_of_order")), int(raw.get("seed", 0)))

    def to_json(self) -> dict[str, Any]:
        return {
            "duplicate_share": self.duplicate_share,
            "delay_ms": self.delay_ms,
            "out_of_order": self.out_of_order,
            "seed": self.seed,
        }


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Creates the webhook tables if this sandbox file has none yet (and adds the group
    columns to a file made before deliveries were grouped)."""
    for statement in SCHEMA.strip().split(";"):
        if statement.strip():
            conn.execute(statement)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(webhook_deliveries)")}
    for column, kind in (("group_id", "TEXT"), ("group_pos", "INTEGER")):
        if column not in columns:
            conn.execute(f"ALTER TABLE webhook_deliveries ADD COLUMN {column} {kind}")


def _registrations(conn: sqlite3.Connection, event: str) -> list[tuple[int, dict[str, Any]]]:
    try:
        rows = conn.execute("SELECT id, events, faults FROM webhooks WHERE active = 1").fetchall()
    except sqlite3.OperationalError:
        return []  # no webhook was ever registered in this file
    return [
        (wid, json.loads(faults)) for wid, events, faults in rows if event in json.loads(events)
    ]


def fire(
    conn: sqlite3.Connection,
    event: str,
    user_id: int,
    course_id: int,
    *,
    fired_at_wire: str,
    batch: bool = False,
) -> None:
    """Queues ``event`` for every active registration that asks for it, inside the
    caller's transaction (the event exists iff the change it reports commits)."""
    targets = _registrations(conn, event)
    if not targets:
        return
    payload = _payload(conn, user_id, course_id, fired_at_wire)
    now = time.time()
    for webhook_id, raw_faults in targets:
        faults = DeliveryFaults.from_json(raw_faults)
        message_id = uuid.uuid4().hex
        envelope = {
            "message_id": message_id,
            "webhook_id": webhook_id,
            "original_domain": DOMAIN,
            "event": event,
            "fired_by_batch_action": batch,
            "payload": payload,
        }
        delay = random.Random(message_id).uniform(0, faults.delay_ms / 1000)
        conn.execute(
            "INSERT INTO webhook_deliveries (webhook_id, message_id, event, user_id, course_id,"
            " envelope, fired_at, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (webhook_id, message_id, event, user_id, course_id, json.dumps(envelope), now,
             now + delay),
        )  # fmt: skip


def _payload(conn: sqlite3.Connection, user_id: int, course_id: int, fired: str) -> dict[str, Any]:
    row = conn.execute(
        "SELECT u.username, c.name, c.code, e.status, e.level, e.enrolled_at, e.completed_at,"
        " e.valid_from, e.valid_until FROM enrollments e JOIN users u ON u.id = e.user_id"
        " JOIN courses c ON c.id = e.course_id WHERE e.user_id = ? AND e.course_id = ?",
        (user_id, course_id),
    ).fetchone()
    username, name, code, status, level, enrolled, completed, begin, end = row
    return {
        "fired_at": fired,
        "user_id": user_id,
        "username": username,
        "course_id": course_id,
        "course_name": name,
        "course_code": code,
        "level": LEVEL_WORDS.get(level, str(level)),
        "enrollment_date": enrolled,
        "enrollment_date_begin_validity": begin,
        "enrollment_date_end_validity": end,
        "status": STATUS_WORDS.get(status, str(status)),
        "completion_date": completed,
    }


# --- delivery --------------------------------------------------------------------------


class Deliverer:
    """Posts due deliveries to their targets: from a background thread once ``start``ed,
    or all at once through ``flush``. Retries with exponential back-off on anything but a
    2xx/3xx answer; an event that failed ``max_attempts`` times is given up (marked
    failed), as Docebo eventually does.

    ``clock`` (seconds since the epoch, ``time.time`` by default) decides which deliveries
    are due and when a failed one is due again; events are queued on ``time.time``."""

    def __init__(
        self,
        store: Store,
        *,
        retry_base_s: float = 0.5,
        retry_cap_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.retry_base_s = retry_base_s
        self.retry_cap_s = retry_cap_s
        self.clock = clock
        self.max_attempts = 12
        self._send_lock = threading.Lock()  # one sender at a time: thread or flush
        self._stop = threading.Event()
        self._client_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # Made on the first delivery: every in-process `sandbox:PATH` run builds a
        # deliverer, and most never deliver anything.
        self._client: httpx.Client | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._rngs: dict[int, random.Random] = {}

    def start(self) -> None:
        """Starts the background delivery thread (idempotent)."""
        if self._thread is None:
            thread = threading.Thread(target=self._loop, name="webhooks", daemon=True)
            thread.start()
            # Known only once started: a stop that comes first (Ctrl+C at start-up) has no
            # thread to join, and the stop event ends one that starts anyway.
            self._thread = thread

    def stop(self) -> None:
        """Stops the thread after its current delivery."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=TIMEOUT_S + 1)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=False)
        if self._client is not None:
            self._client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.deliver_due()
            except Exception:  # the thread must outlive any one failure
                log.exception("webhook delivery failed")
                sent = 0
            if not sent:
                self._stop.wait(POLL_S)

    def flush(self, rounds: int = 50) -> dict[str, int]:
        """Delivers every pending event now (delays and back-off ignored), repeating while
        deliveries add duplicates; returns counts of what is delivered and still pending."""
        for _ in range(rounds):
            if not self.deliver_due(ignore_schedule=True):
                break
        return self.counts()

    def counts(self) -> dict[str, int]:
        """How many deliveries were delivered, are pending, or were given up."""
        with self.store.read() as conn:
            try:
                row = conn.execute(
                    "SELECT COUNT(delivered_at), SUM(delivered_at IS NULL AND failed = 0),"
                    " SUM(failed) FROM webhook_deliveries"
                ).fetchone()
            except sqlite3.OperationalError:
                return {"delivered": 0, "pending": 0, "failed": 0}
        return {"delivered": row[0] or 0, "pending": row[1] or 0, "failed": row[2] or 0}

    def deliver_due(self, *, ignore_schedule: bool = False) -> int:
        """One pass: sends the due deliveries (grouped per registration); returns how many
        events were attempted."""
        with self._send_lock:
            now = self.clock()
            try:
                hooks, due = self._due(now, ignore_schedule)
            except sqlite3.OperationalError as exc:
                if "no such column" not in str(exc):
                    return 0  # no webhook was ever registered in this file
                with self.store.write() as conn:  # a file from before grouped deliveries
                    ensure_schema(conn)
                hooks, due = self._due(now, ignore_schedule)
            by_hook: dict[int, list[_Row]] = {}
            for row in due:
                by_hook.setdefault(row.webhook_id, []).append(row)
            for webhook_id, rows in by_hook.items():
                hook = hooks.get(webhook_id)
                if hook is not None:
                    self._send_rows(hook, rows)
            return len(due)

    def _due(self, now: float, ignore_schedule: bool) -> tuple[dict[int, Any], list[_Row]]:
        with self.store.read() as conn:
            hooks = {
                row[0]: row
                for row in conn.execute(
                    "SELECT id, url, username, password, group_size, faults FROM webhooks"
                )
            }
            due = conn.execute(
                "SELECT id, webhook_id, envelope, attempts, duplicate, group_id, group_pos"
                " FROM webhook_deliveries WHERE delivered_at IS NULL AND failed = 0"
                " AND next_at <= ? ORDER BY next_at, id LIMIT 500",
                (float("inf") if ignore_schedule else now,),
            ).fetchall()
        return hooks, [_Row(*row) for row in due]

    def _rng(self, webhook_id: int, seed: int) -> random.Random:
        if webhook_id not in self._rngs:
            self._rngs[webhook_id] = random.Random(seed)
        return self._rngs[webhook_id]

    def _send_rows(self, hook: tuple[Any, ...], rows: list[_Row]) -> None:
        webhook_id, url, username, password, group_size, raw_faults = hook
        faults = DeliveryFaults.from_json(json.loads(raw_faults))
        rng = self._rng(webhook_id, faults.seed)
        if faults.out_of_order:
            rng.shuffle(rows)
        headers = {"Content-Type": "application/json", "User-Agent": "Docebo-Webhooks (sandbox)"}
        if username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        size = max(1, min(group_size, MAX_GROUP))
        chunks = [_Chunk(None, [row]) for row in rows] if size == 1 else _groups(rows, size)

        def send(chunk: _Chunk) -> None:
            self._settle(chunk, self._post(url, headers, chunk.body()), faults, rng)

        # Docebo sends several deliveries at once; so does the sandbox (which also keeps
        # one slow target from holding back a burst).
        if self._pool is None:
            self._pool = ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="webhook-post")
        list(self._pool.map(send, chunks))

    def _http(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=TIMEOUT_S,
                    follow_redirects=False,
                    limits=httpx.Limits(max_connections=CONCURRENCY),
                )
            return self._client

    def _post(self, url: str, headers: dict[str, str], body: Any) -> str:
        try:
            answer = self._http().post(url, content=json.dumps(body), headers=headers)
        except httpx.HTTPError as exc:
            return f"error: {type(exc).__name__}"
        return str(answer.status_code)

    def _settle(
        self, chunk: _Chunk, status: str, faults: DeliveryFaults, rng: random.Random
    ) -> None:
        ok = status.isdigit() and 200 <= int(status) < 400
        now = self.clock()
        # A second delivery of the same message (never a third: it is a fault), the whole
        # group at once, as Docebo would send it again.
        again = (
            ok
            and bool(faults.duplicate_share)
            and not chunk.rows[0].duplicate
            and rng.random() < faults.duplicate_share
        )
        at = now + rng.uniform(0, 1.0) if again else 0.0
        with self.store.write() as conn:
            for pos, row in enumerate(chunk.rows):
                tries = row.attempts + 1
                # A group keeps its id and order for good: retries resend the same message.
                conn.execute(
                    "UPDATE webhook_deliveries SET group_id = ?, group_pos = ? WHERE id = ?",
                    (chunk.group_id, pos if chunk.group_id else None, row.id),
                )
                if ok:
                    conn.execute(
                        "UPDATE webhook_deliveries SET attempts = ?, delivered_at = ?,"
                        " last_status = ? WHERE id = ?",
                        (tries, now, status, row.id),
                    )
                    if again:
                        self._duplicate(conn, row.id, at)
                    continue
                failed = int(tries >= self.max_attempts)
                wait = min(self.retry_cap_s, self.retry_base_s * 2 ** (tries - 1))
                conn.execute(
                    "UPDATE webhook_deliveries SET attempts = ?, next_at = ?, failed = ?,"
                    " last_status = ? WHERE id = ?",
                    (tries, now + wait, failed, status, row.id),
                )

    @staticmethod
    def _duplicate(conn: sqlite3.Connection, row_id: int, at: float) -> None:
        # The same envelope (same message_id, same group) once more: at-least-once delivery.
        conn.execute(
            "INSERT INTO webhook_deliveries (webhook_id, message_id, event, user_id, course_id,"
            " envelope, fired_at, next_at, duplicate, group_id, group_pos) SELECT webhook_id,"
            " message_id, event, user_id, course_id, envelope, fired_at, ?, 1, group_id,"
            " group_pos FROM webhook_deliveries WHERE id = ?",
            (at, row_id),
        )


@dataclass(frozen=True, slots=True)
class _Row:
    """A due delivery row."""

    id: int
    webhook_id: int
    envelope: str
    attempts: int
    duplicate: int
    group_id: str | None
    group_pos: int | None


@dataclass(frozen=True, slots=True)
class _Chunk:
    """What one POST carries: one event alone (``group_id`` None), or a group."""

    group_id: str | None
    rows: list[_Row]

    def body(self) -> dict[str, Any]:
        envelopes: list[dict[str, Any]] = [json.loads(row.envelope) for row in self.rows]
        if self.group_id is None:
            return envelopes[0]
        head = {k: v for k, v in envelopes[0].items() if k != "payload"}
        return {
            **head,
            "message_id": self.group_id,
            "fired_by_batch_action": any(e.get("fired_by_batch_action") for e in envelopes),
            "payloads": [e["payload"] for e in envelopes],
        }


def _groups(rows: list[_Row], size: int) -> list[_Chunk]:
    """``rows`` as grouped deliveries: rows sent before keep their group (its id, members
    and order); new rows form groups of at most ``size`` events of one kind, in order."""
    kept: dict[str, list[_Row]] = {}
    fresh: dict[str, list[_Row]] = {}
    for row in rows:
        if row.group_id is not None:
            kept.setdefault(row.group_id, []).append(row)
        else:
            fresh.setdefault(json.loads(row.envelope)["event"], []).append(row)
    chunks = [
        _Chunk(gid, sorted(members, key=lambda r: r.group_pos or 0))
        for gid, members in kept.items()
    ]
    for members in fresh.values():
        for start in range(0, len(members), size):
            chunks.append(_Chunk(uuid.uuid4().hex, members[start : start + size]))
    return chunks


def deliverer_of(request: Request) -> Deliverer:
    """The application's deliverer (made on first use)."""
    state = request.app.state
    if getattr(state, "webhooks", None) is None:
        state.webhooks = Deliverer(store_of(request))
    deliverer: Deliverer = state.webhooks
    return deliverer


# --- /_sandbox/webhooks ------------------------------------------------------------------


def _text_or_none(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(key, "must be a string")
    return value


async def register(request: Request) -> JSONResponse:
    """``POST /_sandbox/webhooks`` ``{url, events, username?, password?, group_size?,
    active?, faults?}``: registers a target (201 with its id)."""
    body = await read_body(request)
    url = body.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise bad_request("url", "is required: the http(s) URL to POST events to")
    events = body.get("events")
    if not isinstance(events, list) or not events or not set(events) <= set(EVENTS):
        raise bad_request("events", f"must be a non-empty list of {', '.join(EVENTS)}")
    username, password = _text_or_none(body, "username"), _text_or_none(body, "password")
    if (username is None) != (password is None):
        raise bad_request("password", "username and password go together (HTTP Basic)")
    group = body.get("group_size", 1)
    if not isinstance(group, int) or isinstance(group, bool) or not 1 <= group <= MAX_GROUP:
        raise bad_request("group_size", f"must be 1 (no grouping) to {MAX_GROUP}")
    faults = DeliveryFaults.from_json(body.get("faults"))
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise bad_request("active", "must be true or false")
    store = store_of(request)
    with store.write() as conn:
        ensure_schema(conn)
        cursor = conn.execute(
            "INSERT INTO webhooks (url, events, username, password, group_size, active, faults)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (url, json.dumps(sorted(set(events))), username, password, group, int(active),
             json.dumps(faults.to_json())),
        )  # fmt: skip
        webhook_id = cursor.lastrowid
    return JSONResponse({"id": webhook_id}, status_code=201)


async def list_webhooks(request: Request) -> JSONResponse:
    """``GET /_sandbox/webhooks``: every registration (never its password)."""
    with store_of(request).read() as conn:
        try:
            rows = conn.execute(
                "SELECT id, url, events, username, group_size, active, faults FROM webhooks"
                " ORDER BY id"
            ).fetchall()
        except sqlite3.OperationalError:
            rows = []
    items = [
        {"id": i, "url": u, "events": json.loads(e), "username": n, "group_size": g,
         "active": bool(a), "faults": json.loads(f)}
        for i, u, e, n, g, a, f in rows
    ]  # fmt: skip
    return JSONResponse({"items": items, **deliverer_of(request).counts()})


async def update_webhook(request: Request) -> JSONResponse:
    """``PATCH /_sandbox/webhooks/{id}`` ``{active?, faults?}``: pauses, resumes or
    changes the faults of a registration."""
    body = await read_body(request)
    webhook_id = int(request.path_params["webhook_id"])
    sets: dict[str, Any] = {}
    if "active" in body:
        if not isinstance(body["active"], bool):
            raise bad_request("active", "must be true or false")
        sets["active"] = int(body["active"])
    if "faults" in body:
        sets["faults"] = json.dumps(DeliveryFaults.from_json(body["faults"]).to_json())
    with store_of(request).write() as conn:
        ensure_schema(conn)
        if conn.execute("SELECT 1 FROM webhooks WHERE id = ?", (webhook_id,)).fetchone() is None:
            raise ApiError(404, f"no webhook {webhook_id}")
        if sets:
            assignments = ", ".join(f"{k} = ?" for k in sets)
            conn.execute(
                f"UPDATE webhooks SET {assignments} WHERE id = ?", (*sets.values(), webhook_id)
            )
    return JSONResponse(
        {"id": webhook_id, **{k: body[k] for k in ("active", "faults") if k in body}}
    )


async def deliveries(request: Request) -> JSONResponse:
    """``GET /_sandbox/webhooks/deliveries``: every delivery row, oldest first, with its
    event, learner, course, when it fired and was delivered (epoch seconds), attempts,
    last answer, and the group it went in (``group_id``: the grouped envelope's
    ``message_id``; ``group_pos``: its place in ``payloads``); filters ``event``, ``user``
    (username), ``course`` (code)."""
    where, args = [], []
    if request.query_params.get("event"):
        where.append("d.event = ?")
        args.append(request.query_params["event"])
    if request.query_params.get("user"):
        where.append("u.username = ?")
        args.append(request.query_params["user"])
    if request.query_params.get("course"):
        where.append("c.code = ?")
        args.append(request.query_params["course"])
    sql = (
        "SELECT d.id, d.webhook_id, d.message_id, d.event, u.username, c.code, d.fired_at,"
        " d.delivered_at, d.attempts, d.failed, d.last_status, d.duplicate, d.group_id,"
        " d.group_pos"
        " FROM webhook_deliveries d JOIN users u ON u.id = d.user_id"
        " JOIN courses c ON c.id = d.course_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY d.id"
    )
    with store_of(request).read() as conn:
        try:
            rows = conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            rows = []
    keys = ("id", "webhook_id", "message_id", "event", "user", "course", "fired_at",
            "delivered_at", "attempts", "failed", "last_status", "duplicate", "group_id",
            "group_pos")  # fmt: skip
    items = [dict(zip(keys, row, strict=True)) for row in rows]
    for item in items:
        item["failed"] = bool(item["failed"])
        item["duplicate"] = bool(item["duplicate"])
    return JSONResponse({"items": items})


async def flush(request: Request) -> JSONResponse:
    """``POST /_sandbox/webhooks/flush``: delivers everything pending now (delays and
    back-off ignored); answers ``{delivered, pending, failed}``."""
    counts = await asyncio.to_thread(deliverer_of(request).flush)
    return JSONResponse(counts)
