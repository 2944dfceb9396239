"""Changes built by hand, typed as the engine builds them, for tests that need a change
without a configuration or an LMS (a renderer, the classifier, the executor)."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

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
    enrollment_target,
)
from certops.records import CourseSettings, EnrollmentStatus, GroupRule

SETTINGS = tuple(f.name for f in fields(CourseSettings))


def enrollment_update(
    course: str,
    user: str,
    before: dict[str, Any],
    after: dict[str, Any],
    *,
    product: str | None = "widget-pro",
    user_id: int = 1,
    course_id: int = 1,
    reason: str = "",
) -> Change:
    """An enrollment update setting ``after`` (typed: an ``EnrollmentStatus``, instants)."""
    return Change(
        target=enrollment_target(course, user),
        type=ChangeType.ENROLLMENT,
        action=Action.UPDATE,
        product=product,
        write=EnrollmentWrite(user_id, course_id, **after),
        changed=tuple(after),
        before=before,
        reason=reason,
    )


def status_update(
    course: str, user: str, old: str, new: str, product: str | None = "widget-pro", **ids: int
) -> Change:
    """An enrollment whose status goes from ``old`` to ``new`` (certops' words)."""
    return enrollment_update(
        course,
        user,
        {"status": EnrollmentStatus(old)},
        {"status": EnrollmentStatus(new)},
        product=product,
        reason=f"did not complete MOC-WP-2026 by 2026-12-31 (UTC): {user}",
        **ids,
    )


def enrollment_create(
    course: str,
    user: str,
    *,
    status: str = "enrolled",
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    completed_at: datetime | None = None,
    product: str | None = "widget-pro",
    user_id: int = 1,
    course_id: int | None = 1,
    reason: str = "",
) -> Change:
    """A new enrollment: its status, then the completion or the validity window given."""
    values: dict[str, Any] = {"status": EnrollmentStatus(status)}
    if completed_at is not None:
        values["completed_at"] = completed_at
    if valid_from is not None:
        values["valid_from"] = valid_from
    if valid_until is not None:
        values["valid_until"] = valid_until
    return Change(
        target=enrollment_target(course, user),
        type=ChangeType.ENROLLMENT,
        action=Action.CREATE,
        product=product,
        write=EnrollmentWrite(user_id, course_id, **values),
        changed=tuple(values),
        reason=reason,
    )


def course_create(
    code: str,
    settings: CourseSettings,
    *,
    product: str | None = "widget-pro",
    verify: frozenset[str] = frozenset({"name"}),
    reason: str = "",
) -> Change:
    return Change(
        target=course_target(code),
        type=ChangeType.COURSE,
        action=Action.CREATE,
        product=product,
        write=CourseWrite(settings, frozenset(SETTINGS), verify),
        changed=SETTINGS,
        reason=reason,
    )


def course_update(
    code: str,
    settings: CourseSettings,
    before: dict[str, Any],
    *,
    course_id: int = 1,
    product: str | None = "widget-pro",
    send: frozenset[str] | None = None,
    reason: str = "",
) -> Change:
    """An update of the ``before`` fields to what ``settings`` holds."""
    return Change(
        target=course_target(code),
        type=ChangeType.COURSE,
        action=Action.UPDATE,
        product=product,
        write=CourseWrite(settings, send or frozenset(before), frozenset(before), course_id),
        changed=tuple(before),
        before=before,
        reason=reason,
    )


def catalog_create(code: str, name: str) -> Change:
    return Change(
        target=Target(TargetKind.CATALOG, catalog=code),
        type=ChangeType.CATALOG,
        action=Action.CREATE,
        product=None,
        write=CatalogWrite(code, name),
        changed=("code", "name"),
    )


def catalog_item_create(catalog: str, course: str, product: str | None = "widget-pro") -> Change:
    return Change(
        target=Target(TargetKind.CATALOG_ITEM, catalog=catalog, course=course),
        type=ChangeType.CATALOG_ITEM,
        action=Action.CREATE,
        product=product,
        write=CatalogItemWrite(catalog, course),
        changed=("catalog", "course", "item_type"),
    )


def group_write(paths: list[list[str]], *, description: str = "", group_id: str | None = None):
    return GroupWrite(
        description, tuple(GroupRule(tuple(p)) for p in paths), "ANY", group_id=group_id
    )


def group_create(name: str, paths: list[list[str]], product: str | None = "widget-pro") -> Change:
    return Change(
        target=Target(TargetKind.GROUP, name=name),
        type=ChangeType.GROUP,
        action=Action.CREATE,
        product=product,
        write=group_write(paths, description=f"Learners certified: {name}"),
        changed=("description", "automatic", "rules_operator", "rules", "exclude_deactivated"),
    )


def group_update(
    name: str,
    before: list[list[str]],
    after: list[list[str]],
    *,
    group_id: str = "00000000-0000-0000-0000-000000000001",
    product: str | None = "widget-pro",
    reason: str = "",
) -> Change:
    return Change(
        target=Target(TargetKind.GROUP, name=name),
        type=ChangeType.GROUP,
        action=Action.UPDATE,
        product=product,
        write=group_write(after, group_id=group_id),
        changed=("rules",),
        before={"rules": tuple(GroupRule(tuple(p)) for p in before)},
        reason=reason,
    )


def manual(
    kind: TargetKind,
    name: str,
    asked: dict[str, Any],
    *,
    product: str | None = "widget-pro",
    steps: tuple[str, ...] = (),
    fingerprint: str = "sha256:" + "ab" * 32,
    reason: str = "",
) -> Change:
    return Change(
        target=Target(kind, name=name),
        type=ChangeType(kind.value),
        action=Action.MANUAL,
        product=product,
        asked=asked,
        steps=steps,
        fingerprint=fingerprint,
        reason=reason,
    )
