"""The worker of ``certops listen``: from queued events to the learners' enrollment changes.

Each round takes the due events, coalesces them per learner and, holding the writer lock
that ``apply`` holds too (waiting for it, never failing), reads only those learners'
enrollments in the courses the products name (one filtered list call for the whole
round) and each learner's user record (one lookup each). The same pure engine as
``plan`` evaluates them at "now" (``plan_enrollments``) and the same ``Executor`` as
``apply`` writes the changes, with the write-ahead audit log.

What ``listen`` writes is narrower than ``apply``: enrollment changes only, in courses
that exist (setup, the enrollment rule and notifications stay with ``apply``), never a
suspension (a deadline passing is the nightly apply's business, where the safety limit
watches the whole population), never a delete. Events for learners or courses no product
names are acknowledged and dropped. An LMS error keeps the events queued and retries
them with back-off; after ``max_attempts`` they go to the dead letters.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from certops.address import LMSAddress
from certops.apply import Result, current_actor
from certops.audit import AuditLog, AuditLogError, new_run_id, run_file
from certops.config import load_config
from certops.config.model import Config
from certops.connection import connect_writer
from certops.engine.facts import product_course_codes
from certops.errors import CertopsError, ConfigError
from certops.history import LISTEN_DIGEST, AuditContext
from certops.listen.queue import DONE, DROPPED, EventQueue, Queued
from certops.lms import RetryPolicy
from certops.lms.api import LMSWriter, gather_settled
from certops.lms.records import Enrollment, User
from certops.lock import LockTimeoutError, WriterLock, lock_path
from certops.plan.classes import config_digest
from certops.plan.jsonio import order_changes
from certops.plan.model import Change
from certops.revision import config_revision
from certops.run import execute, learner_changes

Say = Callable[[str], None]

COURSE_REFRESH_S = 30.0  # an unknown course id re-reads the course list at most this often
LOCK_POLL_S = 2.0
# The queue retries with its own back-off and keeps the events meanwhile, so one request
# retries only briefly: a blip is smoothed over, an outage goes back to the queue fast.
LISTEN_RETRY = RetryPolicy(
    attempts=3, base_delay=0.25, max_delay=2.0, deadline=60.0
)  # how long one try for the writer lock waits before saying so again


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """How the worker reaches the LMS and how it retries."""

    lms: LMSAddress
    audit_path: Path
    # An audit folder (``--audit-dir``): each UTC day's writes go to a file of their own
    # in it, shared with apply's per-run files; ``audit_path`` is then unused.
    audit_dir: Path | None = None
    max_attempts: int = 8
    retry_base_s: float = 1.0
    retry_cap_s: float = 300.0
    batch_learners: int = 200  # learners per round (one list call, one executor run)
    max_in_flight: int = 4
    calls_per_hour: int | None = None


class ConfigSource:
    """The configuration, reloadable: a reload that fails keeps the last good one."""

    def __init__(self, paths: Sequence[str], say: Say) -> None:
        self.paths = list(paths)
        self.say = say
        self.config: Config = load_config(self.paths)
        self.loaded_at = time.time()
        self.error = ""
        self.generation = 0
        self.requested = False

    def reload(self) -> bool:
        """Loads the files again; returns whether the configuration changed generation."""
        self.requested = False
        try:
            config = load_config(self.paths)
        except ConfigError as exc:
            for problem in exc.problems:
                self.say(str(problem))
            self.error = f"{exc}; still using the configuration loaded before"
            self.say(f"configuration not reloaded: {self.error}")
            return False
        self.config, self.error = config, ""
        self.loaded_at = time.time()
        self.generation += 1
        self.say(f"configuration reloaded ({len(config.products)} product(s))")
        return True

    def fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        """What ``--watch`` compares: every config file below the paths, its mtime and size."""
        files: set[Path] = {Path(f) for f in self.config.files}
        for raw in self.paths or ["certops" if Path("certops").is_dir() else "."]:
            path = Path(raw)
            if path.is_dir():
                files.update(p for ext in ("*.yaml", "*.yml") for p in path.rglob(ext))
        found = []
        for file in sorted(files):
            try:
                stat = file.stat()
            except OSError:
                continue
            found.append((str(file), stat.st_mtime_ns, stat.st_size))
        return tuple(found)


@dataclass(slots=True)
class Stats:
    """What the worker did since it started (shown by ``/healthz``)."""

    rounds: int = 0
    learners_reconciled: int = 0
    changes_applied: int = 0
    lock_waits: int = 0
    last_error: str = ""
    waiting_for_lock: bool = False


class Worker:
    """Drains the queue round by round (see the module doc)."""

    def __init__(
        self, queue: EventQueue, settings: WorkerSettings, source: ConfigSource, say: Say
    ) -> None:
        self.queue = queue
        self.settings = settings
        self.source = source
        self.say = say
        self.stats = Stats()
        self.wake = asyncio.Event()
        self.stopping = False
        self.running = False
        self._connection: Any = None
        self._writer: LMSWriter | None = None
        self._course_ids: dict[str, int] = {}
        self._courses_read_at = 0.0
        self._courses_generation = -1
        self._actor = f"{current_actor()} (certops listen)"
        self._run = new_run_id()  # names this process's files in an audit folder

    # --- the loop ------------------------------------------------------------------------

    async def run(self) -> None:
        """Runs rounds until ``stopping``; sleeps until woken or the next retry is due."""
        self.running = True
        try:
            await self._loop()
        finally:
            self.running = False
            await self.close()

    async def _loop(self) -> None:
        while not self.stopping:
            # Cleared before looking at the queue: an event queued from here on wakes the
            # wait below at once instead of waiting for the timeout.
            self.wake.clear()
            if self.source.requested:
                self.source.reload()
            try:
                handled = await self.round()
            except Exception as exc:  # the queue itself failed (e.g. the disk is full)
                self.stats.last_error = self._why(exc)
                self.say(f"round failed: {self.stats.last_error}")
                await asyncio.sleep(1.0)  # no hot loop while the cause persists
                handled = 0
            if handled or self.stopping:
                continue
            next_due = await asyncio.to_thread(self.queue.next_due)
            timeout = 5.0 if next_due is None else max(0.0, min(5.0, next_due - time.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)

    async def close(self) -> None:
        """Closes the LMS connection."""
        if self._connection is not None:
            connection, self._connection, self._writer = self._connection, None, None
            await connection.__aexit__(None, None, None)

    async def _lms(self) -> LMSWriter:
        if self._writer is None:
            connection = connect_writer(
                self.settings.lms,
                max_in_flight=self.settings.max_in_flight,
                calls_per_hour=self.settings.calls_per_hour,
                progress=self.say,
                retry=LISTEN_RETRY,
            )
            self._writer = await connection.__aenter__()
            self._connection = connection
        assert self._writer is not None
        return self._writer

    async def _courses(self, lms: LMSWriter, wanted: set[int]) -> dict[str, int]:
        """Code -> id of every existing course the products name; read again after a
        reload, and (at most every ``COURSE_REFRESH_S``) when an event names a course id
        not known yet (``apply`` may have created it since)."""
        config = self.source.config
        stale = self._courses_generation != self.source.generation
        unknown = wanted - set(self._course_ids.values())
        if stale or (unknown and time.monotonic() - self._courses_read_at > COURSE_REFRESH_S):
            named = {code for p in config.products for code in product_course_codes(p)}
            listed = await lms.list_courses()
            self._course_ids = {c.code: c.id for c in listed if c.code in named}
            self._courses_read_at = time.monotonic()
            self._courses_generation = self.source.generation
        return self._course_ids

    async def _lock(self) -> WriterLock:
        lock = WriterLock(
            lock_path(self.settings.lms), LOCK_POLL_S, what="certops listen", progress=None
        )
        told = False
        while True:
            try:
                await asyncio.to_thread(lock.acquire)
                self.stats.waiting_for_lock = False
                return lock
            except LockTimeoutError:
                if self.stopping:
                    raise
                self.stats.waiting_for_lock = True
                if not told:
                    self.stats.lock_waits += 1
                    self.say(
                        f"another writer (an apply?) holds {lock.path}; the events wait "
                        "in the queue until it is done"
                    )
                    told = True

    # --- one round -----------------------------------------------------------------------

    async def round(self) -> int:
        """Reconciles the learners of the due events; returns how many events it handled."""
        due = await asyncio.to_thread(self.queue.due, None, self.settings.batch_learners * 5)
        if not due:
            return 0
        by_user: dict[int, list[Queued]] = {}
        for event in due:
            if event.user_id in by_user or len(by_user) < self.settings.batch_learners:
                by_user.setdefault(event.user_id, []).append(event)
        taken = [e for events in by_user.values() for e in events]
        self.stats.rounds += 1
        try:
            lms = await self._lms()
            course_ids = await self._courses(lms, {e.course_id for e in taken})
        except Exception as exc:
            await self._retry(taken, self._why(exc))
            await self._drop_connection()
            return len(taken)
        named = set(course_ids.values())
        foreign = [e for e in taken if e.course_id not in named]
        if foreign:
            await self._settle(foreign, DROPPED, "course not named by any product")
        learners = {
            uid: [e for e in events if e.course_id in named] for uid, events in by_user.items()
        }
        learners = {uid: events for uid, events in learners.items() if events}
        if not learners:
            return len(taken)
        lock = await self._lock()
        try:
            await self._reconcile(lms, course_ids, learners)
        except Exception as exc:
            await self._retry([e for es in learners.values() for e in es], self._why(exc))
            await self._drop_connection()
        finally:
            lock.release()
        return len(taken)

    def _why(self, exc: Exception) -> str:
        """The reason a round failed, for the queue and ``/healthz``. An error certops
        expects (the LMS, the audit log) says it in words; anything else is a bug, whose
        traceback goes to stderr while the events stay queued (they dead-letter after
        ``max_attempts`` if it persists, instead of blocking the queue)."""
        if isinstance(exc, CertopsError):
            return str(exc)
        self.say("unexpected error in a round:\n" + traceback.format_exc().rstrip())
        return f"unexpected {type(exc).__name__}: {exc}"

    async def _drop_connection(self) -> None:
        try:
            await self.close()
        except Exception:  # closing a broken connection may fail too; it is gone either way
            self._connection, self._writer = None, None

    async def _settle(self, events: Sequence[Queued], state: str, outcome: str) -> None:
        await asyncio.to_thread(self.queue.settle, [e.seq for e in events], state, outcome)

    async def _retry(self, events: Sequence[Queued], error: str) -> None:
        self.stats.last_error = error
        s = self.settings
        dead = await asyncio.to_thread(
            self.queue.retry,
            [e.seq for e in events],
            error,
            base_s=s.retry_base_s,
            cap_s=s.retry_cap_s,
            max_attempts=s.max_attempts,
        )
        learners = len({e.user_id for e in events})
        self.say(f"{learners} learner(s) kept queued for a retry: {error}")
        if dead:
            self.say(f"{dead} event(s) moved to the dead letters after {s.max_attempts} attempts")

    async def _reconcile(
        self, lms: LMSWriter, course_ids: dict[str, int], learners: dict[int, list[Queued]]
    ) -> None:
        config = self.source.config
        enrollments = await lms.list_enrollments(sorted(set(course_ids.values())), sorted(learners))
        mine: dict[int, list[Enrollment]] = {}
        for enrollment in enrollments:
            mine.setdefault(enrollment.user_id, []).append(enrollment)
        strangers = [e for uid, es in learners.items() if uid not in mine for e in es]
        if strangers:
            await self._settle(strangers, DROPPED, "not enrolled in any course a product names")
        known = {uid: es for uid, es in learners.items() if uid in mine}
        users = await self._users(lms, known)
        missing = [e for uid, es in known.items() if uid not in users for e in es]
        if missing:
            await self._settle(missing, DROPPED, "no user with this id and username")
        t = datetime.now(UTC)
        per_learner: dict[int, list[Change]] = {}
        for uid, user in users.items():
            per_learner[uid] = learner_changes(config, user, mine[uid], course_ids, t)
        unchanged = [e for uid, cs in per_learner.items() if not cs for e in known[uid]]
        if unchanged:
            await self._settle(unchanged, DONE, "no change needed")
        writes = {uid: cs for uid, cs in per_learner.items() if cs}
        self.stats.learners_reconciled += len(users)
        if not writes:
            return
        await self._write(lms, t, users, known, writes)

    async def _users(self, lms: LMSWriter, learners: dict[int, list[Queued]]) -> dict[int, User]:
        """One lookup per learner, by the username the events carry; the id must match."""
        order = sorted(learners)
        names = [next((e.username for e in learners[uid] if e.username), "") for uid in order]

        async def lookup(name: str) -> User | None:
            return await lms.find_user(name) if name else None

        found = await gather_settled(lookup(name) for name in names)
        return {
            uid: user
            for uid, user in zip(order, found, strict=True)
            if user is not None and user.id == uid
        }

    async def _write(
        self,
        lms: LMSWriter,
        t: datetime,
        users: dict[int, User],
        events: dict[int, list[Queued]],
        writes: dict[int, list[Change]],
    ) -> None:
        """Apply the learners' ``writes`` and record, per learner, what came of them."""
        changes = order_changes(c for cs in writes.values() for c in cs)
        config = self.source.config
        # Each intent and outcome line names the messages that asked for it: the learner's
        # reconciliation is in the log even if the run is killed before its summary line.
        why = {
            change.address: {
                "listen": {
                    "message_ids": sorted({e.message_id for e in events[uid]}),
                    "events": sorted({e.event for e in events[uid]}),
                }
            }
            for uid, changed in writes.items()
            for change in changed
        }
        context = AuditContext(
            at=t,
            revision=config_revision(config.files),
            config_digests={
                p: config_digest(config, p) for p in (None, *(p.id for p in config.products))
            },
            extra=why,
        )
        path = self.settings.audit_path
        if self.settings.audit_dir is not None:
            day = t.replace(hour=0, minute=0, second=0, microsecond=0)
            path = run_file(self.settings.audit_dir, day, self._run, kind="listen")
        audit = AuditLog(path, LISTEN_DIGEST, self._actor, lms.lms, context=context)
        try:
            audit.check_writable()
        except AuditLogError as exc:
            raise CertopsError(str(exc)) from None
        try:
            report = await execute(lms, changes, audit=audit)
            outcomes = {id(o.change): o for o in report.outcomes}
            for uid, done_changes in writes.items():
                results = [outcomes.get(id(c)) for c in done_changes]
                ok = all(o is not None and o.result is Result.APPLIED for o in results)
                problems = [
                    f"{o.change.address}: {o.message}"
                    for o in results
                    if o is not None and o.result is not Result.APPLIED
                ]
                message_ids = sorted({e.message_id for e in events[uid]})
                audit.record(
                    "listen",
                    {
                        "user": users[uid].username,
                        "user_id": uid,
                        "message_ids": message_ids,
                        "events": sorted({e.event for e in events[uid]}),
                        "changes": [c.address for c in done_changes],
                        "result": "applied" if ok else "failed",
                        **({"message": "; ".join(problems)} if problems else {}),
                    },
                )
                if ok:
                    self.stats.changes_applied += len(done_changes)
                    await self._settle(events[uid], DONE, f"{len(done_changes)} applied")
                    self.say(
                        f"{users[uid].username}: {len(done_changes)} change(s) applied "
                        f"(message {', '.join(message_ids)})"
                    )
                else:
                    await self._retry(events[uid], "; ".join(problems) or report.stopped)
        finally:
            audit.close()
        if report.stopped:
            await self._drop_connection()
