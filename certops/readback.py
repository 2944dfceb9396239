"""Proving that every setup write took: read the object back and compare.

A Docebo tenant answers success to a write and silently ignores a field it does not know,
so an apply that trusted the answers could create a maintenance course without its
validity dates, or a group without its rules, and every later plan would try again. After
each setup write, ``apply`` reads the object back and compares every managed field with
the same functions the plan uses (``certops.engine.compare``): a field the tenant did not
keep stops the run, naming the field as it was sent on the wire, the object, and what to
check. For enrollments, the first row of each batch is read back and its status and
validity window are checked.
"""

from __future__ import annotations

from datetime import datetime

from certops.engine.compare import group_differences, settings_differences
from certops.lms.api import LMSReader, NewEnrollment
from certops.lms.errors import LMSIgnoredFieldError
from certops.lms.records import Course, Enrollment
from certops.lms.wire import COURSE_FIELD_WIRE_NAMES, format_end_instant, format_instant
from certops.plan.model import CourseWrite, GroupWrite

# What each group field is sent as (for messages).
_GROUP_WIRE_NAMES = {
    "automatic": "type",
    "rules_operator": "ruleset.operator",
    "rules": "ruleset.sets[].rules[]",
    "exclude_deactivated": "exclude_deactivated_users",
}

_ADVICE = (
    "nothing after it was applied. Check that the API user may change this setting, then run "
    "'certops doctor --write-probe' to see which fields this tenant keeps"
)


def shown(value: object) -> str:
    """A value as a person reads it in a message: instants in Docebo's form, enums by value."""
    if isinstance(value, datetime):
        return format_instant(value)
    if value is None:
        return "nothing"
    return repr(getattr(value, "value", value))


def _ignored(lms: str, what: str, differences: dict[str, tuple[object, object]]) -> Exception:
    parts = [
        f"`{COURSE_FIELD_WIRE_NAMES.get(name, name)}` (sent {shown(want)}, reads back "
        f"{shown(have)})"
        for name, (have, want) in differences.items()
    ]
    return LMSIgnoredFieldError(
        f"{lms}: the tenant ignored {', '.join(parts)} on {what}; certops stopped and changed "
        + _ADVICE,
        fields=tuple(COURSE_FIELD_WIRE_NAMES.get(n, n) for n in differences),
    )


async def verify_course(reader: LMSReader, code: str, written: CourseWrite, course_id: int) -> None:
    """Read course ``course_id`` (``code``) back and compare every setting ``written``
    verifies with what it wrote.

    Raises ``LMSIgnoredFieldError`` naming each setting the tenant did not keep; settings it
    does not show at all cannot be compared (``doctor --write-probe`` lists them)."""
    live: Course = await reader.get_course(course_id)
    differences = settings_differences(written.settings, written.verify, live)
    if differences:
        raise _ignored(reader.lms, f"course {code}", differences)


async def verify_group(reader: LMSReader, name: str, written: GroupWrite, group_id: str) -> None:
    """Read group ``group_id`` (``name``) back and compare its type, rules and operator
    with what was ``written``."""
    live = await reader.get_group(group_id)
    changed = group_differences(written, live)
    if changed:
        names = [f"`{_GROUP_WIRE_NAMES[n]}`" for n in changed]
        raise LMSIgnoredFieldError(
            f"{reader.lms}: the tenant did not keep {', '.join(names)} of group "
            f"{name!r} (rules read back: "
            f"{[list(r.completed_all) for r in live.rules] or 'none'}); certops stopped and "
            "changed " + _ADVICE,
            fields=tuple(_GROUP_WIRE_NAMES[n] for n in changed),
        )


async def verify_catalog_item(reader: LMSReader, catalog_code: str, course_code: str) -> None:
    """Check that ``course_code`` is now listed in catalog ``catalog_code``."""
    catalog = {c.code: c for c in await reader.list_catalogs()}.get(catalog_code)
    items = await reader.list_catalog_items(catalog.id) if catalog else []
    if not any(i.item_code == course_code and i.item_type == "course" for i in items):
        raise LMSIgnoredFieldError(
            f"{reader.lms}: the tenant answered success but course {course_code} is not in "
            f"catalog {catalog_code}; certops stopped and changed " + _ADVICE,
            fields=("item_code",),
        )


def enrollment_problems(row: NewEnrollment, live: Enrollment) -> dict[str, tuple[str, str]]:
    """How ``live`` differs from the enrollment ``row`` asked for: ``{wire field: (sent,
    reads back)}`` for its status and validity window; empty when it is as asked."""
    problems: dict[str, tuple[str, str]] = {}
    if row.valid_from is not None and live.valid_from != row.valid_from:
        problems["active_from"] = (
            format_instant(row.valid_from),
            format_instant(live.valid_from) if live.valid_from else "nothing",
        )
    if row.valid_until is not None and live.valid_until != row.valid_until:
        problems["active_until"] = (
            format_end_instant(row.valid_until),
            format_end_instant(live.valid_until) if live.valid_until else "nothing",
        )
    if live.status is not row.status:
        problems["status"] = (row.status.value, live.status.value)
    return problems


async def verify_enrollment(reader: LMSReader, row: NewEnrollment, what: str) -> None:
    """Read back one enrollment just created (the first of a batch) and check its status
    and validity window; ``what`` names it in messages."""
    found = await reader.list_enrollments([row.course_id], [row.user_id])
    live = next(
        (e for e in found if (e.user_id, e.course_id) == (row.user_id, row.course_id)), None
    )
    if live is None:
        raise LMSIgnoredFieldError(
            f"{reader.lms}: the tenant answered success for {what} but it does not exist; "
            "certops stopped and changed " + _ADVICE,
            fields=("items[]",),
        )
    problems = enrollment_problems(row, live)
    if problems:
        parts = [f"`{n}` (sent {sent}, reads back {got})" for n, (sent, got) in problems.items()]
        raise LMSIgnoredFieldError(
            f"{reader.lms}: the tenant ignored {', '.join(parts)} on {what}; certops stopped "
            "and changed " + _ADVICE,
            fields=tuple(problems),
        )
