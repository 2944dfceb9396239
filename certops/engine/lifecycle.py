"""The certification lifecycle (docs/lifecycle.md): one learner, one product, instant ``t``.

``evaluate`` replays a learner's history as a sequence of events in time order and returns
their ``LearnerState`` at ``t``: certified, suspended (lapsed), revoked or never certified,
what they owe, by when, and every transition with a reason a person can read. It is a pure
function of the product, the facts and ``t``: nothing after ``t`` (completions,
reinstatements, revocations) has any effect, so ``--at`` previews and replays agree.

Interpretations where section 6 is silent (each pinned by a test):

- **Only evidence at or before ``t`` counts.** A completion, reinstatement or revocation
  dated after ``t`` is ignored. A learner certified exactly at ``t`` is certified at ``t``.
- **Initial path.** ``c0`` is the earliest path completion; on a tie the first path in
  config order names it. Later re-completions cannot exist (one completion per course).
- **Never certified means nothing applies.** Reinstatements and revocations dated before
  ``c0`` (or for a learner with no ``c0`` at all) are ignored.
- **When an obligation starts.** Period ``k`` becomes owed at the first instant
  ``τ ≥ opens_k`` at which the learner is certified *and* has no outstanding earlier
  obligation; it is owed only if ``τ < d_k(u)``. So ``c0`` inside a period's window means
  the learner owes that period from ``c0`` (validity still ``[opens_k, d_k)``), and a period
  whose window ends while the learner works on an extended earlier period is not owed at
  all (rule 3's conditions must hold at the same instant). Nothing is owed before
  ``opens_k``: ``owes`` is None between periods.
- **Grace.** Checked when the obligation would start: owed only if
  ``d_k(u) - s >= new_learner_grace_days`` where ``s`` is the latest certification start
  (``c0`` or the last reinstatement). Otherwise the period is exempt (a history note at
  ``τ``) and the next period is considered from its own ``opens``.
- **Meeting.** Any completion of period ``k``'s course strictly before ``d_k(u)`` meets it,
  even one before ``opens_k`` or before the obligation started (rule 4 only bounds it by the
  deadline); the obligation is then met as soon as it starts, and ``met_at`` is the
  completion instant.
- **Extensions.** ``d_k(u)`` is the latest of ``due_k``, the whole period's extension and
  the learner's extensions for ``k`` (config checks reject shortening; if several exist the
  latest wins, so the result never depends on their order). A whole period's extension is
  every learner's extension of it: the period's window is ``[opens_k, d_k)`` with the
  extension applied, so it may overlap the next period's. The history notes an extension
  at the deadline it moves, only if the learner is still working on the period then.
- **"The period current at r"** (rule 6): the obligation search restarts at ``r`` with
  ``s = r``, from the missed (or revoked) period onward: periods whose window ended before
  ``r`` are skipped; the first whose window contains ``r``, or else the next to open, is
  owed subject to the grace. A period interrupted by a revocation and still open at ``r``
  is owed again (one obligation record, not two).
- **Late completion** (6a) is only of the period that lapsed most recently. With
  ``late_completion: manual`` it changes nothing; the history notes it and
  ``needs_review`` says a person should decide (add a reinstatement to the config).
- **Revocation** applies to a certified or a lapsed learner; an outstanding obligation
  ends with it (outcome ``revoked``, no lapse later). While revoked, late completions do
  nothing and further revocations are no-ops. Reinstatements given while the learner is
  certified are no-ops.
- **Same instant.** Events at one instant apply in this order: meeting a period,
  extension note, lapse, reinstatement (config before late completion), revocation, start
  of the next obligation. So a revocation and a reinstatement at the same instant leave
  the learner revoked ("only a *later* reinstatement restores"), a completion exactly at
  the deadline lapses and (with ``reinstate``) reinstates at that same instant.
- ``since`` is the instant of the last change of ``state``; notes (period met, extension,
  exemption, manual late completion) are in ``history`` but do not move ``since``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from operator import attrgetter, itemgetter
from types import MappingProxyType

from certops.config.model import (
    Extension,
    LateCompletion,
    Period,
    Product,
    Reinstatement,
    Revocation,
    due_day,
    end_of_day,
)
from certops.engine.facts import FactsError, LearnerFacts


class CertificationState(StrEnum):
    CERTIFIED = "certified"
    SUSPENDED = "suspended"  # lapsed: missed a maintenance deadline
    REVOKED = "revoked"
    NEVER = "never"


class ObligationOutcome(StrEnum):
    OUTSTANDING = "outstanding"  # owed at t, deadline not reached, not met
    MET = "met"
    LAPSED = "lapsed"
    REVOKED = "revoked"  # certification revoked while the period was owed


@dataclass(frozen=True, slots=True)
class Obligation:
    """One period a learner owed (or owes): its window and how it ended."""

    period: str
    course: str  # the period's maintenance course code
    opens_at: datetime
    deadline: datetime  # exclusive, extension applied
    outcome: ObligationOutcome
    met_at: datetime | None = None  # the completion instant that met it
    extension: str | None = None  # the extension's reason ("" if none given); None: no extension
    # When it became owed, and when it stopped being owed (met, lapsed, revoked; None while
    # outstanding): what a report reads to tell who owed it at an earlier instant. Not part
    # of what an obligation is, so not compared.
    owed_from: datetime | None = field(default=None, compare=False)
    closed_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Transition:
    """A dated entry of a learner's history; ``state`` is the state from ``at`` on."""

    at: datetime
    state: CertificationState
    reason: str
    note: bool = False  # True: an event that did not change the state (period met, ...)


@dataclass(frozen=True, slots=True)
class LearnerState:
    """A learner's certification in one product at an instant (section 6, rule 8)."""

    username: str
    product: str
    state: CertificationState
    since: datetime | None = None  # when ``state`` began; None for never certified
    path: str | None = None  # the initial path that certified them first
    certified_at: datetime | None = None  # c0
    owes: str | None = None  # period id outstanding at t
    deadline: datetime | None = None  # exclusive deadline of ``owes``
    obligations: tuple[Obligation, ...] = ()
    history: tuple[Transition, ...] = ()
    needs_review: str | None = None  # something a person should decide (manual late completion)

    @property
    def certified(self) -> bool:
        return self.state is CertificationState.CERTIFIED

    @property
    def reason(self) -> str:
        """The reason of the last change of state ("" for never certified)."""
        for entry in reversed(self.history):
            if not entry.note:
                return entry.reason
        return ""


def _day(instant: datetime) -> str:
    return instant.date().isoformat()


def and_list(items: Sequence[str]) -> str:
    """``A``, ``A and B``, ``A, B and C``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _utc(instant: datetime, what: str) -> datetime:
    if instant.tzinfo is None:
        raise FactsError(f"{what} must be a timezone-aware instant (UTC), got {instant!r}")
    return instant.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ProductRules:
    """A product's per-learner config, indexed by username once (not once per learner).

    Build it with ``ProductRules.of(product)`` and pass it to ``evaluate`` when evaluating
    many learners: looking up extensions and reinstatements is then O(1) per learner.
    """

    product: Product
    windows: tuple[tuple[datetime, datetime], ...]  # per period: (opens_at, deadline)
    extensions: Mapping[str, Mapping[str, Extension]]  # username -> period id -> extension
    # Per period: the whole period's extension as every learner's (user ""), or None.
    period_extensions: tuple[Extension | None, ...]
    reinstatements: Mapping[str, tuple[Reinstatement, ...]]  # sorted by (at, reason)
    revocations: Mapping[str, tuple[Revocation, ...]]  # sorted by (at, reason)
    grace: timedelta  # new_learner_grace_days, once per product

    @classmethod
    def of(cls, product: Product) -> ProductRules:
        """Index ``product``'s extensions, reinstatements and revocations by username."""
        known = {p.id for p in product.maintenance.periods}
        extensions: dict[str, dict[str, Extension]] = {}
        for ext in product.extensions:
            if ext.period not in known:
                continue  # config checks report it; the engine just cannot apply it
            mine = extensions.setdefault(ext.user, {})
            held = mine.get(ext.period)
            # the latest `until` wins; equal dates: the smaller reason, so order never matters
            if held is None or (ext.until, ext.reason) > (held.until, held.reason):
                mine[ext.period] = ext
        reinstatements: dict[str, list[Reinstatement]] = {}
        for rein in product.reinstatements:
            reinstatements.setdefault(rein.user, []).append(rein)
        revocations: dict[str, list[Revocation]] = {}
        for rev in product.revocations:
            revocations.setdefault(rev.user, []).append(rev)
        return cls(
            product=product,
            grace=timedelta(days=product.maintenance.new_learner_grace_days),
            windows=tuple((p.opens_at, p.deadline) for p in product.maintenance.periods),
            period_extensions=tuple(
                Extension("", p.id, p.extension.until, p.extension.reason)
                if p.extension is not None and p.extension.until > p.due
                else None
                for p in product.maintenance.periods
            ),
            extensions=MappingProxyType({u: MappingProxyType(m) for u, m in extensions.items()}),
            reinstatements=MappingProxyType(
                {
                    u: tuple(sorted(rs, key=lambda r: (_utc(r.at, "reinstatement"), r.reason)))
                    for u, rs in reinstatements.items()
                }
            ),
            revocations=MappingProxyType(
                {
                    u: tuple(sorted(vs, key=lambda v: (_utc(v.at, "revocation"), v.reason)))
                    for u, vs in revocations.items()
                }
            ),
        )


def initial_certification(
    product: Product, completions: Mapping[str, datetime], t: datetime
) -> tuple[datetime, str, tuple[str, ...]] | None:
    """Rule 1: ``(c0, path name, path courses)`` from completions at or before ``t``.

    Returns None when no initial path is complete by ``t``.
    """
    best: tuple[datetime, str, tuple[str, ...]] | None = None
    for path in product.initial_paths:
        finished: datetime | None = None
        for code in path.all_of:
            instant = completions.get(code)
            if instant is None or instant > t:
                finished = None
                break
            if finished is None or instant > finished:
                finished = instant
        if finished is None:
            continue
        # strictly earlier only: on a tie the first path in config order keeps it
        if best is None or finished < best[0]:
            best = (finished, path.name, path.all_of)
    return best


# Event priorities at one instant (see the module docstring, "Same instant").
_MET, _EXTENSION, _LAPSE, _REINSTATE, _REVOKE, _OBLIGATION = range(6)
_WHEN = itemgetter(0, 1)  # a candidate's (instant, priority)
_AT = attrgetter("at")
_NO_EXTENSIONS: Mapping[str, Extension] = MappingProxyType({})


@dataclass(slots=True)
class _Open:
    """The obligation being worked on."""

    index: int
    period: Period
    starts: datetime
    deadline: datetime
    extension: Extension | None
    moved_from: datetime  # the deadline the extension moves (the period's, before it)
    extension_noted: bool = False


class _Replay:
    """Replays one learner's events in time order up to ``t`` (mutable, private)."""

    __slots__ = (
        "course_done",
        "extensions",
        "grace",
        "history",
        "lapsed",
        "late",
        "late_noted",
        "needs_review",
        "next_period",
        "now",
        "obligations",
        "open",
        "period_extensions",
        "periods",
        "reinstatements",
        "revocations",
        "ri",
        "since",
        "start",
        "state",
        "t",
        "vi",
        "windows",
    )

    def __init__(self, rules: ProductRules, facts: LearnerFacts, t: datetime, c0: datetime) -> None:
        product = rules.product
        self.t = t
        self.periods = product.maintenance.periods
        self.windows = rules.windows
        self.grace = rules.grace
        self.late = product.maintenance.late_completion
        self.extensions = rules.extensions.get(facts.username, _NO_EXTENSIONS)
        self.period_extensions = rules.period_extensions
        self.reinstatements = rules.reinstatements.get(facts.username, ())
        self.revocations = rules.revocations.get(facts.username, ())
        completions = facts.completions

        def course_done(code: str) -> datetime | None:
            done = completions.get(code)
            return done if done is not None and done <= t else None

        self.course_done = course_done
        self.state = CertificationState.CERTIFIED
        self.since = c0
        self.start = c0  # latest certification start (c0 or a reinstatement): the grace base
        self.now = c0
        self.next_period = 0
        self.open: _Open | None = None
        self.lapsed: _Open | None = None  # the obligation whose lapse suspended the learner
        self.late_noted = False
        self.needs_review: str | None = None
        self.obligations: list[Obligation] = []
        self.history: list[Transition] = []
        # revocations and reinstatements dated before c0 never apply
        self.vi = bisect_left(self.revocations, c0, key=_AT) if self.revocations else 0
        self.ri = bisect_left(self.reinstatements, c0, key=_AT) if self.reinstatements else 0

    # -- helpers -------------------------------------------------------------------------

    def _deadline(self, index: int) -> tuple[datetime, Extension | None, datetime]:
        """The learner's deadline for period ``index``, the extension that set it (their
        own, else the whole period's), and the deadline that extension moves."""
        period = self.periods[index]
        due = self.windows[index][1]
        if self.extensions:
            ext = self.extensions.get(period.id)
            if ext is not None and ext.until > period.last_day:
                return end_of_day(ext.until), ext, due
        whole = self.period_extensions[index]
        if whole is not None:
            return due, whole, period.own_deadline
        return due, None, due

    def _note(self, at: datetime, reason: str) -> None:
        self.history.append(Transition(at, self.state, reason, True))  # a note

    def _become(self, state: CertificationState, at: datetime, reason: str) -> None:
        self.state = state
        self.since = at
        self.history.append(Transition(at, state, reason, False))

    def close(self, ob: _Open, outcome: ObligationOutcome, met_at: datetime | None) -> None:
        self.obligations.append(
            # Every field, in order: period, course, opens_at, deadline, outcome, met_at,
            # extension, owed_from, closed_at.
            Obligation(
                ob.period.id,
                ob.period.course.code,
                self.windows[ob.index][0],
                ob.deadline,
                outcome,
                met_at,
                None if ob.extension is None else ob.extension.reason,
                ob.starts,
                None if outcome is ObligationOutcome.OUTSTANDING else self.now,
            )
        )

    def _next_revocation(self) -> Revocation | None:
        if self.vi < len(self.revocations) and self.revocations[self.vi].at <= self.t:
            return self.revocations[self.vi]
        return None

    def _next_reinstatement(self) -> Reinstatement | None:
        # Only a reinstatement at or after the lapse (strictly after a revocation) restores.
        lo = (bisect_left if self.state is CertificationState.SUSPENDED else bisect_right)(
            self.reinstatements, self.since, lo=self.ri, key=_AT
        )
        self.ri = lo
        if lo < len(self.reinstatements) and self.reinstatements[lo].at <= self.t:
            return self.reinstatements[lo]
        return None

    def _next_owed(self) -> tuple[int, datetime] | None:
        # The next period whose window is still open once the learner is free at `now`.
        while self.next_period < len(self.periods):
            starts = max(self.now, self.windows[self.next_period][0])
            if starts < self._deadline(self.next_period)[0]:
                return self.next_period, starts
            self.next_period += 1  # window ended while not free to owe it: not owed
        return None

    # -- the replay ----------------------------------------------------------------------

    def candidates(self) -> list[tuple[datetime, int, object]]:
        """The events that can happen next in the current state, as (at, priority, what)."""
        found: list[tuple[datetime, int, object]] = []
        state = self.state
        if state is CertificationState.CERTIFIED:
            ob = self.open
            if ob is None:
                owed = self._next_owed()
                if owed is not None:
                    found.append((owed[1], _OBLIGATION, owed[0]))
            else:
                done = self.course_done(ob.period.course.code)
                if done is not None and done < ob.deadline:
                    found.append((max(done, ob.starts), _MET, done))
                if ob.extension is not None and not ob.extension_noted:
                    found.append((max(ob.moved_from, ob.starts), _EXTENSION, None))
                found.append((ob.deadline, _LAPSE, None))
        elif state is CertificationState.SUSPENDED:
            rein = self._next_reinstatement()
            if rein is not None:
                found.append((rein.at, _REINSTATE, rein))
            missed = self.lapsed
            if missed is not None:
                done = self.course_done(missed.period.course.code)
                reinstates = self.late == LateCompletion.REINSTATE
                if done is not None and (reinstates or not self.late_noted):
                    found.append((max(done, self.since), _REINSTATE, missed))
        elif state is CertificationState.REVOKED:
            rein = self._next_reinstatement()
            if rein is not None:
                found.append((rein.at, _REINSTATE, rein))
        rev = self._next_revocation()
        if rev is not None:
            found.append((max(rev.at, self.now), _REVOKE, rev))
        return found

    def run(self) -> None:
        t = self.t
        while True:
            found = [c for c in self.candidates() if c[0] <= t]
            if not found:
                return
            # Earliest instant first, then the lowest priority (never compares ``what``).
            at, kind, what = found[0] if len(found) == 1 else min(found, key=_WHEN)
            self.now = at
            if kind == _OBLIGATION:
                assert isinstance(what, int)
                self._owe(what, at)
            elif kind == _MET:
                assert self.open is not None and isinstance(what, datetime)
                ob, self.open = self.open, None
                self.close(ob, ObligationOutcome.MET, what)
                self._note(at, f"completed {ob.period.course.code} on {_day(what)}")
            elif kind == _EXTENSION:
                assert self.open is not None and self.open.extension is not None
                self.open.extension_noted = True
                ext = self.open.extension
                text = f"extension until {ext.until.isoformat()}"
                self._note(at, f"{text}: {ext.reason}" if ext.reason else text)
            elif kind == _LAPSE:
                assert self.open is not None
                ob, self.open = self.open, None
                self.close(ob, ObligationOutcome.LAPSED, None)
                self.lapsed, self.late_noted = ob, False
                self._become(
                    CertificationState.SUSPENDED,
                    at,
                    f"did not complete {ob.period.course.code} by "
                    f"{due_day(ob.deadline).isoformat()} (UTC)",
                )
            elif kind == _REINSTATE:
                self._reinstate(at, what)
            else:
                assert isinstance(what, Revocation)
                self._revoke(at, what)

    def _owe(self, index: int, at: datetime) -> None:
        period = self.periods[index]
        deadline, ext, moved_from = self._deadline(index)
        if deadline - self.start < self.grace:
            self.next_period = index + 1
            self._note(
                at,
                f"certified fewer than {self.grace.days} days before "
                f"{due_day(deadline).isoformat()}: exempt from {period.id}",
            )
            return
        last = self.obligations[-1] if self.obligations else None
        if last and last.period == period.id and last.outcome is ObligationOutcome.REVOKED:
            # owed again after a revocation interrupted it: one record, not two
            self.obligations.pop()
        self.next_period = index + 1
        self.open = _Open(index, period, at, deadline, ext, moved_from)

    def _reinstate(self, at: datetime, what: object) -> None:
        if isinstance(what, Reinstatement):
            self.ri += 1
            reason = f"reinstated: {what.reason}" if what.reason else "reinstated"
        else:
            assert isinstance(what, _Open)
            done = self.course_done(what.period.course.code)
            assert done is not None
            reason = (
                f"completed {what.period.course.code} late on {_day(done)} "
                f"(late_completion: {self.late.value})"
            )
            if self.late != LateCompletion.REINSTATE:
                self.late_noted = True
                self._note(at, reason)
                self.needs_review = (
                    f"{reason}: add a reinstatement to the config to restore the certification"
                )
                return
        self.lapsed = None
        self.needs_review = None
        self.start = at
        self._become(CertificationState.CERTIFIED, at, reason)

    def _revoke(self, at: datetime, rev: Revocation) -> None:
        self.vi += 1
        if self.state is CertificationState.REVOKED:
            return  # already revoked: nothing more to end
        if self.open is not None:
            ob, self.open = self.open, None
            self.close(ob, ObligationOutcome.REVOKED, None)
            self.next_period = ob.index  # owed again if reinstated while its window is open
        self.lapsed = None
        self.needs_review = None
        self._become(
            CertificationState.REVOKED, at, f"revoked: {rev.reason}" if rev.reason else "revoked"
        )


def evaluate(
    product: Product,
    facts: LearnerFacts,
    t: datetime,
    *,
    rules: ProductRules | None = None,
) -> LearnerState:
    """The learner's certification in ``product`` at instant ``t`` (rules 1-8).

    Returns a ``LearnerState``; pass ``rules`` (``ProductRules.of(product)``) when evaluating
    many learners of one product. Raises ``FactsError`` if ``t`` has no timezone.
    """
    t = _utc(t, "t")
    if rules is None or rules.product is not product:
        rules = ProductRules.of(product)
    first = initial_certification(product, facts.completions, t)
    if first is None:
        return LearnerState(facts.username, product.id, CertificationState.NEVER)
    c0, path, courses = first
    replay = _Replay(rules, facts, t, c0)
    replay.history.append(
        Transition(
            c0,
            CertificationState.CERTIFIED,
            f"completed {and_list(courses)} on {_day(c0)} (path {path})",
            False,
        )
    )
    replay.run()
    owes = deadline = None
    if replay.open is not None:
        ob = replay.open
        replay.close(ob, ObligationOutcome.OUTSTANDING, None)
        owes, deadline = ob.period.id, ob.deadline
    # Every field, in order.
    return LearnerState(
        facts.username,
        product.id,
        replay.state,
        replay.since,
        path,
        c0,  # certified_at
        owes,
        deadline,
        tuple(replay.obligations),
        tuple(replay.history),
        replay.needs_review,
    )


def earlier(state: LearnerState, s: datetime) -> tuple[CertificationState, bool] | None:
    """The learner's state at an instant ``s`` no later than the one ``state`` was
    evaluated at, and whether they owed a period then: what ``evaluate`` at ``s`` would
    say, read off ``state``'s history and obligations instead of replaying them (evidence
    after ``s`` never changes what happened before it). None when that cannot be read off:
    a learner revoked at some point (a reinstatement after a revocation merges the period
    owed before and after it into one record); evaluate them at ``s`` instead."""
    if state.state is CertificationState.NEVER:
        return CertificationState.NEVER, False
    current = CertificationState.NEVER
    for entry in state.history:
        if entry.note:
            continue
        if entry.state is CertificationState.REVOKED:
            return None
        if entry.at <= s:
            current = entry.state
    if current is not CertificationState.CERTIFIED:
        return current, False
    owing = any(
        ob.owed_from is not None
        and ob.owed_from <= s
        and (ob.closed_at is None or s < ob.closed_at)
        for ob in state.obligations
    )
    return current, owing
