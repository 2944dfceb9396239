"""Finding the certification products a tenant already has, and building their config. Pure.

A product shows in Docebo in up to three ways, each a convention the article follows:

- an automatic group (audience) whose rule sets are "completed all of these courses",
  named ``Certified: NAME``: the group, and its rule sets are the initial paths;
- a course named ``Certified: NAME``: the certified course;
- courses named ``NAME: Maintenance of Certification YYYY``: one maintenance period each.

Names that do not follow the convention are given as hints (``--product NAME=GROUP``,
``--certified-course [NAME=]CODE``). What cannot be read (a group or certified course
certops has not created yet, a period's dates, the initial paths of a product without a
group) gets a placeholder that the configuration marks for a person to confirm.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from certops.config.model import Catalog as CatalogSpec
from certops.config.model import (
    CertifiedCourse,
    CourseSpec,
    Digest,
    InitialPath,
    Maintenance,
    NamedRef,
    Notifications,
    Period,
    Product,
    due_day,
)
from certops.lms.records import Course, Group

# A product's name may hold any character, line breaks included (DOTALL).
CERTIFIED_NAME = re.compile(r"^\s*certified\s*:\s*(?P<name>\S.*?)\s*$", re.IGNORECASE | re.DOTALL)
MAINTENANCE_NAME = re.compile(
    r"^\s*(?P<name>\S.*?)\s*:\s*maintenance of certification\s+(?P<year>\d{4})\s*$",
    re.IGNORECASE | re.DOTALL,
)
PATH_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True, slots=True)
class Hints:
    """What the user tells import where the tenant's names do not follow the convention:
    product name -> group name, and product name ("" for the only product without one)
    -> certified course code."""

    groups: Mapping[str, str] = field(default_factory=dict)
    certified: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Found:
    """One product as found in the tenant, before its data is read."""

    name: str
    group_name: str
    group: Group | None  # the automatic group with completion rule sets, if any
    certified: Course | None
    maintenance: tuple[tuple[str, Course], ...]  # (period id, course), by year
    candidates: tuple[Course, ...] = ()  # initial courses guessed from names (no group)

    def codes(self) -> set[str]:
        """Every course code the product names in the tenant (to read enrollments of)."""
        codes = {c.code for _, c in self.maintenance} | {c.code for c in self.candidates}
        if self.certified is not None:
            codes.add(self.certified.code)
        if self.group is not None:
            codes.update(code for rule in self.group.rules for code in rule.completed_all)
        return codes


@dataclass(frozen=True, slots=True)
class Draft:
    """A product's configuration and the comments that go with it: ``notes`` maps a part
    (``group``, ``initial_paths``, ``certified_course``, ``period:ID``, ``maintenance``,
    ``enrollment_rule``, ``notifications``) to what a person must confirm about it."""

    product: Product
    notes: Mapping[str, str]
    catalog: CatalogSpec | None = None  # the catalog holding the certified course


def slug(name: str) -> str:
    """A product id for ``name``: lowercase letters, digits and single dashes."""
    text = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")
    return text[:64].strip("-") or "product"


def _key(name: str) -> str:
    return " ".join(name.casefold().split())


def _completion_group(group: Group) -> bool:
    return group.automatic and bool(group.rules) and all(r.completed_all for r in group.rules)


def find_products(
    courses: Sequence[Course], groups: Sequence[Group], hints: Hints
) -> tuple[list[Found], list[str]]:
    """The products of a tenant from its course list and its groups (with rules), and
    notes about what was left out (e.g. an automatic group that follows no convention).

    Products come out sorted by id. Raises ``ValueError`` for a hint naming a group or
    course the tenant does not have."""
    by_code = {c.code: c for c in courses if c.code}
    groups_by_name = {_key(g.name): g for g in groups}
    names: dict[str, str] = {}  # key -> display name, first seen wins
    group_of: dict[str, Group | None] = {}
    group_name: dict[str, str] = {}
    left_out: list[str] = []

    for product, hinted_name in hints.groups.items():
        hinted_group = groups_by_name.get(_key(hinted_name))
        if hinted_group is None:
            raise ValueError(
                f"--product {product}={hinted_name}: the tenant has no group '{hinted_name}'"
            )
        names.setdefault(_key(product), product)
        group_of[_key(product)] = hinted_group
        group_name[_key(product)] = hinted_group.name
    hinted = {_key(g) for g in hints.groups.values()}
    for group in groups:
        if _key(group.name) in hinted or not _completion_group(group):
            continue
        match = CERTIFIED_NAME.match(group.name)
        if match is None:
            left_out.append(
                f"group '{group.name}' is automatic with course-completion rules but is not "
                f"named 'Certified: NAME'; to import it, pass --product NAME='{group.name}'"
            )
            continue
        key = _key(match["name"])
        names.setdefault(key, match["name"])
        group_of.setdefault(key, group)
        group_name.setdefault(key, group.name)

    certified: dict[str, Course] = {}
    maintenance: dict[str, dict[str, Course]] = {}
    for course in courses:
        name = course.settings.name
        if (match := CERTIFIED_NAME.match(name)) is not None:
            key = _key(match["name"])
            names.setdefault(key, match["name"])
            certified.setdefault(key, course)
        elif (match := MAINTENANCE_NAME.match(name)) is not None:
            key = _key(match["name"])
            names.setdefault(key, match["name"])
            maintenance.setdefault(key, {}).setdefault(match["year"], course)

    for product, code in hints.certified.items():
        hinted_course = by_code.get(code)
        if hinted_course is None:
            raise ValueError(f"--certified-course {code}: the tenant has no course {code}")
        key = _key(product) if product else _only_without_certified(names, certified, code)
        names.setdefault(key, product)
        certified[key] = hinted_course

    found: list[Found] = []
    taken = {c.code for c in certified.values()} | {
        c.code for per in maintenance.values() for c in per.values()
    }
    for key, name in names.items():
        product_group = group_of.get(key)
        existing = groups_by_name.get(_key(f"Certified: {name}"))
        if product_group is None and existing is not None and _completion_group(existing):
            product_group = existing
        candidates: tuple[Course, ...] = ()
        if product_group is None:
            # No rule sets to read the initial paths from: offer the courses named after
            # the product (e.g. "Widget Pro 101") for a person to sort into paths.
            candidates = tuple(
                c
                for c in courses
                if c.code not in taken and c.code and _key(c.settings.name).startswith(key + " ")
            )
        found.append(
            Found(
                name=name,
                group_name=(
                    product_group.name
                    if product_group
                    else group_name.get(key, f"Certified: {name}")
                ),
                group=product_group,
                certified=certified.get(key),
                maintenance=tuple(sorted(maintenance.get(key, {}).items())),
                candidates=candidates,
            )
        )
    found.sort(key=lambda f: slug(f.name))
    return found, left_out


def _only_without_certified(
    names: Mapping[str, str], certified: Mapping[str, Course], code: str
) -> str:
    without = [k for k in names if k not in certified]
    if len(without) != 1:
        raise ValueError(
            f"--certified-course {code}: say which product it certifies, as NAME={code} "
            f"(products without a certified course: {', '.join(names[k] for k in without)})"
        )
    return without[0]


def _code_prefix(found: Found) -> str:
    """The stem of the product's course codes, from a maintenance or certified course
    (``MOC-WP-2026`` -> ``WP``), else from its id."""
    for _, course in found.maintenance:
        stem = re.sub(r"[-_.]?\d{4}$", "", course.code)
        stem = re.sub(r"^(MOC|MAINT)[-_.]?", "", stem, flags=re.IGNORECASE)
        if stem and CODE.match(stem):
            return stem
    if found.certified is not None:
        stem = re.sub(r"^CERT[-_.]?", "", found.certified.code, flags=re.IGNORECASE)
        if stem and CODE.match(stem):
            return stem
    return slug(found.name).upper()


def _path_name(codes: Sequence[str], index: int) -> str:
    name = "_".join(codes)
    return name if len(name) <= 64 and PATH_NAME.match(name) else f"path-{index}"


def _validity(
    enrollments: Iterable[tuple[datetime | None, datetime | None]],
) -> tuple[date, date] | None:
    """The most common validity of a course's enrollments as (opens, due), if any."""
    counts = Counter(
        (start, end) for start, end in enrollments if start is not None and end is not None
    )
    if not counts:
        return None
    (start, end), _ = counts.most_common(1)[0]
    return start.date(), due_day(end)


def build_draft(
    found: Found,
    details: Mapping[str, Course],
    validity: Mapping[str, Sequence[tuple[datetime | None, datetime | None]]],
    catalogs: Mapping[str, tuple[CatalogSpec, frozenset[str]]],
    today: date,
    guessed: Sequence[Sequence[str]] = (),
) -> Draft:
    """The configuration of one found product, with notes for what must be confirmed.

    ``details`` holds the full detail of the certified and maintenance courses by code;
    ``validity`` the (valid_from, valid_until) of each maintenance course's enrollments;
    ``catalogs`` maps a catalog code to (catalog, the course codes in it); ``guessed``
    are initial paths guessed from the data, used when there is no group."""
    notes: dict[str, str] = {}
    pid = slug(found.name)
    prefix = _code_prefix(found)

    if found.group is None:
        notes["group"] = (
            "PLACEHOLDER: the tenant has no automatic group for this product yet; certops "
            "creates it with this name"
        )
    if found.group is not None:
        paths = tuple(
            InitialPath(_path_name(rule.completed_all, i), tuple(rule.completed_all))
            for i, rule in enumerate(found.group.rules, 1)
        )
    elif guessed:
        paths = tuple(
            InitialPath(_path_name(codes, i), tuple(codes)) for i, codes in enumerate(guessed, 1)
        )
        notes["initial_paths"] = (
            "PLACEHOLDER: no group rules to read the initial paths from; guessed from which "
            "courses named after the product the learners in maintenance courses completed. "
            "CONFIRM (a path is all of its courses; any one path certifies)"
        )
    elif found.candidates:
        paths = tuple(
            InitialPath(_path_name([c.code], i), (c.code,))
            for i, c in enumerate(found.candidates, 1)
        )
        notes["initial_paths"] = (
            "PLACEHOLDER: no group rules to read the initial paths from; these are the "
            "courses named after the product, one path each. CONFIRM which courses make a "
            "path (a path is all of its courses; any one path certifies)"
        )
    else:
        paths = (InitialPath("path-1", (f"{prefix}-101",)),)
        notes["initial_paths"] = (
            "PLACEHOLDER: no group rules and no course named after the product; put the "
            "initial training's course codes here"
        )

    if found.certified is not None:
        live = details.get(found.certified.code, found.certified)
        certified = CertifiedCourse(
            code=live.code, name=live.settings.name, description=live.settings.description
        )
    else:
        certified = CertifiedCourse(code=f"CERT-{prefix}", name=f"Certified: {found.name}")
        notes["certified_course"] = (
            "PLACEHOLDER: the tenant has no certified course for this product yet; certops "
            "creates it with this code and name"
        )
    catalog = None
    for spec, items in catalogs.values():
        if certified.code in items:
            catalog = spec
            certified = CertifiedCourse(
                certified.code, certified.name, certified.description, salesforce_sync=True
            )
            notes["salesforce"] = (
                f"the certified course is in catalog {spec.code} ({spec.name}), taken as the "
                "Salesforce catalog: CONFIRM"
            )
            break

    periods: list[Period] = []
    for year, course in found.maintenance:
        live = details.get(course.code, course)
        begin, end = live.settings.date_begin, live.settings.date_end
        if begin is not None and end is not None:
            opens, due = begin.date(), due_day(end)
        elif (seen := _validity(validity.get(course.code, ()))) is not None:
            opens, due = seen
            notes[f"period:{year}"] = (
                "the course has no validity dates: opens and due are the validity of most of "
                "its enrollments; CONFIRM"
            )
        else:
            opens, due = date(int(year), 1, 1), date(int(year), 12, 31)
            notes[f"period:{year}"] = (
                "PLACEHOLDER: neither the course nor its enrollments have dates; the "
                f"calendar year {year} is assumed"
            )
        course_spec = CourseSpec(code=live.code, name=live.settings.name, description="")
        if live.settings.description:
            course_spec = CourseSpec(live.code, live.settings.name, live.settings.description)
        periods.append(Period(id=year, course=course_spec, opens=opens, due=due))
    if not periods:
        year = str(today.year)
        periods.append(
            Period(
                id=year,
                course=CourseSpec(
                    f"MOC-{prefix}-{year}", f"{found.name}: Maintenance of Certification {year}"
                ),
                opens=date(today.year, 1, 1),
                due=date(today.year, 12, 31),
            )
        )
        notes[f"period:{year}"] = (
            "PLACEHOLDER: the tenant has no maintenance course for this product; certops "
            "creates this one"
        )
    periods = _without_overlaps(periods, notes)

    notes["enrollment_rule"] = (
        "PLACEHOLDER: Docebo has no API for enrollment rules. CONFIRM the name of the rule "
        "that enrolls the group into the certified and maintenance courses"
    )
    notes["notifications"] = (
        "PLACEHOLDER: Docebo has no API for notifications. CONFIRM these names (or remove "
        "the ones the program does not use)"
    )
    product = Product(
        id=pid,
        name=found.name,
        group=NamedRef(found.group_name),
        initial_paths=paths,
        certified_course=certified,
        maintenance=Maintenance(periods=tuple(periods)),
        enrollment_rule=NamedRef(f"Certified: {found.name} courses"),
        notifications=_placeholder_notifications(found.name),
    )
    return Draft(product=product, notes=notes, catalog=catalog)


def _without_overlaps(periods: list[Period], notes: dict[str, str]) -> list[Period]:
    """Periods in order; one that would overlap the one before starts the day after it
    (noted), so that the output validates."""
    periods.sort(key=lambda p: (p.opens, p.id))
    out: list[Period] = []
    for period in periods:
        if out and period.opens <= out[-1].due:
            opens = out[-1].due + timedelta(days=1)
            period = Period(period.id, period.course, opens, max(period.due, opens))
            notes[f"period:{period.id}"] = (
                "its dates overlapped the period before; moved to open the day after it: CONFIRM"
            )
        out.append(period)
    return out


def _placeholder_notifications(name: str) -> Notifications:
    return Notifications(
        learner_enrolled=NamedRef(f"{name} maintenance of certification enrollment"),
        admin_certified=NamedRef(f"New {name} certification"),
        digest=Digest(f"{name} maintenance of certification not yet completed"),
    )
