"""Small builders for engine tests: configs from the model dataclasses, facts directly."""

from __future__ import annotations

from datetime import UTC, date, datetime

from certops.config.model import (
    CertifiedCourse,
    CourseSpec,
    Extension,
    InitialPath,
    LateCompletion,
    Maintenance,
    NamedRef,
    Period,
    Product,
    Reinstatement,
    Revocation,
)
from certops.engine.facts import LearnerFacts
from certops.lms.records import Enrollment, EnrollmentStatus


def at(text: str) -> datetime:
    """``2026-01-01`` or ``2026-01-01T12:00:00`` as an aware UTC instant."""
    instant = datetime.fromisoformat(text)
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant


def period(year: int, prefix: str = "WP", *, opens: date | None = None, due: date | None = None):
    return Period(
        id=str(year),
        course=CourseSpec(f"MOC-{prefix}-{year}", f"Maintenance of Certification {year}"),
        opens=opens or date(year, 1, 1),
        due=due or date(year, 12, 31),
    )


def product(
    *,
    pid: str = "widget-pro",
    prefix: str = "WP",
    periods: tuple[Period, ...] | None = None,
    paths: tuple[InitialPath, ...] | None = None,
    grace: int = 0,
    late: LateCompletion = LateCompletion.MANUAL,
    extensions: tuple[Extension, ...] = (),
    reinstatements: tuple[Reinstatement, ...] = (),
    revocations: tuple[Revocation, ...] = (),
) -> Product:
    return Product(
        id=pid,
        name=pid.title(),
        group=NamedRef(f"Certified: {pid}"),
        initial_paths=paths
        or (
            InitialPath("classic", (f"{prefix}-101", f"{prefix}-102")),
            InitialPath("exam", (f"{prefix}-EXAM",)),
        ),
        certified_course=CertifiedCourse(f"CERT-{prefix}", f"Certified: {pid}"),
        maintenance=Maintenance(
            periods=periods or tuple(period(y, prefix) for y in (2026, 2027, 2028)),
            new_learner_grace_days=grace,
            late_completion=late,
        ),
        extensions=extensions,
        reinstatements=reinstatements,
        revocations=revocations,
    )


def enrollment(
    code: str,
    status: EnrollmentStatus = EnrollmentStatus.ENROLLED,
    *,
    user_id: int = 1,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    completed_at: datetime | None = None,
) -> Enrollment:
    return Enrollment(
        user_id=user_id,
        course_id=sum(code.encode()),  # stable per code; the engine keys by code
        status=status,
        completed_at=completed_at,
        valid_from=valid_from,
        valid_until=valid_until,
        course_code=code,
    )


def facts(
    username: str = "jdoe",
    completions: dict[str, str] | None = None,
    enrollments: tuple[Enrollment, ...] = (),
    *,
    active: bool = True,
    user_id: int = 1,
) -> LearnerFacts:
    return LearnerFacts(
        username=username,
        user_id=user_id,
        active=active,
        completions={code: at(when) for code, when in (completions or {}).items()},
        enrollments={e.course_code: e for e in enrollments},
    )


CLASSIC_2025 = {"WP-101": "2025-03-01T10:00:00", "WP-102": "2025-03-02T09:30:00"}
