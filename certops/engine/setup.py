"""The one-time setup as desired state, and its diff against the live LMS.

``desired_setup(config, t)`` compiles what the article's setup checklist asks for at
instant ``t``: the certified courses, the maintenance courses, the Salesforce Sync catalog
and its items, and the certified groups with their eligibility rules. ``diff_setup``
compares that with a ``LiveSetup`` read from the LMS by natural key (course code, catalog
code, group name), after normalising both sides so that server defaults, ordering, HTML,
whitespace and number/string differences never show as changes.

Which maintenance courses are desired at ``t``: every period that has opened (``opens ≤ t``)
and the *next* period to open. The next one is created ahead so admins can put content
in it before it opens (its validity dates keep learners out until then), while periods
further ahead are left until they are next; so ``certops plan --at`` the day a period
opens previews the course after it being created.

Pure: no clock reads, no I/O.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from enum import Enum, StrEnum
from typing import Any, Protocol

from certops.config.model import Catalog as CatalogSpec
from certops.config.model import CertifiedCourse, Config, CourseSpec, Period, Product
from certops.engine.manual import Acknowledgements, fingerprint
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
from certops.records import Catalog, Course, CourseSettings, EnrollmentPolicy, Group, GroupRule


class CourseRole(StrEnum):
    CERTIFIED = "certified"
    MAINTENANCE = "maintenance"


# Fields of ``CourseSettings`` that certops compares on update. ``course_type`` is used
# only when creating: changing the type of an existing course is not something a setup
# tool should do, and the server may report it differently from what was sent.
MAINTENANCE_FIELDS = frozenset(
    {
        "name",
        "description",
        "published",
        "self_unenrollment",
        "enrollment_policy",
        "date_begin",
        "date_end",
        "soft_deadline",
        "visible_only_to_enrolled",
    }
)
# The certified course: the issue names published, admin-only enrollment and the
# description; self-unenrollment is off too, because leaving the course would drop the
# enrollment that *is* the certification status. Its validity and visibility are left
# to the admin (it must never expire, and it sits in a catalog).
CERTIFIED_FIELDS = frozenset(
    {"name", "description", "published", "self_unenrollment", "enrollment_policy"}
)
GROUP_FIELDS = ("automatic", "rules_operator", "rules", "exclude_deactivated")
# Settings certops sends when it creates a course but cannot read back on a tenant (Docebo's
# course views do not show visibility): never diffed while unreadable; a manual check asks
# a person once to confirm them (``setup_checks``).
WRITE_ONLY_FIELDS = frozenset({"visible_only_to_enrolled"})


@dataclass(frozen=True, slots=True)
class DesiredCourse:
    code: str
    product: str
    role: CourseRole
    settings: CourseSettings
    managed: frozenset[str]  # the settings compared on update (all are sent on create)
    period: str | None = None  # maintenance courses: the period id

    def settings_for(self, live: CourseSettings | None) -> CourseSettings:
        """What the course holds once certops has written it: all of ``settings`` when it
        is created (``live`` is None); after an update, ``live`` with only the managed
        fields replaced, since an update sends nothing else (what certops does not manage,
        such as the certified course's dates, a description the config leaves empty or the
        course type, stays as it is). The tests' model of the LMS after an apply."""
        if live is None:
            return self.settings
        return replace(live, **{name: getattr(self.settings, name) for name in self.managed})


@dataclass(frozen=True, slots=True)
class DesiredCatalogItem:
    catalog_code: str
    course_code: str
    product: str


@dataclass(frozen=True, slots=True)
class DesiredGroup:
    name: str
    product: str
    description: str  # sent on create only: admins may reword it
    rules: tuple[GroupRule, ...]
    operator: str = "ANY"
    automatic: bool = True
    exclude_deactivated: bool = True  # deactivated users are never certified members


@dataclass(frozen=True, slots=True)
class DesiredSetup:
    """The setup objects certops manages at ``at``, keyed by natural key."""

    at: datetime
    courses: Mapping[str, DesiredCourse]
    catalog: CatalogSpec | None  # the Salesforce Sync catalog, if any product syncs
    catalog_items: tuple[DesiredCatalogItem, ...]
    groups: Mapping[str, DesiredGroup]
    # Initial-training course code -> the products whose paths use it (read, never managed).
    initial_courses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    warnings: tuple[PlanWarning, ...] = ()

    def codes_to_read(self) -> tuple[str, ...]:
        """Every course code the caller should read into ``LiveSetup.courses``: the managed
        courses and the initial-training courses (whose absence is a warning), sorted."""
        return tuple(sorted(set(self.courses) | set(self.initial_courses)))


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


# --- compiling ----------------------------------------------------------------------------


def periods_desired(periods: tuple[Period, ...], t: datetime) -> tuple[Period, ...]:
    """The periods whose courses are desired at ``t``: every period opened by ``t`` and the
    first one still to open, in configured order."""
    opened = [p for p in periods if p.opens_at <= t]
    upcoming = [p for p in periods if p.opens_at > t]
    if upcoming:
        opened.append(min(upcoming, key=lambda p: p.opens_at))
    return tuple(p for p in periods if p in opened)


def _course(
    product: Product,
    spec: CertifiedCourse | CourseSpec,
    role: CourseRole,
    managed: frozenset[str],
    period: str | None = None,
    **settings: Any,
) -> DesiredCourse:
    """A course certops manages: published and admin-only with no self-unenrollment, as
    the article recommends for both kinds, plus the kind's own ``settings``."""
    description = str(spec.description or "")
    return DesiredCourse(
        code=str(spec.code),
        product=product.id,
        role=role,
        settings=CourseSettings(
            name=str(spec.name),
            description=description,
            published=True,
            self_unenrollment=False,
            enrollment_policy=EnrollmentPolicy.ADMIN_ONLY,
            **settings,
        ),
        # An empty description in config means "not managed", not "erase it".
        managed=managed if description else managed - {"description"},
        period=period,
    )


def _certified_course(product: Product) -> DesiredCourse:
    return _course(product, product.certified_course, CourseRole.CERTIFIED, CERTIFIED_FIELDS)


def _maintenance_course(product: Product, period: Period) -> DesiredCourse:
    # The article's recommended properties for a maintenance course: validity equal to the
    # period, hard deadline, visible only to enrolled learners.
    return _course(
        product,
        period.course,
        CourseRole.MAINTENANCE,
        MAINTENANCE_FIELDS,
        period.id,
        date_begin=period.opens_at,
        date_end=period.deadline,
        soft_deadline=False,
        visible_only_to_enrolled=True,
    )


def _group(product: Product) -> DesiredGroup:
    return DesiredGroup(
        name=str(product.group.name),
        product=product.id,
        description=(
            f"Learners certified in {product.name}: completed an initial training path "
            f"({', '.join(p.name for p in product.initial_paths)}). Managed by certops."
        ),
        rules=tuple(
            GroupRule(completed_all=tuple(str(code) for code in path.all_of))
            for path in product.initial_paths
        ),
    )


def desired_setup(config: Config, t: datetime) -> DesiredSetup:
    """The setup objects the configuration asks for at instant ``t``.

    Returns a ``DesiredSetup``: certified and maintenance courses by code (see the module
    docstring for which periods), the Salesforce Sync catalog and the certified courses as
    its items when a product syncs, and each product's group by name. Conflicts the config
    checks should have caught (one group name with different rules in two products, sync
    without a catalog setting) become warnings, and the first product wins."""
    courses: dict[str, DesiredCourse] = {}
    groups: dict[str, DesiredGroup] = {}
    items: list[DesiredCatalogItem] = []
    initial: dict[str, list[str]] = {}
    warnings: list[PlanWarning] = []
    catalog = config.settings.salesforce_catalog
    syncing = False

    for product in config.products:
        wanted = [_certified_course(product)]
        wanted += [
            _maintenance_course(product, p) for p in periods_desired(product.maintenance.periods, t)
        ]
        for course in wanted:
            if course.code in courses:
                warnings.append(
                    PlanWarning(
                        product.id,
                        f"course {course.code} is also configured by product "
                        f"{courses[course.code].product}; only that one manages it",
                        f"course.{course.code}",
                    )
                )
                continue
            courses[course.code] = course
        periods = product.maintenance.periods
        if periods and all(p.deadline <= t for p in periods):
            last = max(periods, key=lambda p: p.deadline)
            warnings.append(
                PlanWarning(
                    product.id,
                    f"every maintenance period has ended (the last, {last.id}, was due "
                    f"{last.due.isoformat()}): nobody owes maintenance any more and the "
                    f"enrollment rule still points at {last.course.code}; add the next period",
                    f"course.{last.course.code}",
                )
            )
        for path in product.initial_paths:
            for code in path.all_of:
                users = initial.setdefault(str(code), [])
                if product.id not in users:
                    users.append(product.id)

        group = _group(product)
        other = groups.get(group.name)
        if other is None:
            groups[group.name] = group
        elif _rule_set(other.rules) != _rule_set(group.rules):
            warnings.append(
                PlanWarning(
                    product.id,
                    f"group {group.name!r} is also the group of product {other.product} with "
                    "other initial paths; give each product its own group",
                    f"group.{group.name}",
                )
            )

        if product.certified_course.salesforce_sync:
            if catalog is None:
                warnings.append(
                    PlanWarning(
                        product.id,
                        "certified_course.salesforce_sync is set but settings.salesforce_catalog "
                        "is not; the course is not placed in any catalog",
                        f"course.{product.certified_course.code}",
                    )
                )
            else:
                syncing = True
                items.append(
                    DesiredCatalogItem(
                        str(catalog.code), str(product.certified_course.code), product.id
                    )
                )

    return DesiredSetup(
        at=t,
        courses=courses,
        catalog=catalog if syncing else None,
        catalog_items=tuple(items),
        groups=groups,
        initial_courses={code: tuple(ps) for code, ps in initial.items()},
        warnings=tuple(warnings),
    )


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


def _rule_set(rules: Collection[GroupRule]) -> frozenset[frozenset[str]]:
    """Rule sets compared as a set of sets of course codes: order never matters."""
    return frozenset(
        frozenset(_SPACE.sub(" ", str(code)).strip() for code in rule.completed_all)
        for rule in rules
    )


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
    """The keys of ``want`` whose value differs in ``have``, in ``want``'s order.

    Both sides are already normalised to the form that compares; deepdiff compares them
    field by field, however nested (lists, sets, mappings), so a newly managed field needs
    one more key, not new comparison code. Numbers compare by value (``1 == 1.0``)."""
    if have == want:
        # Equal mappings differ nowhere (the usual case: a plan with nothing to change).
        # deepdiff, which imports numpy (and pandas when installed, half a second of CPU),
        # is only loaded when something differs.
        return []
    from deepdiff import DeepDiff

    diff = DeepDiff(dict(have), dict(want), ignore_numeric_type_changes=True)
    affected = set(diff.affected_root_keys)
    return [name for name in want if name in affected]


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
        "rules": _rule_set(live.rules),
        "exclude_deactivated": bool(live.exclude_deactivated),
    }
    want = {
        "automatic": bool(desired.automatic),
        "rules_operator": desired.operator.upper(),
        "rules": _rule_set(desired.rules),
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
        reason="membership must follow the initial paths: " + ", ".join(changed) + " differ",
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


def setup_checks(desired: DesiredSetup, acks: Acknowledgements) -> list[Change]:
    """Manual checks of the settings certops sets on a new course but cannot read back
    (``WRITE_ONLY_FIELDS``: a maintenance course visible only to its enrolled learners).

    Computed from the configuration alone (``certops ack`` needs no LMS), one per course,
    shown until acknowledged: nothing is diffed forever, and nobody has to take certops'
    word for a setting the API cannot show."""
    changes = []
    for code in sorted(desired.courses):
        course = desired.courses[code]
        if course.settings.visible_only_to_enrolled is None:
            continue
        target = Target(TargetKind.COURSE_CHECK, course=code)
        address = target.address  # the course's own: the ack file keys checks by it
        asked = {
            "course": code,
            "visible_only_to_enrolled": course.settings.visible_only_to_enrolled,
        }
        mark = fingerprint(asked)
        if acks.acknowledged(address, mark):
            continue
        who = (
            "Only users enrolled in the course"
            if course.settings.visible_only_to_enrolled
            else "Everyone"
        )
        changes.append(
            Change(
                target=target,
                type=ChangeType.COURSE,
                action=Action.MANUAL,
                product=course.product,
                asked={"visible_only_to_enrolled": course.settings.visible_only_to_enrolled},
                reason=(
                    "Docebo's API does not show a course's visibility, so certops sets it when "
                    "it creates the course but cannot verify it: check it once"
                ),
                steps=(
                    f"Admin Menu > Course Management > open {code} ({course.settings.name})",
                    f"Properties > Catalog options/visibility: check it is set to '{who}'",
                    f"Then record it: certops ack {address}",
                ),
                fingerprint=mark,
            )
        )
    return changes
