"""A copy of what certops reads from a tenant, as a sandbox dataset (``sandbox init --from``).

To rehearse a rollover of one's own products, the sandbox is filled with what a plan of the
configuration reads from the tenant, read through the same reader (which cannot write):
every user, the courses the configuration names (initial paths, certified and maintenance
courses) and the courses its groups' rules and the Salesforce catalog name, the named
groups (audiences) with their rules, that catalog and its course items, and every
enrollment in the named courses. Users, courses and groups keep their ids, so a plan
against the copy at an instant is the plan against the tenant at that instant, change for
change and id for id (docs/sandbox-datasets.md says what cannot be copied).

``pseudonymize`` replaces every user's first and last name, e-mail address and username
with ones made of the user's id, except the usernames and e-mail addresses the
configuration itself names (its exceptions must still find their learners; the
configuration holds them already). Pure apart from the reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from certops.config.model import Config
from certops.engine.facts import product_course_codes
from certops.lms.api import LMSReader, gather_settled, settled_triple
from certops.records import Course, Enrollment, EnrollmentStatus, Group, User
from certops.sandbox.courses import COURSE_TYPES

Progress = Callable[[str], None]
ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Copied:
    """The dataset of a copy, and what could not be copied (one note each)."""

    data: dict[str, Any]
    left_out: tuple[str, ...]


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def _last_second(end: datetime | None) -> str | None:
    """An exclusive end instant as the last second it includes (how validity ends and
    course end dates are stored, and read back as the same exclusive instant)."""
    return None if end is None else _iso(end - ONE_SECOND)


async def copy_tenant(
    reader: LMSReader,
    config: Config,
    *,
    pseudonymize: bool = False,
    progress: Progress | None = None,
) -> Copied:
    """Reads what ``config`` needs from the tenant behind ``reader``; returns it as a
    dataset (``certops.sandbox.dataset``) for a new sandbox."""
    say = progress or (lambda _message: None)
    say("reading courses, groups, catalogs and users")
    catalog_spec = config.settings.salesforce_catalog
    listed, groups, users = await settled_triple(
        reader.list_courses(), reader.list_groups(), reader.list_users()
    )
    group_names = {p.group.name for p in config.products}
    named_groups = await gather_settled(
        reader.get_group(g.id) for g in groups if g.name in group_names
    )
    catalog_items: list[str] = []
    catalog_name = ""
    if catalog_spec is not None:
        catalogs = {c.code: c for c in await reader.list_catalogs()}
        found = catalogs.get(catalog_spec.code)
        if found is not None:
            catalog_name = found.name
            items = await reader.list_catalog_items(found.id)
            catalog_items = [i.item_code for i in items if i.item_type == "course"]
    by_code = {c.code: c for c in listed if c.code}
    named = {code for p in config.products for code in product_course_codes(p)}
    referred = {code for g in named_groups for rule in g.rules for code in rule.completed_all}
    wanted = sorted((named | referred | set(catalog_items)) & set(by_code))
    say(f"reading {len(wanted)} courses and the enrollments in {len(named & set(by_code))}")
    details = await gather_settled(reader.get_course(by_code[code].id) for code in wanted)
    ids = sorted({by_code[code].id for code in named if code in by_code})
    enrollments = await reader.list_enrollments(ids) if ids else []
    left_out: list[str] = []
    names = _Names(users, config, pseudonymize)
    data: dict[str, Any] = {
        "users": [names.user(u) for u in users],
        "courses": [_course(c, left_out) for c in details],
        "catalogs": (
            [
                {
                    "code": catalog_spec.code,
                    "name": catalog_name,
                    "courses": [c for c in catalog_items if c in set(wanted)],
                }
            ]
            if catalog_spec is not None and catalog_name
            else []
        ),
        "groups": [_group(g, set(wanted), left_out) for g in named_groups],
        "enrollments": list(_enrollments(enrollments, by_code, names, left_out)),
    }
    return Copied(data, tuple(left_out))


class _Names:
    """The names each user gets in the copy."""

    def __init__(self, users: Iterable[User], config: Config, pseudonymize: bool) -> None:
        self.pseudonymize = pseudonymize
        self.named = {
            entry.user.strip().lower()
            for product in config.products
            for entries in (product.extensions, product.reinstatements, product.revocations)
            for entry in entries
        }
        self.by_id = {u.id: u for u in users}
        self.username = {u.id: self._username(u) for u in self.by_id.values()}

    def _username(self, user: User) -> str:
        if not self.pseudonymize or user.username.lower() in self.named:
            return user.username
        return f"user{user.id}"

    def user(self, user: User) -> dict[str, Any]:
        if not self.pseudonymize:
            return {
                "id": user.id,
                "username": user.username,
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "active": user.active,
            }
        email = user.email if user.email.strip().lower() in self.named else ""
        return {
            "id": user.id,
            "username": self.username[user.id],
            "email": email or f"user{user.id}@example.invalid",
            "first_name": "User",
            "last_name": str(user.id),
            "active": user.active,
        }


def _course(course: Course, left_out: list[str]) -> dict[str, Any]:
    settings = course.settings
    row: dict[str, Any] = {"id": course.id, "code": course.code, "name": settings.name}
    shown = {
        "description": settings.description,
        "type": settings.course_type if settings.course_type in COURSE_TYPES else None,
        "published": settings.published,
        "self_unenrollment": settings.self_unenrollment,
        "enrollment_policy": settings.enrollment_policy.value,
        "date_begin": _iso(settings.date_begin),
        "date_end": _last_second(settings.date_end),
        "soft_deadline": settings.soft_deadline,
        "visible_only_to_enrolled": settings.visible_only_to_enrolled,
    }
    field_of = {"type": "course_type"}
    for key, value in shown.items():
        if field_of.get(key, key) in course.unread or value is None:
            continue
        row[key] = value
    if settings.course_type not in COURSE_TYPES:
        left_out.append(
            f"course {course.code}: type {settings.course_type!r} (the sandbox has "
            f"{', '.join(COURSE_TYPES)}): copied as elearning"
        )
    return row


def _group(group: Group, courses: set[str], left_out: list[str]) -> dict[str, Any]:
    rules = []
    for rule in group.rules:
        if all(code in courses for code in rule.completed_all):
            rules.append(list(rule.completed_all))
        else:
            left_out.append(
                f"group {group.name!r}: a rule set certops does not write "
                f"({', '.join(rule.completed_all)}) was left out"
            )
    return {
        "name": group.name,
        "uuid": group.id,
        "description": group.description,
        "automatic": group.automatic,
        "operator": "all" if group.rules_operator.upper() == "ALL" else "any",
        "exclude_deactivated": group.exclude_deactivated,
        "rules": rules,
    }


def _enrollments(
    rows: Iterable[Enrollment], by_code: dict[str, Course], names: _Names, left_out: list[str]
) -> Iterable[dict[str, Any]]:
    codes = {course.id: code for code, course in by_code.items()}
    for row in rows:
        code = row.course_code or codes.get(row.course_id)
        user = names.username.get(row.user_id)
        if code is None or user is None:
            continue  # a user the tenant does not list: no plan sees them either
        item: dict[str, Any] = {"user": user, "course": code, "status": row.status.value}
        completed = row.status is EnrollmentStatus.COMPLETED
        values = {
            "enrolled_at": _iso(row.enrolled_at),
            # Only a completed enrollment's completion is evidence (and the dataset's).
            "completed_at": _iso(row.completed_at) if completed else None,
            "valid_from": _iso(row.valid_from),
            "valid_until": _last_second(row.valid_until),
        }
        item.update({k: v for k, v in values.items() if v is not None})
        if completed and "completed_at" not in item:
            item["status"] = EnrollmentStatus.IN_PROGRESS.value
            left_out.append(
                f"{user}'s enrollment in {code} is completed without a completion date: "
                "copied as in_progress"
            )
        yield item
