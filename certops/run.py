"""The one way through certops: read the LMS, build the plan, check it, execute it.

Every command that plans goes through here: ``plan`` (``plan_run``), ``apply``
(``apply_run``), ``report`` (``read_snapshot``), ``status`` (``read_status``,
``learner_states``) and ``listen`` (``learner_changes``). It sits above the pure engine
(``certops.engine``) and the plan records (``certops.plan``), below the command line,
which only parses options, renders and asks. ``build_plan`` is the pipeline of
docs/architecture.md in one pure function: compile the desired setup, diff it against
the live setup, add the manual steps, evaluate every learner and plan their enrollments,
check the safety limits, and order everything by dependency.

The LMS connection is passed in (``connect``: by default ``certops.connection``'s
``connect_reader``, or ``connect_writer`` for ``apply_run``), so that callers and tests
choose the transport and its retries.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from certops.address import LMSAddress
from certops.apply import ApplyReport, AuditLog, Executor, current_actor, manages
from certops.config.model import Config, Product, Reference, RefKind
from certops.connection import connect_reader, connect_writer
from certops.engine import logins
from certops.engine.checks import setup_checks
from certops.engine.compare import diff_setup, setup_warnings
from certops.engine.deadlines import deadline_warnings
from certops.engine.desired import DesiredSetup, desired_setup
from certops.engine.enrollments import plan_enrollments
from certops.engine.facts import LearnerFacts, collect_facts
from certops.engine.idle import idle_exceptions
from certops.engine.lifecycle import LearnerState, evaluate
from certops.engine.manual import Acknowledgements, manual_steps
from certops.engine.safety import (
    MAX_SUSPEND_FRACTION,
    check_by_hand,
    check_plan_safety,
    check_reverted_drift,
)
from certops.errors import SafetyLimitError, StalePlanError
from certops.history import AuditContext
from certops.live import Learners, LiveSnapshot, read_learners, read_live
from certops.lms.api import LMSReader, LMSWriter
from certops.plan.classes import AppliedRecord, classify, config_digest, reverts_a_hand_edit
from certops.plan.jsonio import order_changes, plan_digest
from certops.plan.model import (
    Action,
    ByHand,
    Change,
    ChangeClass,
    ChangeType,
    EnrollmentWrite,
    Plan,
    PlanWarning,
    SafetyTrip,
    Skip,
    enrollment_target,
)
from certops.records import Enrollment, EnrollmentStatus, User
from certops.references import verify_references, with_usernames
from certops.revision import config_revision

# ``certops.connection.connect_reader``'s and ``connect_writer``'s shape: (address, *,
# progress=..., limits...) -> an async context manager yielding a reader or a writer.
ConnectReader = Callable[..., AbstractAsyncContextManager[LMSReader]]
ConnectWriter = Callable[..., AbstractAsyncContextManager[LMSWriter]]
Say = Callable[[str], None]
SHARED_SAFETY = "(shared)"  # the product a safety trip names for shared objects


def _quiet(message: str) -> None:
    """Progress nobody asked to see."""


@dataclass(frozen=True, slots=True, repr=False)
class Planned:
    """A plan and what ``apply`` needs to carry it out."""

    plan: Plan
    desired: DesiredSetup
    # ``plan_run(base=...)``: the plan of the base configuration (what a pull request
    # merges into) from the same snapshot at the same instant.
    base: Plan | None = None

    def __repr__(self) -> str:
        # asyncio.run formats the repr of its task's result when it restores the SIGINT
        # handler (CPython 3.11, python/cpython#112559): with every change in it, that was
        # seconds and ~100 MB at 100,000 learners. A summary is all a repr needs.
        return f"Planned(at={self.plan.at.isoformat()}, changes={len(self.plan.changes)})"


def only_products(config: Config, product_ids: tuple[str, ...]) -> Config:
    """``config`` limited to ``product_ids`` (all products when empty)."""
    if not product_ids:
        return config
    return replace(config, products=tuple(p for p in config.products if p.id in product_ids))


def build_plan(
    config: Config,
    live: LiveSnapshot,
    t: datetime,
    acks: Acknowledgements,
    record: AppliedRecord | None = None,
) -> Planned:
    """The plan that brings ``live`` to what ``config`` asks for at ``t``, each change
    classed (drift / schedule / config) against ``record``, what certops last did (read
    from the audit log by the caller; None: no log). Exceptions may name their learner by
    e-mail address: they are evaluated as the username ``live`` gives that address."""
    config = with_usernames(config, live)
    planned = _assemble(config, live, t, acks)
    # Each change is looked up among the plan's changes at the last apply's instant.
    # Enrollment changes only ever match enrollment changes (their addresses are their
    # own): without one now, the learners need not be planned again at that instant,
    # which is most of a plan's work (a plan with only manual steps left, every run).
    learners = any(c.type is ChangeType.ENROLLMENT for c in planned.plan.changes)

    def changes_at(instant: datetime) -> tuple[Change, ...]:
        return _assemble(config, live, instant, acks, learners=learners).plan.changes

    changes = classify(planned.plan.changes, config, record, changes_at)
    plan = replace(planned.plan, changes=changes)
    # Values certops wrote and someone changed since (the audit log's evidence, not the
    # class): setting them back needs the configuration's consent (max_reverted_drift).
    if record is not None and record.written:
        reverts: dict[str, int] = {}
        # A status set by hand is asked about once, by max_reverted_manual.
        by_hand = {mark.address for mark in plan.by_hand}
        for change in changes:
            if change.address in by_hand:
                continue
            if reverts_a_hand_edit(change, record.written.get(change.address)):
                key = change.product or SHARED_SAFETY
                reverts[key] = reverts.get(key, 0) + 1
        trips = [
            trip
            for product, count in reverts.items()
            if (trip := check_reverted_drift(product, count, config.settings.safety))
        ]
        if trips:
            plan = replace(plan, safety=(*plan.safety, *trips))
    return replace(planned, plan=plan)


def _assemble(
    config: Config,
    live: LiveSnapshot,
    t: datetime,
    acks: Acknowledgements,
    *,
    learners: bool = True,
) -> Planned:
    """The unclassified plan at ``t``; without ``learners``, only its setup and manual
    steps (no product's learners are evaluated)."""
    desired = desired_setup(config, t)
    changes: list[Change] = list(diff_setup(desired, live.setup))
    warnings: list[PlanWarning] = list(setup_warnings(desired, live.setup))
    skipped: list[Skip] = []
    safety: list[SafetyTrip] = []
    by_hand: list[ByHand] = []
    limits: list[SafetyTrip] = []
    changes += _manual(config, t, acks, desired)

    course_ids: dict[str, int | None] = {code: None for code in desired.courses}
    course_ids.update(live.course_ids)
    for product in config.products if learners else ():
        planned = plan_enrollments(product, live.learner_facts(product), course_ids, t)
        changes += planned.changes
        skipped += planned.skipped
        warnings += deadline_warnings(product, planned, t, config.settings)
        warnings += planned.warnings
        trip = check_plan_safety(planned, config.settings.safety)
        if trip is not None:
            safety.append(trip)
        warnings += _idle_warnings(config, product, planned.states, live, t)
        by_hand += planned.by_hand
        hand_trip = check_by_hand(planned, config.settings.safety)
        if hand_trip is not None:
            safety.append(hand_trip)
        certified, suspensions = planned.currently_certified, planned.suspensions
        limits.append(
            trip
            or SafetyTrip(
                product=product.id,
                limit=MAX_SUSPEND_FRACTION,
                value=suspensions / certified if certified else 0.0,
                threshold=config.settings.safety.max_suspend_fraction,
                suspensions=suspensions,
                certified=certified,
            )
        )

    plan = Plan(
        at=t,
        lms=live.lms,
        changes=order_changes(changes),
        safety=tuple(safety),
        warnings=tuple(warnings),
        skipped=tuple(skipped),
        products=tuple(p.id for p in config.products),
        by_hand=tuple(by_hand),
        limits=tuple(limits),
    )
    return Planned(plan=plan, desired=desired)


def _idle_warnings(
    config: Config,
    product: Product,
    states: Sequence[LearnerState],
    live: LiveSnapshot,
    t: datetime,
) -> list[PlanWarning]:
    """A warning, located where it is written, for each exception of ``product`` that
    changes nothing for its learner (``certops.engine.idle``). Deactivated users with no
    enrollment are left to the reference check, which already warns about them."""
    named = {
        *(e.user for e in product.extensions),
        *(r.user for r in product.reinstatements),
        *(r.user for r in product.revocations),
    }
    known = {s.username for s in states}
    skip = {
        user
        for user in named - known
        if user in live.user_ids and not live.users_by_id[live.user_ids[user]].active
    }
    idle = idle_exceptions(product, states, t, skip)
    if not idle:
        return []
    located: dict[RefKind, list[Reference]] = {}
    for ref in config.references:
        if ref.product == product.id and ref.is_user:
            located.setdefault(ref.kind, []).append(ref)
    certified = product.certified_course.code
    warnings = []
    for item in idle:
        refs = located.get(item.kind, [])
        where = f"{refs[item.index].location}: " if item.index < len(refs) else ""
        warnings.append(
            PlanWarning(
                product.id,
                f"{where}{item.kind.value} of {item.user} changes nothing: {item.why}",
                enrollment_target(certified, item.user).address,
            )
        )
    return warnings


def _manual(
    config: Config, t: datetime, acks: Acknowledgements, desired: DesiredSetup
) -> list[Change]:
    return manual_steps(config, t, acks) + setup_checks(desired, acks)


def pending_manual_steps(config: Config, t: datetime, acks: Acknowledgements) -> list[Change]:
    """The manual steps a plan at ``t`` shows (enrollment rules, notifications, a digest's
    schedule rungs, the courses' visibility checks), those ``acks`` records left out:
    computed from the configuration alone, so ``certops ack`` needs no LMS."""
    return _manual(config, t, acks, desired_setup(config, t))


def with_warnings(planned: Planned, warnings: list[PlanWarning]) -> Planned:
    """``planned`` with ``warnings`` added in front of the plan's own."""
    if not warnings:
        return planned
    plan = replace(planned.plan, warnings=(*warnings, *planned.plan.warnings))
    return replace(planned, plan=plan)


async def read_snapshot(
    config: Config,
    lms: LMSAddress,
    *,
    connect: ConnectReader = connect_reader,
    progress: Say = _quiet,
    connect_kwargs: Mapping[str, Any] | None = None,
) -> LiveSnapshot:
    """What the LMS holds of ``config``, read with a reader (which cannot write)."""
    async with connect(lms, progress=progress, **dict(connect_kwargs or {})) as reader:
        return await read_live(reader, config, progress=progress)


async def plan_run(
    config: Config,
    acks: Acknowledgements,
    lms: LMSAddress,
    at: datetime,
    *,
    connect: ConnectReader = connect_reader,
    record: AppliedRecord | None = None,
    progress: Say = _quiet,
    connect_kwargs: Mapping[str, Any] | None = None,
    base: tuple[Config, Acknowledgements] | None = None,
) -> Planned:
    """Read the LMS, check the configuration's references against it, build the plan;
    with ``base`` (another configuration and its acks), also the base's plan from the
    same snapshot (read for both configurations' products)."""
    wanted = config
    if base is not None:
        # The snapshot is keyed by course code and group name: both products' sets.
        wanted = replace(config, products=config.products + base[0].products)
    live = await read_snapshot(
        wanted, lms, connect=connect, progress=progress, connect_kwargs=connect_kwargs
    )
    warnings = verify_references(config, live)
    planned = with_warnings(build_plan(config, live, at, acks, record), warnings)
    if base is not None:
        planned = replace(planned, base=build_plan(base[0], live, at, base[1], record).plan)
    return planned


@dataclass(frozen=True, slots=True)
class PlanDifference:
    """What an edit of the configuration changes in the plan: ``plan`` is the plan after
    the edit limited to what the plan before it did not have (its changes and warnings;
    its safety trips whole), ``dropped`` the changes the plan before had and the plan
    after no longer makes."""

    plan: Plan
    dropped: tuple[Change, ...]

    @property
    def empty(self) -> bool:
        return not (self.plan.changes or self.plan.warnings or self.dropped)


def _same(change: Change) -> tuple[object, ...]:
    return (change.address, change.action, repr(change.write), change.fingerprint, change.reason)


def edit_difference(
    before: Config, after: Config, live: LiveSnapshot, at: datetime, acks: Acknowledgements
) -> PlanDifference:
    """The plan difference an edit of the configuration (``before`` -> ``after``) makes at
    ``at`` against ``live``. Raises ``ConfigError`` when ``after`` names a user or course
    the LMS does not have."""
    old = build_plan(before, live, at, acks).plan
    new = with_warnings(build_plan(after, live, at, acks), verify_references(after, live)).plan
    kept = {_same(c) for c in old.changes}
    now = {_same(c) for c in new.changes}
    warned = {(w.product, w.message) for w in old.warnings}
    plan = replace(
        new,
        # Whatever the edit adds to the plan, the configuration asks for.
        changes=tuple(
            replace(c, change_class=ChangeClass.CONFIG) for c in new.changes if _same(c) not in kept
        ),
        warnings=tuple(w for w in new.warnings if (w.product, w.message) not in warned),
        skipped=(),
        by_hand=tuple(b for b in new.by_hand if b not in old.by_hand),
    )
    return PlanDifference(plan, tuple(c for c in old.changes if _same(c) not in now))


async def read_status(
    config: Config,
    lms: LMSAddress,
    logins: Iterable[str],
    *,
    connect: ConnectReader = connect_reader,
) -> Learners:
    """The named learners (by username or e-mail) and their enrollments, for ``status``."""
    async with connect(lms) as reader:
        return await read_learners(reader, config, logins)


def learner_states(
    config: Config,
    user: User,
    course_ids: dict[str, int],
    enrollments: Sequence[Enrollment],
    at: datetime,
) -> list[LearnerState]:
    """The learner's state in every configured product at ``at``."""
    codes_by_id = {cid: code for code, cid in course_ids.items()}
    config = logins.with_usernames(config, (user.username,), (user,))
    states = []
    for product in config.products:
        facts = collect_facts(product, [user], enrollments, codes_by_id)
        mine = facts[0] if facts else LearnerFacts(user.username, user.id, user.active)
        states.append(evaluate(product, mine, at))
    return states


def learner_changes(
    config: Config,
    user: User,
    enrollments: Sequence[Enrollment],
    course_ids: dict[str, int],
    t: datetime,
) -> list[Change]:
    """The enrollment changes ``listen`` may make for one learner at ``t``: creates and
    updates in courses that exist, never a suspension (those wait for the nightly apply,
    which checks the safety limits over everyone)."""
    codes_by_id = {cid: code for code, cid in course_ids.items()}
    config = logins.with_usernames(config, (user.username,), (user,))
    changes: list[Change] = []
    for product in config.products:
        facts = collect_facts(product, [user], enrollments, codes_by_id)
        if not facts:
            continue
        planned = plan_enrollments(product, facts, course_ids, t)
        changes += [c for c in planned.changes if _listen_may(c, course_ids)]
    return changes


def _listen_may(change: Change, course_ids: dict[str, int]) -> bool:
    if change.type is not ChangeType.ENROLLMENT:
        return False
    if change.action not in (Action.CREATE, Action.UPDATE):
        return False
    if change.target.course not in course_ids:
        return False  # the nightly apply creates the course first
    write = change.write
    return isinstance(write, EnrollmentWrite) and write.status is not EnrollmentStatus.SUSPENDED


@dataclass(frozen=True, slots=True)
class ApplyRun:
    """What an apply did: its ``planned`` plan, the executor's ``report`` (None when the
    plan had no change), and whether it had writes to make (so the audit log was used)."""

    planned: Planned
    report: ApplyReport | None
    wrote: bool


async def apply_run(
    config: Config,
    acks: Acknowledgements,
    lms: LMSAddress,
    at: datetime,
    *,
    connect: ConnectWriter = connect_writer,
    audit_path: Path,
    audit_sources: Sequence[Path] | None = None,
    record: AppliedRecord | None = None,
    expect_digest: str | None = None,
    saved_lms: str | None = None,
    force: bool = False,
    force_products: Collection[str] = (),
    show: Callable[[Planned], None] = lambda planned: None,
    confirm: Callable[[], None] = lambda: None,
    progress: Say = _quiet,
    connect_kwargs: Mapping[str, Any] | None = None,
    on_writes: Callable[[int], None] | None = None,
    on_settled: Callable[[int], None] | None = None,
) -> ApplyRun:
    """Plan with a writer's reads, settle the writes an earlier run left in doubt, refuse a
    stale saved plan (``expect_digest``) and a tripped safety limit (unless ``force``, or
    the limit tripped for one of ``force_products`` only),
    ``show`` the plan, ``confirm`` the writes (it raises to stop), then execute, every
    write logged ahead in the audit log at ``audit_path`` (``audit_sources``: the files
    that hold earlier runs' lines, when they are not that file: an audit folder).
    ``on_writes`` is told how many changes are about to be written, ``on_settled`` how
    many each step settled.

    Raises ``StalePlanError`` or ``SafetyLimitError`` before anything is written."""
    kwargs = dict(connect_kwargs or {})
    async with connect(lms, progress=progress, **kwargs) as writer:
        live = await read_live(writer, config, progress=progress)
        warnings = verify_references(config, live)
        planned = with_warnings(build_plan(config, live, at, acks, record), warnings)
        plan = planned.plan
        # A saved plan's digest covers the LMS it names (checked to be this one already,
        # perhaps spelled differently): compare like with like.
        digest = plan_digest(plan.changes, plan.at, saved_lms or plan.lms)
        context = AuditContext(
            at=plan.at,
            revision=config_revision(config.files),
            config_digests={p: config_digest(config, p) for p in (None, *plan.products)},
        )
        audit = AuditLog(
            audit_path, digest, current_actor(), plan.lms, context=context, sources=audit_sources
        )
        # Writes an earlier run left in doubt (killed mid-write) are settled first, from
        # what the LMS now holds, whatever this run then does.
        pending = audit.pending()
        if pending:
            audit.check_writable()
            resolved = audit.resolve(pending, plan, manages(planned.desired))
            progress(
                f"settled {len(resolved)} write(s) an earlier run left in doubt, in "
                f"{audit_path}: " + "; ".join(resolved[:5]) + (" ..." if len(resolved) > 5 else "")
            )
        if expect_digest is not None and digest != expect_digest:
            raise StalePlanError(
                "stale plan: the LMS or the configuration changed since it was saved "
                f"(saved {expect_digest}, now {digest}); re-run plan"
            )
        show(planned)
        unforced = sorted({t.product for t in plan.safety if t.product not in force_products})
        if unforced and not force:
            raise SafetyLimitError(
                f"a safety limit tripped for {', '.join(unforced)} (see above); nothing was "
                "applied. Review the plan, then re-run with --force-product ID for each "
                "product whose changes you mean (or --force for every product)"
            )
        if not plan.changes:
            return ApplyRun(planned, None, wrote=False)
        writes = [c for c in plan.changes if c.action is not Action.MANUAL]
        if writes:
            confirm()
            audit.check_writable()
        if on_writes is not None:
            on_writes(len(writes))
        try:
            report = await execute(
                writer, plan.changes, audit=audit, progress=progress, on_settled=on_settled
            )
        finally:
            audit.close()
    return ApplyRun(planned, report, wrote=bool(writes))


async def execute(
    writer: Any,
    changes: Sequence[Change],
    *,
    audit: AuditLog | None,
    progress: Say = _quiet,
    on_settled: Callable[[int], None] | None = None,
) -> ApplyReport:
    """Carry out ``changes`` (in dependency order) with ``writer``, each write logged ahead
    in ``audit``: what ``apply`` and ``listen`` both do once they hold their changes."""
    executor = Executor(writer, progress=progress, audit=audit, on_settled=on_settled)
    return await executor.run(changes)
