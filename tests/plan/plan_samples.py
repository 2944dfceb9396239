"""Sample plans built from the records, shared by the plan tests (imported by name)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from certops.plan.model import (
    Change,
    Plan,
    PlanWarning,
    SafetyTrip,
    Skip,
    TargetKind,
    enrollment_target,
)
from certops.records import CourseSettings
from tests.changes import (
    catalog_create,
    course_create,
    enrollment_create,
    group_update,
    manual,
    status_update,
)

AT = datetime(2027, 1, 2, tzinfo=UTC)


def enrollment(course: str, user: str, old: str, new: str, product: str = "widget-pro") -> Change:
    return status_update(course, user, old, new, product)


def new_enrollment(course: str, user: str, product: str = "widget-pro") -> Change:
    return enrollment_create(
        course,
        user,
        valid_from=datetime(2027, 1, 1, tzinfo=UTC),
        valid_until=datetime(2028, 1, 1, tzinfo=UTC),
        product=product,
        reason="owes period 2027",
    )


def setup_changes() -> list[Change]:
    return [
        replace(
            group_update("Certified: Widget Pro", [["WP-101"]], [["WP-101", "WP-102"]]),
            reason="rules differ",
        ),
        course_create(
            "MOC-WP-2028",
            CourseSettings(name="Widget Pro MoC 2028", published=True),
            reason="maintenance course for period 2028 does not exist",
        ),
        catalog_create("SF-SYNC", "Salesforce Sync"),
        manual(
            TargetKind.ENROLLMENT_RULE,
            "Certified: Widget Pro courses",
            {"target_courses": ["CERT-WP", "MOC-WP-2027"]},
            reason="no public API",
            steps=("Admin Menu > Enrollment Rules: open it.", "Set the target courses."),
        ),
    ]


def sample_plan() -> Plan:
    changes = [
        *setup_changes(),
        enrollment("CERT-WP", "jdoe", "completed", "suspended"),
        new_enrollment("MOC-WP-2027", "asmith"),
    ]
    return Plan(
        at=AT,
        lms="sandbox:.certops/sandbox.db",
        changes=tuple(changes),
        safety=(SafetyTrip("widget-pro", "max_suspend_fraction", 0.4, 0.25),),
        warnings=(
            PlanWarning("widget-pro", "CERT-WP completed without evidence", "enrollment.CERT-WP.x"),
        ),
        skipped=(
            Skip("widget-pro", enrollment_target("MOC-WP-2027", "old"), "user is deactivated"),
        ),
        products=("widget-pro", "gadget"),
    )
