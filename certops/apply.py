"""Executing a plan against the LMS: the only place where certops writes.

Each change carries its own write, whole and typed (``certops.plan.model``): the executor
sends exactly that and reads nothing of the configuration or of the snapshot the plan was
made from; the only reads are the create-once check before a create and the read-back
after each write. Changes run in the plan's dependency order. A create that fails makes
every change that needs its object skip (an enrollment in a course that could not be
created, a catalog item of a missing catalog); everything else still runs, including
changes to an object whose update failed (it exists, so what depends on it can still be
done). When the LMS becomes unreachable the run stops and the rest is reported as not
attempted. Each attempted change is announced in the audit log before it is sent and
settled there as soon as its outcome is known (``certops.audit``: a write-ahead log), so
an interrupted run leaves a true record. Manual changes are never "done" by certops: they
are reported as such.
"""

from __future__ import annotations

import asyncio
import getpass
import os
from collections import defaultdict
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, TypeVar

from certops.audit import DONE, FAILED, UNKNOWN, AuditLog, AuditLogError
from certops.engine.compare import group_differences, settings_differences
from certops.engine.desired import DesiredSetup
from certops.errors import LMSError
from certops.lms.api import EnrollmentUpdate, LMSWriter, NewEnrollment
from certops.lms.errors import (
    LMSConnectionError,
    LMSCredentialsError,
    LMSIgnoredFieldError,
    LMSUnavailableError,
)
from certops.lms.paths import ENROLL_CHUNK
from certops.lms.records import EnrollmentStatus, RowResult
from certops.plan.model import (
    Action,
    CatalogItemWrite,
    CatalogWrite,
    Change,
    ChangeType,
    CourseWrite,
    EnrollmentWrite,
    GroupWrite,
    Target,
    TargetKind,
    course_target,
)
from certops.readback import (
    enrollment_problems,
    verify_catalog_item,
    verify_course,
    verify_enrollment,
    verify_group,
)
from certops.secrets import redact_known

Progress = Callable[[str], None]
T = TypeVar("T")

INTERRUPTED_IN_FLIGHT = "interrupted while in flight: it may or may not have been applied"
ALREADY_THERE = (
    "already in the LMS (another writer created it after this plan was read), otherwise "
    "than this plan wants; nothing was sent: run plan again"
)
ALREADY_DONE = "already in the LMS as this plan wants it (another writer made it); nothing was sent"

# Errors after which nothing else can succeed: stop, report the rest as not attempted.
# A field the tenant ignored stops the run too: every later write would drift the same way.
FATAL = (LMSConnectionError, LMSUnavailableError, LMSCredentialsError, LMSIgnoredFieldError)
# Of those, the ones that may strike while a write is in flight: its outcome is unknown.
IN_DOUBT = (LMSConnectionError, LMSUnavailableError)

__all__ = ["ApplyReport", "AuditLog", "AuditLogError", "Executor", "Outcome", "Result"]


class Exists(StrEnum):
    """What the create-once check found: nothing, the object as wanted, or otherwise."""

    NO = "no"
    AS_WANTED = "as_wanted"
    OTHERWISE = "otherwise"


class Result(StrEnum):
    """What became of one change in an apply run."""

    APPLIED = "applied"
    FAILED = "failed"
    SKIPPED = "skipped"  # a change it depends on failed
    NOT_ATTEMPTED = "not_attempted"  # the run stopped before it
    MANUAL = "manual"  # a person must do it; certops did nothing


@dataclass(frozen=True, slots=True)
class Outcome:
    """One change and what became of it; ``message`` says why when it was not applied."""

    change: Change
    result: Result
    message: str = ""
    # A failure while the write was in flight: it may have reached the LMS anyway.
    uncertain: bool = False


@dataclass(slots=True)
class ApplyReport:
    """Every change's outcome, in the order they were settled, and why the run stopped."""

    outcomes: list[Outcome] = field(default_factory=list)
    stopped: str = ""  # why the run stopped early, if it did

    def count(self, result: Result) -> int:
        """How many changes ended with ``result``."""
        return sum(1 for o in self.outcomes if o.result is result)

    @property
    def ok(self) -> bool:
        """True when nothing failed, was skipped or was left undone (exit code 0)."""
        return not any(
            o.result in (Result.FAILED, Result.SKIPPED, Result.NOT_ATTEMPTED) for o in self.outcomes
        )

    def summary(self) -> str:
        """One line: what was and was not done."""
        parts = [
            f"{self.count(Result.APPLIED)} applied",
            f"{self.count(Result.FAILED)} failed",
            f"{self.count(Result.SKIPPED)} skipped",
        ]
        if self.count(Result.NOT_ATTEMPTED):
            parts.append(f"{self.count(Result.NOT_ATTEMPTED)} not attempted")
        parts.append(f"{self.count(Result.MANUAL)} manual (for a person to do)")
        return "Apply: " + ", ".join(parts) + "."


def _audit_kind(outcome: Outcome) -> str:
    if outcome.result is Result.APPLIED:
        return DONE
    return UNKNOWN if outcome.uncertain else FAILED


def manages(desired: DesiredSetup) -> Callable[[Target], bool]:
    """Whether a target names something ``desired`` manages (for audit resolution)."""
    catalog = f"catalog.{desired.catalog.code}" if desired.catalog else ""
    addresses = {course_target(c).address for c in desired.courses}
    addresses |= {Target(TargetKind.GROUP, name=g).address for g in desired.groups}
    addresses |= {
        Target(TargetKind.CATALOG_ITEM, catalog=i.catalog_code, course=i.course_code).address
        for i in desired.catalog_items
    }
    addresses |= {catalog} - {""}

    def check(target: Target) -> bool:
        if target.kind is TargetKind.ENROLLMENT:
            return target.course in desired.courses and bool(target.user)
        if target.kind in (TargetKind.COURSE_CHECK, TargetKind.SAVED):
            # A check is never written; a saved target's parts are unknown: an enrollment
            # among them cannot be told apart, the setup objects by their whole address.
            return target.kind is TargetKind.SAVED and target.address in addresses
        return target.address in addresses

    return check


def current_actor(env: dict[str, str] | None = None) -> str:
    """Who is applying: the CI user when in CI, else the login name."""
    env = dict(os.environ) if env is None else env
    for name in ("CERTOPS_ACTOR", "GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILD_REQUESTEDFOR"):
        if env.get(name):
            return env[name]
    for name in ("USER", "USERNAME", "LOGNAME"):
        if env.get(name):
            return env[name]
    try:
        # Containers and cron jobs often run without USER; the account name still says who.
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


async def _verified(writer: LMSWriter, row: NewEnrollment, what: str) -> bool:
    """True once the enrollment ``row`` created reads back as sent (``verify_enrollment``
    raises otherwise)."""
    await verify_enrollment(writer, row, what)
    return True


def _depends_on(change: Change) -> list[str]:
    """The addresses of the objects ``change`` needs to exist."""
    target = change.target
    if target.kind is TargetKind.CATALOG_ITEM:
        return [
            Target(TargetKind.CATALOG, catalog=target.catalog).address,
            course_target(target.course).address,
        ]
    if target.kind is TargetKind.ENROLLMENT:
        return [course_target(target.course).address]
    return []


class Executor:
    """Runs changes with a writer, in order, tracking what each one became. Each change's
    ``write`` is all it sends."""

    def __init__(
        self,
        writer: LMSWriter,
        progress: Progress | None = None,
        audit: AuditLog | None = None,
        on_settled: Callable[[int], None] | None = None,
    ) -> None:
        self.writer = writer
        self.say = progress or (lambda _m: None)
        self.audit = audit
        # Told how many changes each step settled (a progress display counts them).
        self.on_settled = on_settled
        self.report = ApplyReport()
        # Objects that were to be created and were not: what needs them must skip.
        self.missing: set[str] = set()
        # The ids of the courses this run created (or found made by another writer): the
        # enrollments planned in them could not know them.
        self.created: dict[str, int] = {}

    async def run(self, changes: Sequence[Change]) -> ApplyReport:
        """Execute ``changes`` (in dependency order, as a plan holds them); returns the
        report of every change's outcome."""
        setup = [c for c in changes if c.type is not ChangeType.ENROLLMENT]
        enrollments = [c for c in changes if c.type is ChangeType.ENROLLMENT]
        for change in setup:
            # Manual steps are a person's job whether or not the run stopped.
            if change.action is Action.MANUAL:
                self._record(change, Result.MANUAL, "; ".join(change.steps))
                continue
            if self.report.stopped:
                self._record(change, Result.NOT_ATTEMPTED, self.report.stopped)
                continue
            blocked = [a for a in _depends_on(change) if a in self.missing]
            if blocked:
                self._record(change, Result.SKIPPED, f"needs {blocked[0]}, which was not created")
                continue
            if change.action is Action.CREATE:
                there = await self._guard([], self._exists_already(change))
                if there is None:  # the run stopped (LMS gone, Ctrl-C) while checking
                    self._record(change, Result.NOT_ATTEMPTED, self.report.stopped)
                    continue
                if there is not Exists.NO:
                    # It exists: what needs it goes ahead. Made as this change would make
                    # it, the change is done; made otherwise, the next plan says how.
                    if there is Exists.AS_WANTED:
                        self._record(change, Result.APPLIED, ALREADY_DONE)
                    else:
                        self._record(change, Result.SKIPPED, ALREADY_THERE)
                        self.missing.discard(change.address)
                    continue
            await self._guard([change], self._setup_change(change))
        if enrollments:
            await self._enrollments(enrollments)
        return self.report

    def _record(
        self, change: Change, result: Result, message: str = "", *, uncertain: bool = False
    ) -> None:
        self._record_all([Outcome(change, result, message, uncertain)])

    def _record_all(self, outcomes: Sequence[Outcome]) -> None:
        """Settles ``outcomes``; those of writes go to the audit log in one durable append."""
        # Row messages are the LMS's own text: cut out any secret it may have echoed.
        outcomes = [replace(o, message=redact_known(o.message)) for o in outcomes]
        for outcome in outcomes:
            self.report.outcomes.append(outcome)
            if outcome.change.action is Action.CREATE and outcome.result is not Result.APPLIED:
                self.missing.add(outcome.change.address)
        if self.on_settled is not None:
            self.on_settled(sum(o.change.action is not Action.MANUAL for o in outcomes))
        if self.audit is not None:
            try:
                self.audit.settle_many(
                    (o.change, _audit_kind(o), o.message)
                    for o in outcomes
                    if o.result in (Result.APPLIED, Result.FAILED)
                )
            except AuditLogError as exc:
                # The writes happened; their intents are on disk, so the next apply settles
                # them from what the LMS holds. Nothing more is sent meanwhile.
                self.report.stopped = self.report.stopped or (
                    f"stopped: {exc}; the next apply settles the writes it could not record"
                )

    async def _exists_already(self, change: Change) -> Exists:
        """Whether the object ``change`` creates is in the LMS now (another writer made it
        since the plan was read), and if so whether as the change would make it; then its
        id is taken and nothing is sent. A failed read says nothing: the create goes ahead
        and meets the same trouble."""
        target, write = change.target, change.write
        try:
            # Narrow reads: a search by code or name (one small page each), then the
            # object's detail only when one is found.
            if target.kind is TargetKind.COURSE:
                found = await self.writer.find_course(target.course, detail=False)
                if found is None:
                    return Exists.NO
                self.created[target.course] = found.id
                if isinstance(write, CourseWrite):
                    live = await self.writer.get_course(found.id)
                    if not settings_differences(write.settings, write.verify, live):
                        return Exists.AS_WANTED
                return Exists.OTHERWISE
            if target.kind is TargetKind.GROUP:
                groups = await self.writer.list_groups(target.name)
                match = next((g for g in groups if g.name == target.name), None)
                if match is None:
                    return Exists.NO
                if isinstance(write, GroupWrite):
                    live_group = await self.writer.get_group(match.id)
                    if not group_differences(write, live_group):
                        return Exists.AS_WANTED
                return Exists.OTHERWISE
            if target.kind is TargetKind.CATALOG:
                catalogs = await self.writer.list_catalogs()
                there = any(c.code == target.catalog for c in catalogs)
                return Exists.AS_WANTED if there else Exists.NO  # a catalog is its code
        except FATAL:
            raise
        except LMSError:
            return Exists.NO
        return Exists.NO

    async def _guard(self, changes: Sequence[Change], work: Coroutine[Any, Any, T]) -> T | None:
        """Await ``work`` for ``changes``; on an LMS error mark them failed (and stop when
        the LMS is gone). Returns the work's result, or None when it failed.

        The audit log records the intent to send ``changes`` durably before anything is;
        when it cannot, nothing is sent and the run stops."""
        if self.audit is not None and changes:
            try:
                self.audit.intend(changes)
            except AuditLogError as exc:
                work.close()  # never awaited: nothing was sent
                self.report.stopped = f"stopped: {exc}"
                self._record_all([Outcome(c, Result.NOT_ATTEMPTED, str(exc)) for c in changes])
                return None
        try:
            result = await work
        except FATAL as exc:
            doubt = isinstance(exc, IN_DOUBT)
            self._record_all([Outcome(c, Result.FAILED, str(exc), doubt) for c in changes])
            self.report.stopped = f"stopped after an LMS error: {exc}"
            return None
        except LMSError as exc:
            self._record_all([Outcome(c, Result.FAILED, str(exc)) for c in changes])
            return None
        except asyncio.CancelledError:
            # Ctrl-C: the call in flight may or may not have reached the LMS. Say so, stop,
            # and let the run end with its summary instead of a traceback.
            settled = {id(o.change) for o in self.report.outcomes}
            self._record_all(
                [
                    Outcome(c, Result.FAILED, INTERRUPTED_IN_FLIGHT, uncertain=True)
                    for c in changes
                    if id(c) not in settled
                ]
            )
            self.report.stopped = "interrupted (Ctrl-C); run plan to see what remains"
            return None
        return result

    def _not_kept(self, changes: Sequence[Change]) -> None:
        """The LMS accepted ``changes`` but a read-back shows it did not keep them: the
        audit log says so (a ``failed`` line after their ``done``), so that nothing takes
        the values for ones certops wrote and someone changed since."""
        if self.audit is None or not changes:
            return
        why = f"accepted but not kept by the LMS (read back): {self.report.stopped}"
        try:
            self.audit.settle_many([(c, FAILED, why) for c in changes])
        except AuditLogError as exc:
            self.report.stopped = f"stopped: {exc}"

    async def _setup_change(self, change: Change) -> list[Any]:
        """Send one setup change's write, then read the object back."""
        target, write = change.target, change.write
        if isinstance(write, CourseWrite):
            code = target.course
            if write.course_id is None:
                course_id = (await self.writer.create_course(code, write.settings)).id
                self.created[code] = course_id
            else:
                course_id = write.course_id
                await self.writer.update_course(course_id, write.settings, write.send)
            await verify_course(self.writer, code, write, course_id)
            self._record(change, Result.APPLIED)
        elif isinstance(write, CatalogWrite):
            await self.writer.create_catalog(write.code, write.name)
            self._record(change, Result.APPLIED)
        elif isinstance(write, CatalogItemWrite):
            row = await self.writer.add_catalog_item(write.catalog, write.course)
            if row.ok:
                await verify_catalog_item(self.writer, write.catalog, write.course)
                self._record(change, Result.APPLIED)
            elif await self._in_catalog(write):  # put there by another writer meanwhile
                self._record(change, Result.APPLIED, ALREADY_DONE)
            else:
                self._record(change, Result.FAILED, row.message)
        elif isinstance(write, GroupWrite):
            name = target.name
            if write.group_id is None:
                made = await self.writer.create_group(
                    name, write.description, write.rules, write.operator
                )
                group_id = made.id
            else:
                group_id = write.group_id
                await self.writer.update_group(
                    group_id, write.description, write.rules, write.operator
                )
            await verify_group(self.writer, name, write, group_id)
            self._record(change, Result.APPLIED)
        else:
            self._record(change, Result.FAILED, f"certops cannot apply {change.type} changes")
        return []

    async def _enrollments(self, changes: list[Change]) -> None:
        creates: list[tuple[str, Change, NewEnrollment]] = []
        # Updates that set the same values in one course go in one call.
        updates: dict[tuple[Any, ...], list[tuple[Change, int]]] = defaultdict(list)
        for change in changes:
            if self.report.stopped:
                self._record(change, Result.NOT_ATTEMPTED, self.report.stopped)
                continue
            write = change.write
            course = change.target.course
            needed = course_target(course).address
            if needed in self.missing:
                why = f"needs {needed}, which was not created"
                self._record(change, Result.SKIPPED, why)
                continue
            if not isinstance(write, EnrollmentWrite):
                self._record(change, Result.FAILED, f"certops cannot apply {change.address}")
                continue
            course_id = write.course_id if write.course_id is not None else self.created.get(course)
            if course_id is None:
                self._record(change, Result.FAILED, f"course {course} not found in the LMS")
                continue
            if change.action is Action.CREATE:
                row = NewEnrollment(
                    user_id=write.user_id,
                    course_id=course_id,
                    status=write.status or EnrollmentStatus.ENROLLED,
                    completed_at=write.completed_at,
                    valid_from=write.valid_from,
                    valid_until=write.valid_until,
                )
                creates.append((course, change, row))
            else:
                key = (
                    course,
                    course_id,
                    write.status,
                    write.completed_at,
                    write.valid_from,
                    write.valid_until,
                )
                updates[key].append((change, write.user_id))

        if creates:
            # Rows carry their course, so the batches span courses and are all full instead
            # of each course ending with a partial one. One enroll() call per batch: a run
            # that stops mid-way then knows exactly which rows were sent (results map back
            # to the changes by their row index).
            creates.sort(key=lambda t: t[0])  # stable: by course, then in plan order
            courses = len({course for course, _, _ in creates})
            self.say(f"enrolling {_count(len(creates), 'learner')} in {_count(courses, 'course')}")
            for start in range(0, len(creates), ENROLL_CHUNK):
                batch = creates[start : start + ENROLL_CHUNK]
                new = [r for *_, r in batch]
                rows = await self._rows([c for _, c, _ in batch], self.writer.enroll(new), new)
                # Prove the batch took: read back one created row, the first that has a
                # validity window (a certified-course row has none to check), else the first.
                created = [i for i, row in enumerate(rows or []) if row.ok]
                windowed = [i for i in created if batch[i][2].valid_until is not None]
                chosen = windowed or created
                first = chosen[0] if chosen else None
                if first is not None and not self.report.stopped:
                    _, change, row = batch[first]
                    kept = await self._guard([], _verified(self.writer, row, change.address))
                    if not kept:
                        self._not_kept([batch[i][1] for i in created])
        # By course (stable: updates of one course in the order the plan lists them).
        for key, same in sorted(updates.items(), key=lambda kv: kv[0][0]):
            course, course_id, status, completed_at, valid_from, valid_until = key
            update = EnrollmentUpdate(
                course_id=course_id,
                user_ids=tuple(uid for _, uid in same),
                status=status,
                completed_at=completed_at,
                valid_from=valid_from,
                valid_until=valid_until,
            )
            self.say(f"updating {_count(len(same), 'enrollment')} in {course}")
            await self._rows([c for c, _ in same], self.writer.update_enrollments(update))

    async def _in_catalog(self, write: CatalogItemWrite) -> bool:
        """Whether the course is in the catalog after all (a refused add)."""
        try:
            await verify_catalog_item(self.writer, write.catalog, write.course)
        except LMSIgnoredFieldError:
            return False
        return True

    async def _enrolled_as_wanted(
        self, rows: Sequence[NewEnrollment], indices: Sequence[int]
    ) -> list[int]:
        """Of the refused ``rows`` (at ``indices``), those whose learner is enrolled already
        with the status and validity the row asked for: one read for all of them. A failed
        read finds none (the rows stay failed)."""
        try:
            found = await self.writer.list_enrollments(
                sorted({r.course_id for r in rows}), sorted({r.user_id for r in rows})
            )
        except FATAL:
            raise
        except LMSError:
            return []
        live = {(e.user_id, e.course_id): e for e in found}
        out = []
        for index, row in zip(indices, rows, strict=True):
            there = live.get((row.user_id, row.course_id))
            if there is not None and not enrollment_problems(row, there):
                out.append(index)
        return out

    async def _rows(
        self,
        changes: list[Change],
        work: Any,
        created: Sequence[NewEnrollment] = (),
    ) -> list[RowResult] | None:
        """Await a batch write for ``changes``, record each row's outcome, and return the
        row results (None when the batch failed or was not sent). With ``created`` (the
        rows of a batch enrollment), a row refused because the learner is enrolled already
        is done when that enrollment is as the row wanted it (another writer made it)."""
        if self.report.stopped:
            for change in changes:
                self._record(change, Result.NOT_ATTEMPTED, self.report.stopped)
            work.close()
            return None
        rows = await self._guard(changes, work)
        if rows is None:
            return None
        by_index = {row.index: row for row in rows}
        failed = [i for i in range(len(changes)) if i in by_index and not by_index[i].ok]
        if created and failed:
            for i in await self._enrolled_as_wanted([created[i] for i in failed], failed):
                by_index[i] = replace(by_index[i], ok=True, message=ALREADY_DONE)
        outcomes = []
        for index, change in enumerate(changes):
            row = by_index.get(index)
            if row is None:
                outcomes.append(
                    Outcome(change, Result.FAILED, "the LMS returned no result for this row")
                )
            else:
                result = Result.APPLIED if row.ok else Result.FAILED
                outcomes.append(Outcome(change, result, row.message))
        # One durable append for the whole batch (a batch is one write).
        self._record_all(outcomes)
        return [by_index.get(index, RowResult(index, False)) for index in range(len(changes))]
