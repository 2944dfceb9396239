"""Sample plans built from the records, shared by the plan tests (imported by name)."""

from __future__ import annotations

from datetime import UTC, datetime

from certops.plan.model import (
    Action,
    Change,
    ChangeType,
    Plan,
    PlanWarning,
    SafetyTrip,
    Skip,
    Target,
    TargetKind,
    course_target,
    enrollment_target,
)

AT = datetime(2027, 1, 2, tzinfo=UTC)


def enrollment(course: str, user: str, old: str, new: str, product: str = "widget-pro") -> Change:
    return Change(
        target=enrollment_target(course, user),
        type=ChangeType.ENROLLMENT,
        action=Action.UPDATE,
        product=product,
        before={"status": old},
        after={"status": new},
        reason=f"did not complete MOC-WP-2026 by 2026-12-31 (UTC): {user}",
    )


def new_enrollment(course: str, user: str, product: str = "widget-pro") -> Change:
    return Change(
        target=enrollment_target(course, user),
        type=ChangeType.ENROLLMENT,
        action=Action.CREATE,
        product=product,
        after={
            "status": "enrolled",
            "valid_from": "2027-01-01T00:00:00Z",
            "valid_until": "2028-01-01T00:00:00Z",
        },
        reason="owes period 2027",
    )


def setup_changes() -> list[Change]:
    return [
        Change(
            Target(TargetKind.GROUP, name="Certified: Widget Pro"),
            ChangeType.GROUP,
            Action.UPDATE,
            "widget-pro",
            before={"rules": [["WP-101"]]},
            after={"rules": [["WP-101", "WP-102"]]},
            reason="rules differ",
        ),
        Change(
            course_target("MOC-WP-2028"),
            ChangeType.COURSE,
            Action.CREATE,
            "widget-pro",
            after={"name": "Widget Pro MoC 2028", "published": True},
            reason="maintenance course for period 2028 does not exist",
        ),
        Change(
            Target(TargetKind.CATALOG, catalog="SF-SYNC"),
            ChangeType.CATALOG,
            Action.CREATE,
            None,
            after={"code": "SF-SYNC", "name": "Salesforce Sync"},
        ),
        Change(
            Target(TargetKind.ENROLLMENT_RULE, name="Certified: Widget Pro courses"),
            ChangeType.ENROLLMENT_RULE,
            Action.MANUAL,
            "widget-pro",
            after={"target_courses": ["CERT-WP", "MOC-WP-2027"]},
            reason="no public API",
            steps=("Admin Menu > Enrollment Rules: open it.", "Set the target courses."),
            fingerprint="sha256:" + "ab" * 32,
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
