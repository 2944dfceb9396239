"""The one-time setup as desired state: what the configuration asks for at an instant.

``desired_setup(config, t)`` compiles what the article's setup checklist asks for at
instant ``t``: the certified courses, the maintenance courses, the Salesforce Sync catalog
and its items, and the certified groups with their eligibility rules, each keyed by its
natural key (course code, catalog code, group name). ``certops.engine.compare`` diffs it
against the live LMS.

Which maintenance courses are desired at ``t``: every period that has opened (``opens ≤ t``)
and the *next* period to open. The next one is created ahead so admins can put content
in it before it opens (its validity dates keep learners out until then), while periods
further ahead are left until they are next; so ``certops plan --at`` the day a period
opens previews the course after it being created.

Pure: no clock reads, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from certops.config.model import Catalog as CatalogSpec
from certops.config.model import CertifiedCourse, Config, CourseSpec, Period, Product
from certops.plan.model import PlanWarning
from certops.records import CourseSettings, EnrollmentPolicy, GroupRule

_SPACE = re.compile(r"\s+")


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


def rule_set(rules: Collection[GroupRule]) -> frozenset[frozenset[str]]:
    """Rule sets compared as a set of sets of course codes: order never matters."""
    return frozenset(
        frozenset(_SPACE.sub(" ", str(code)).strip() for code in rule.completed_all)
        for rule in rules
    )


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
                    f"{last.last_day.isoformat()}): nobody owes maintenance any more and the "
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
        elif rule_set(other.rules) != rule_set(group.rules):
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
