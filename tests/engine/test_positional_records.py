"""``positional``: the fast constructor of the records made by the hundred thousand
builds exactly what the dataclass's own ``__init__`` builds, and refuses classes it
cannot build that way."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from certops.engine.lifecycle import (
    CertificationState,
    LearnerState,
    Obligation,
    ObligationOutcome,
    Transition,
)
from certops.records import Enrollment, EnrollmentStatus, User, positional

AT = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
ROWS = [
    (Enrollment, (7, 12, EnrollmentStatus.COMPLETED, AT, AT, None, AT, "ana", "CERT-X")),
    (Enrollment, (1, 2, EnrollmentStatus.ENROLLED, None, None, None, None, "", "")),
    (Obligation, ("2026", "MAINT-26", AT, AT, ObligationOutcome.MET, AT, None)),
    (Transition, (AT, CertificationState.SUSPENDED, "did not complete", False)),
    (
        LearnerState,
        ("ana", "x", CertificationState.CERTIFIED, AT, "a", AT, None, None, (), (), None),
    ),
]


@pytest.mark.parametrize(("cls", "values"), ROWS)
def test_the_same_record_as_the_dataclass_builds(cls: type, values: tuple) -> None:
    built, expected = positional(cls)(*values), cls(*values)
    assert type(built) is cls
    assert built == expected and hash(built) == hash(expected) and repr(built) == repr(expected)
    assert dataclasses.astuple(built) == values
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.__setattr__(dataclasses.fields(cls)[0].name, None)


def test_every_field_is_required() -> None:
    with pytest.raises(TypeError):
        positional(User)(1, "ana")  # the defaults of the dataclass do not apply


def test_classes_it_cannot_build_are_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(slots=True)
    class Mutable:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            assert self.a > 0

    @dataclasses.dataclass(frozen=True, slots=True)
    class Derived:
        a: int
        b: int = dataclasses.field(init=False, default=0)

    for cls in (NoSlots, Mutable, Checked, Derived, int):
        with pytest.raises(TypeError, match="not a frozen, slotted dataclass"):
            positional(cls)
