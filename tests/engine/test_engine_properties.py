"""Properties of the lifecycle and the enrollment plan over random learner histories."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from certops.config.model import (
    Extension,
    LateCompletion,
    Product,
    Reinstatement,
    Revocation,
)
from certops.engine.enrollments import plan_enrollments
from certops.engine.facts import LearnerFacts
from certops.engine.lifecycle import CertificationState, ObligationOutcome, earlier, evaluate
from certops.lms.records import Enrollment, EnrollmentStatus
from tests.engine.engine_builders import at, product

COURSES = ("WP-101", "WP-102", "WP-EXAM", "MOC-WP-2026", "MOC-WP-2027", "MOC-WP-2028")
IDS = {"CERT-WP": 10, "MOC-WP-2026": 26, "MOC-WP-2027": 27, "MOC-WP-2028": 28}
USERS = ("amy", "bob", "cy")
SECOND = timedelta(seconds=1)

# Instants where the rules change their mind, and a second either side of them.
_EDGES = [at(d) for d in ("2026-01-01", "2027-01-01", "2027-02-01", "2028-01-01", "2029-01-01")]
_EDGES += [e + delta for e in _EDGES for delta in (-SECOND, SECOND)]
instants = st.one_of(
    st.sampled_from(_EDGES),
    st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2029, 6, 1), timezones=st.just(UTC)
    ).map(lambda d: d.replace(microsecond=0)),
)


# Config entries mostly name "amy", the learner of the single-learner properties.
targets = st.sampled_from(("amy", "amy", "bob", "cy"))


@st.composite
def products(draw: st.DrawFn) -> Product:
    extensions = []
    for pid, due in (("2026", date(2026, 12, 31)), ("2027", date(2027, 12, 31))):
        days = draw(st.sampled_from([0, 0, 31, 400]))
        if days:
            extensions.append(Extension(draw(targets), pid, due + timedelta(days)))
    reinstatements = draw(
        st.lists(st.builds(Reinstatement, targets, instants, st.just("r")), max_size=3)
    )
    revocations = draw(st.lists(st.builds(Revocation, targets, instants, st.just("v")), max_size=2))
    return product(
        grace=draw(st.sampled_from([0, 30, 90, 400])),
        late=draw(st.sampled_from(list(LateCompletion))),
        extensions=tuple(extensions),
        reinstatements=tuple(reinstatements),
        revocations=tuple(revocations),
    )


# Learners who certified (mostly early, so that periods apply) and maintain, or not.
initial_instants = st.one_of(
    st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2026, 1, 1), timezones=st.just(UTC)
    ),
    instants,
)


@st.composite
def completions(draw: st.DrawFn) -> dict[str, datetime]:
    done: dict[str, datetime] = {}
    for code in draw(st.sampled_from([("WP-101", "WP-102"), ("WP-EXAM",), ("WP-101",), ()])):
        done[code] = draw(initial_instants)
    for code in COURSES[3:]:
        if draw(st.booleans()):
            done[code] = draw(instants)
    if draw(st.booleans()):
        done["WP-EXAM"] = draw(instants)  # a second path, completed whenever
    return done


def learner(username: str, done: dict[str, datetime], **more: object) -> LearnerFacts:
    return LearnerFacts(username, USERS.index(username) + 1, completions=done, **more)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(products(), completions(), instants, st.randoms(use_true_random=False))
def test_the_state_never_depends_on_the_order_of_facts_or_config(
    config: Product, done: dict[str, datetime], t: datetime, rnd
) -> None:
    items = list(done.items())
    rnd.shuffle(items)
    shuffled = dataclasses.replace(
        config,
        extensions=config.extensions[::-1],
        reinstatements=tuple(rnd.sample(config.reinstatements, len(config.reinstatements))),
        revocations=config.revocations[::-1],
    )
    assert evaluate(config, learner("amy", done), t) == evaluate(
        shuffled, learner("amy", dict(items)), t
    )


@settings(max_examples=150, deadline=None)
@given(products(), completions(), instants, instants)
def test_the_past_is_not_rewritten_by_later_evidence(
    config: Product, done: dict[str, datetime], t1: datetime, t2: datetime
) -> None:
    early, late = sorted((t1, t2))
    whole = evaluate(config, learner("amy", done), late)
    prefix = evaluate(config, learner("amy", done), early)
    assert prefix.history == tuple(h for h in whole.history if h.at <= early)


@settings(max_examples=300, deadline=None)
@given(products(), completions(), instants, instants)
def test_an_earlier_state_read_off_a_later_one_is_what_evaluate_says(
    config: Product, done: dict[str, datetime], t1: datetime, t2: datetime
) -> None:
    # What the report's trend relies on: one evaluation per learner, earlier instants
    # read off it.
    early, late = sorted((t1, t2))
    read = earlier(evaluate(config, learner("amy", done), late), early)
    then = evaluate(config, learner("amy", done), early)
    if read is not None:
        assert read == (then.state, then.certified and then.owes is not None)
    else:  # only a learner revoked at some point is evaluated again
        later = evaluate(config, learner("amy", done), late)
        assert any(h.state is CertificationState.REVOKED for h in later.history)


@settings(max_examples=150, deadline=None)
@given(products(), completions(), instants)
def test_states_are_internally_consistent(
    config: Product, done: dict[str, datetime], t: datetime
) -> None:
    state = evaluate(config, learner("amy", done), t)
    if state.state is CertificationState.NEVER:
        assert (state.history, state.obligations, state.owes) == ((), (), None)
        return
    assert state.certified_at is not None and state.certified_at <= t
    times = [h.at for h in state.history]
    assert times == sorted(times) and times[-1] <= t
    changes = [h for h in state.history if not h.note]
    assert (changes[-1].state, changes[-1].at) == (state.state, state.since)
    order = [p.id for p in config.maintenance.periods]
    owed = [order.index(o.period) for o in state.obligations]
    assert owed == sorted(set(owed)), "each period owed at most once, in order"
    outstanding = [o for o in state.obligations if o.outcome is ObligationOutcome.OUTSTANDING]
    if state.owes is None:
        assert outstanding == []
    else:
        assert state.state is CertificationState.CERTIFIED
        assert outstanding == [state.obligations[-1]]
        assert outstanding[0].opens_at <= t < outstanding[0].deadline == state.deadline
    for ob in state.obligations:
        assert ob.opens_at <= t
        if ob.outcome is ObligationOutcome.MET:
            assert ob.met_at is not None and ob.met_at < ob.deadline


statuses = st.sampled_from(list(EnrollmentStatus))
validity = st.sampled_from([None, at("2026-01-01"), at("2027-01-01"), at("2027-02-01")])


@st.composite
def live_learners(draw: st.DrawFn) -> list[LearnerFacts]:
    people = []
    for username in draw(st.lists(st.sampled_from(USERS), unique=True, max_size=3)):
        uid = USERS.index(username) + 1
        live = {
            code: Enrollment(uid, IDS[code], draw(statuses), None, None, draw(validity),
                             draw(validity), username, code)
            for code in draw(st.lists(st.sampled_from(sorted(IDS)), unique=True))
        }  # fmt: skip
        people.append(learner(username, draw(completions()), active=draw(st.booleans()),
                              enrollments=live))  # fmt: skip
    return people


def apply(people: list[LearnerFacts], changes) -> list[LearnerFacts]:
    """What an LMS holds after doing exactly what the changes ask (the test's own model)."""
    asked: dict[str, list] = {}
    for change in changes:
        _, code, username = change.address.split(".", 2)
        asked.setdefault(username, []).append((code, change.after))
    result = []
    for person in people:
        live = dict(person.enrollments)
        for code, after in asked.get(person.username, ()):
            current = live.get(code) or Enrollment(
                person.user_id, IDS[code], EnrollmentStatus.ENROLLED, course_code=code
            )
            fields: dict[str, object] = {}
            for key, value in after.items():
                fields[key] = value  # typed: a status, or an instant
            live[code] = dataclasses.replace(current, **fields)  # type: ignore[arg-type]
        result.append(dataclasses.replace(person, enrollments=live))
    return result


@settings(max_examples=120, deadline=None)
@given(products(), live_learners(), instants, st.sets(st.sampled_from(sorted(IDS))))
def test_applying_the_plan_and_planning_again_changes_nothing(
    config: Product, people: list[LearnerFacts], t: datetime, missing: set[str]
) -> None:
    # courses in `missing` do not exist yet: the same apply creates them
    ids = {code: (None if code in missing else cid) for code, cid in IDS.items()}
    people = sorted(
        (
            dataclasses.replace(
                p, enrollments={c: e for c, e in p.enrollments.items() if c not in missing}
            )
            for p in people
        ),
        key=lambda p: p.username,
    )
    first = plan_enrollments(config, people, ids, t)
    after = apply(people, first.changes)
    second = plan_enrollments(config, after, IDS, t)
    assert second.changes == ()
    assert second.states == first.states
    # and what was applied is what the lifecycle says
    for state, person in zip(second.states, after, strict=True):
        cert = person.enrollments.get("CERT-WP")
        if state.state is not CertificationState.NEVER and (person.active or cert is not None):
            want = "completed" if state.certified else "suspended"
            assert cert is not None and cert.status == want
