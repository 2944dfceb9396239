"""``certops import``: turning what a tenant already has into configuration.

The I/O edge: reads the tenant through the reader (never a writer) with as few calls as
the course list, the groups, the catalogs, the users and the enrollments of the courses
found allow; everything else is pure (``discover``, ``infer``, ``yamlout``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from certops.adopt.discover import Draft, Found, Hints, build_draft, find_products
from certops.adopt.infer import infer_rules, with_decisions
from certops.adopt.paths import guess_paths
from certops.adopt.yamlout import product_yaml, settings_yaml, writable
from certops.config.model import Catalog as CatalogSpec
from certops.config.schema import schema_path
from certops.engine.facts import collect_facts
from certops.history import StatusWrite
from certops.lms.api import LMSReader, gather_settled, settled_triple
from certops.lms.records import Course, Enrollment, EnrollmentStatus, Group, User

Progress = Callable[[str], None]


__all__ = ["Hints", "Imported", "import_tenant"]


@dataclass(frozen=True, slots=True)
class Imported:
    """What import found: the products' drafts (exceptions and rules filled in), the
    catalog for the settings, notes about what was left out, and the files to write
    (name -> text)."""

    drafts: tuple[Draft, ...]
    catalog: CatalogSpec | None
    left_out: tuple[str, ...]
    files: dict[str, str]
    remaining: dict[str, int]  # product id -> learner changes still due at the instant


async def _groups(reader: LMSReader) -> list[Group]:
    listed = await reader.list_groups()
    automatic = [g for g in listed if g.automatic]
    return await gather_settled(reader.get_group(g.id) for g in automatic)


async def _catalogs(reader: LMSReader) -> dict[str, tuple[CatalogSpec, frozenset[str]]]:
    catalogs = await reader.list_catalogs()
    items = await gather_settled(reader.list_catalog_items(c.id) for c in catalogs)
    return {
        c.code: (
            CatalogSpec(c.code, c.name),
            frozenset(i.item_code for i in found if i.item_type == "course"),
        )
        for c, found in zip(catalogs, items, strict=True)
    }


async def import_tenant(
    reader: LMSReader,
    hints: Hints,
    at: datetime,
    folder: str,
    progress: Progress | None = None,
    writes: Sequence[StatusWrite] = (),
) -> Imported:
    """Reads the tenant behind ``reader`` and returns the configuration of its products
    as of ``at``, as files for ``folder``. ``writes`` are the status writes of certops'
    audit log (``certops.history.last_status_writes``): the revocations and reinstatements
    certops carried out, which no LMS records, are kept. Raises ``ValueError`` for a hint
    the tenant contradicts."""
    say = progress or (lambda _msg: None)
    say("reading courses, groups and catalogs")
    courses, groups, catalogs = await settled_triple(
        reader.list_courses(), _groups(reader), _catalogs(reader)
    )
    found, left_out = find_products(courses, groups, hints)
    by_code = {c.code: c for c in courses if c.code}
    named = sorted({code for f in found for code in f.codes() if code in by_code})
    managed = sorted(
        {c.code for f in found for _, c in f.maintenance}
        | {f.certified.code for f in found if f.certified is not None}
    )
    say(f"reading {len(found)} product(s): users and enrollments in {len(named)} courses")

    async def details() -> dict[str, Course]:
        read = await gather_settled(reader.get_course(by_code[code].id) for code in managed)
        return dict(zip(managed, read, strict=True))

    async def enrollments() -> list[Enrollment]:
        ids = sorted({by_code[code].id for code in named})
        return await reader.list_enrollments(ids) if ids else []

    detailed, users, rows = await settled_triple(details(), reader.list_users(), enrollments())
    codes_by_id = {by_code[code].id: code for code in named}
    validity: dict[str, list[tuple[datetime | None, datetime | None]]] = {}
    for row in rows:
        code = row.course_code or codes_by_id.get(row.course_id, "")
        validity.setdefault(code, []).append((row.valid_from, row.valid_until))

    drafts: list[Draft] = []
    remaining: dict[str, int] = {}
    for item in found:
        inferred, left = _infer(
            item, detailed, validity, catalogs, users, rows, by_code, at, writes
        )
        draft, notes = writable(inferred)
        left_out += notes
        if draft is not None:
            drafts.append(draft)
            remaining[draft.product.id] = left
    catalog = next((d.catalog for d in drafts if d.catalog is not None), None)
    files = {
        f"{d.product.id}.yaml": product_yaml(d, reader.lms, at, d.notes["maintenance"], folder)
        for d in drafts
    }
    files["settings.yaml"] = settings_yaml(catalog, reader.lms, at)
    files["certops.schema.json"] = schema_path().read_text(encoding="utf-8")
    return Imported(tuple(drafts), catalog, tuple(left_out), files, remaining)


def _infer(
    item: Found,
    detailed: dict[str, Course],
    validity: dict[str, list[tuple[datetime | None, datetime | None]]],
    catalogs: dict[str, tuple[CatalogSpec, frozenset[str]]],
    users: list[User],
    rows: list[Enrollment],
    by_code: dict[str, Course],
    at: datetime,
    writes: Sequence[StatusWrite],
) -> tuple[Draft, int]:
    """One product's draft with its inferred rules and exceptions, and how many learner
    changes a plan at ``at`` would still make."""
    guessed = _guess(item, users, rows, by_code) if item.group is None else ()
    draft = build_draft(item, detailed, validity, catalogs, at.date(), guessed)
    codes_by_id = {c.id: code for code, c in by_code.items()}
    facts = collect_facts(draft.product, users, rows, codes_by_id)
    product = with_decisions(draft.product, writes, facts, at.date())
    course_ids: dict[str, int | None] = {code: c.id for code, c in by_code.items()}
    inferred = infer_rules(product, facts, course_ids, at)
    m = inferred.product.maintenance
    note = (
        f"Inferred from the enrollments (no API has them): grace {m.new_learner_grace_days} "
        f"days and late completion '{m.late_completion.value}' explain the LMS best; CONFIRM"
    )
    notes = {**draft.notes, "maintenance": note}
    return replace(draft, product=inferred.product, notes=notes), inferred.remaining


def _guess(
    item: Found, users: list[User], rows: list[Enrollment], by_code: dict[str, Course]
) -> tuple[tuple[str, ...], ...]:
    """Initial paths guessed from completions (see ``certops.adopt.paths``)."""
    names = {u.id: u.username for u in users}
    codes_by_id = {c.id: code for code, c in by_code.items()}
    candidates = {c.code for c in item.candidates}
    maintenance = {c.code for _, c in item.maintenance}
    completed: dict[str, set[str]] = {}
    certified: set[str] = set()
    for row in rows:
        user = names.get(row.user_id)
        code = row.course_code or codes_by_id.get(row.course_id, "")
        if user is None:
            continue
        if code in maintenance:
            certified.add(user)
        elif code in candidates and row.status is EnrollmentStatus.COMPLETED:
            completed.setdefault(user, set()).add(code)
    return guess_paths(sorted(candidates), completed, certified)
