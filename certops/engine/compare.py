"""The setup's diff: the desired setup against the live LMS, field by field.

``diff_setup`` compares a ``DesiredSetup`` (``certops.engine.desired``) with a ``LiveSetup``
read from the LMS by natural key, after normalising both sides so that server defaults,
ordering, HTML, whitespace and number/string differences never show as changes, and
returns the create and update changes, each carrying its whole write. The read-back after
an apply compares with the same functions (``settings_differences``,
``group_differences``), so what apply verifies is what the next plan would compare.

Pure: no clock reads, no I/O.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Protocol

from certops.engine.desired import (
    CourseRole,
    DesiredCourse,
    DesiredGroup,
    DesiredSetup,
    rule_set,
)
from certops.instants import format_instant as iso_utc
from certops.instants import parse_instant
from certops.plan.model import (
    Action,
    CatalogItemWrite,
    CatalogWrite,
    Change,
    ChangeType,
    CourseWrite,
    GroupWrite,
    PlanWarning,
    Target,
    TargetKind,
    course_target,
)
from certops.records import Catalog, Course, CourseSettings, Group, GroupRule

GROUP_FIELDS = ("automatic", "rules_operator", "rules", "exclude_deactivated")


@dataclass(frozen=True, slots=True)
class LiveSetup:
    """What the LMS has, as far as the setup is concerned (read by the caller)."""

    courses: Mapping[str, Course]  # by code: the managed courses that exist (full detail)
    catalogs: Mapping[str, Catalog]  # by code
    catalog_items: frozenset[tuple[str, str]]  # (catalog code, course code)
    groups: Mapping[str, Group]  # by name; rules as course codes
    # Codes of other courses known to exist without their details (e.g. the initial
    # training, from the course list); only used to tell which ones are missing.
    existing_codes: frozenset[str] = frozenset()


# --- normalising --------------------------------------------------------------------------

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_BLOCK_TAG = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6])\b[^>]*>", re.IGNORECASE)


def normalise_text(value: Any) -> str:
    """Text as a person reads it: HTML tags removed (block ends become spaces), entities
    decoded, whitespace collapsed and trimmed; ``None`` is the empty text."""
    if value is None:
        return ""
    text = str(value)
    if "<" in text:
        text = _TAG.sub("", _BLOCK_TAG.sub(" ", text))
    text = html.unescape(text)
    return _SPACE.sub(" ", text).strip()


def normalise_instant(value: Any, *, end: bool = False) -> str | None:
    """An instant as canonical ISO UTC text, or ``None``; naive values are UTC.

    With ``end``, an instant at 23:59:59 is read as the exclusive end-of-day instant
    (Docebo shows validity ends as ``D 23:59:59``), and sub-second parts are dropped
    since Docebo stores whole seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = parse_instant(value)
        except (ValueError, OverflowError):
            return str(value).strip()
    if not isinstance(value, datetime):
        return str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC).replace(microsecond=0)
    if end and (value.hour, value.minute, value.second) == (23, 59, 59):
        value += timedelta(seconds=1)
    return iso_utc(value)


def normalise_scalar(value: Any) -> Any:
    """A scalar in a comparable form: enums by value, numbers and numeric strings as the
    same canonical text (``1``, ``1.0`` and ``"1"`` compare equal), text trimmed."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return _number_text(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return _number_text(float(text)) if text else text
        except ValueError:
            return text
    return value


def _number_text(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def _course_compare_value(name: str, value: Any) -> Any:
    if name == "description":
        return normalise_text(value)
    if name == "name":
        return _SPACE.sub(" ", str(value or "")).strip()
    if name == "date_begin":
        return normalise_instant(value)
    if name == "date_end":
        return normalise_instant(value, end=True)
    return normalise_scalar(value)


# Every setting of a course, in the order a created course shows them.
SETTINGS = tuple(f.name for f in fields(CourseSettings))


# --- diffing ------------------------------------------------------------------------------


def changed_fields(have: Mapping[str, Any], want: Mapping[str, Any]) -> list[str]:
    """The keys of ``want`` whose value differs in ``have``, in ``want``'s order. Both
    sides are already normalised to the form that compares (numbers as canonical text,
    rule sets as sets of sets), so plain equality decides."""
    return [name for name, value in want.items() if have.get(name) != value]


def rules_change(have: Collection[GroupRule], want: Collection[GroupRule]) -> str:
    """What a group's rules gain and lose, in words: the initial paths (rule sets) added
    and removed, as deepdiff finds them inside the two sets of sets."""
    from deepdiff import DeepDiff  # imported only when a group's rules differ

    diff = DeepDiff(rule_set(have), rule_set(want), view="tree")
    added = sorted(" + ".join(sorted(item.t2)) for item in diff.get("set_item_added", []))
    removed = sorted(" + ".join(sorted(item.t1)) for item in diff.get("set_item_removed", []))
    parts = []
    if added:
        parts.append("path added: " + "; ".join(added))
    if removed:
        parts.append("path removed: " + "; ".join(removed))
    return ", ".join(parts)


def comparable_fields(desired: DesiredCourse, live: Course) -> frozenset[str]:
    """The managed settings of ``live`` that can be compared: those the LMS showed."""
    return desired.managed - live.unread


def settings_differences(
    settings: CourseSettings, managed: frozenset[str], live: Course
) -> dict[str, tuple[Any, Any]]:
    """``{field: (live value, wanted value)}`` for every ``managed`` setting the LMS shows
    that differs from ``settings`` after normalising both sides; empty when the course is
    as wanted. The plan and the read-back after an apply both use this, so what apply
    verifies is exactly what the next plan would compare."""
    names = sorted(managed - live.unread)
    want = {n: _course_compare_value(n, getattr(settings, n)) for n in names}
    have = {n: _course_compare_value(n, getattr(live.settings, n)) for n in names}
    return {
        name: (getattr(live.settings, name), getattr(settings, name))
        for name in changed_fields(have, want)
    }


def course_differences(desired: DesiredCourse, live: Course) -> dict[str, tuple[Any, Any]]:
    """``settings_differences`` of the configured course ``desired``."""
    return settings_differences(desired.settings, desired.managed, live)


class GroupShape(Protocol):
    """What a group's comparison looks at: a configured group or a group's write."""

    @property
    def automatic(self) -> bool: ...
    @property
    def operator(self) -> str: ...
    @property
    def rules(self) -> tuple[GroupRule, ...]: ...
    @property
    def exclude_deactivated(self) -> bool: ...


def _course_changes(desired: DesiredCourse, live: Course | None) -> Change | None:
    what = (
        f"maintenance course for period {desired.period}"
        if desired.role is CourseRole.MAINTENANCE
        else "certified course"
    )
    if live is None:
        return Change(
            target=course_target(desired.code),
            type=ChangeType.COURSE,
            action=Action.CREATE,
            product=desired.product,
            write=CourseWrite(desired.settings, frozenset(SETTINGS), desired.managed),
            changed=SETTINGS,
            reason=f"{what} does not exist",
        )
    differences = course_differences(desired, live)
    if not differences:
        return None
    return Change(
        target=course_target(desired.code),
        type=ChangeType.COURSE,
        action=Action.UPDATE,
        product=desired.product,
        # An update sends every managed setting the LMS shows (the ones that differ and
        # the ones that agree), never one it does not show.
        write=CourseWrite(
            desired.settings, comparable_fields(desired, live), desired.managed, live.id
        ),
        changed=tuple(differences),
        before={name: have for name, (have, _) in differences.items()},
        reason=f"{what}: {', '.join(differences)} differ from the configuration",
    )


def group_differences(desired: GroupShape, live: Group) -> list[str]:
    """The group fields (``GROUP_FIELDS``) in which ``live`` differs from ``desired``;
    used by the plan and by the read-back after an apply."""
    # Both sides in the form that compares (flags as booleans, the operator in capitals,
    # rules as a set of sets of codes), keyed by GROUP_FIELDS.
    have = {
        "automatic": bool(live.automatic),
        "rules_operator": str(live.rules_operator).strip().upper(),
        "rules": rule_set(live.rules),
        "exclude_deactivated": bool(live.exclude_deactivated),
    }
    want = {
        "automatic": bool(desired.automatic),
        "rules_operator": desired.operator.upper(),
        "rules": rule_set(desired.rules),
        "exclude_deactivated": bool(desired.exclude_deactivated),
    }
    return changed_fields({n: have[n] for n in GROUP_FIELDS}, {n: want[n] for n in GROUP_FIELDS})


def _group_change(desired: DesiredGroup, live: Group | None) -> Change | None:
    if live is None:
        return Change(
            target=Target(TargetKind.GROUP, name=desired.name),
            type=ChangeType.GROUP,
            action=Action.CREATE,
            product=desired.product,
            write=GroupWrite(
                desired.description,
                desired.rules,
                desired.operator,
                desired.automatic,
                desired.exclude_deactivated,
            ),
            changed=("description", *GROUP_FIELDS),
            reason="certified group does not exist",
        )
    changed = group_differences(desired, live)
    if not changed:
        return None
    have = {
        "automatic": live.automatic,
        "rules_operator": live.rules_operator,
        "rules": live.rules,
        "exclude_deactivated": live.exclude_deactivated,
    }
    return Change(
        target=Target(TargetKind.GROUP, name=desired.name),
        type=ChangeType.GROUP,
        action=Action.UPDATE,
        product=desired.product,
        # The description is the admins' once the group exists: sent back as it is.
        write=GroupWrite(
            live.description,
            desired.rules,
            desired.operator,
            desired.automatic,
            desired.exclude_deactivated,
            group_id=live.id,
        ),
        changed=tuple(changed),
        before={name: have[name] for name in changed},
        reason="membership must follow the initial paths: "
        + ", ".join(changed)
        + " differ"
        + (f" ({rules_change(live.rules, desired.rules)})" if "rules" in changed else ""),
    )


def diff_setup(
    desired: DesiredSetup, live: LiveSetup, products: Collection[str] | None = None
) -> list[Change]:
    """The create/update changes that bring the live setup to the desired one.

    Only objects the desired setup names are compared (everything else in the LMS is left
    alone), only changing fields appear in ``before``/``after``, and there is no delete.
    ``products`` limits the changes to those products (``None``: all); the shared
    Salesforce catalog is included when one of them needs it. Returned in dependency order
    within this set (courses, catalog, catalog items, groups), not yet merged with others."""

    def wanted(product: str) -> bool:
        return products is None or product in products

    changes: list[Change] = []
    for code in sorted(desired.courses):
        course = desired.courses[code]
        if wanted(course.product):
            change = _course_changes(course, live.courses.get(code))
            if change is not None:
                changes.append(change)

    items = [i for i in desired.catalog_items if wanted(i.product)]
    if desired.catalog is not None and items and desired.catalog.code not in live.catalogs:
        changes.append(
            Change(
                target=Target(TargetKind.CATALOG, catalog=desired.catalog.code),
                type=ChangeType.CATALOG,
                action=Action.CREATE,
                product=None,  # shared by every product that syncs to Salesforce
                write=CatalogWrite(desired.catalog.code, desired.catalog.name),
                changed=("code", "name"),
                reason="the Salesforce Sync catalog does not exist",
            )
        )
    for item in sorted(items, key=lambda i: (i.catalog_code, i.course_code)):
        if (item.catalog_code, item.course_code) not in live.catalog_items:
            changes.append(
                Change(
                    target=Target(
                        TargetKind.CATALOG_ITEM, catalog=item.catalog_code, course=item.course_code
                    ),
                    type=ChangeType.CATALOG_ITEM,
                    action=Action.CREATE,
                    product=item.product,
                    write=CatalogItemWrite(item.catalog_code, item.course_code),
                    changed=("catalog", "course", "item_type"),
                    reason="salesforce_sync: the certified course must be in the catalog",
                )
            )

    for name in sorted(desired.groups):
        group = desired.groups[name]
        if wanted(group.product):
            change = _group_change(group, live.groups.get(name))
            if change is not None:
                changes.append(change)
    return changes


def setup_warnings(
    desired: DesiredSetup, live: LiveSetup, products: Collection[str] | None = None
) -> list[PlanWarning]:
    """Warnings about the setup certops will not fix: the compile-time conflicts, and
    initial-training courses that do not exist in the LMS (certops never creates them:
    they hold the training itself, and the group rules cannot work without them). A code
    exists when it is in ``live.courses`` or ``live.existing_codes``."""
    out = [w for w in desired.warnings if products is None or w.product in products]
    for code in sorted(desired.initial_courses):
        if code in live.courses or code in live.existing_codes:
            continue
        for product in desired.initial_courses[code]:
            if products is None or product in products:
                out.append(
                    PlanWarning(
                        product,
                        f"initial-training course {code} does not exist in the LMS; "
                        "learners cannot complete that path and the group rule naming it "
                        "cannot match",
                        course_target(code).address,
                    )
                )
    return out
