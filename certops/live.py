"""Reading the live LMS into one snapshot: the I/O edge of ``plan``, ``apply`` and ``status``.

Reads only what the configuration names, with server-side filters: the course list (to
map codes to ids), the detail of the courses certops manages, the Salesforce catalog's
items, the named groups, the users, and the enrollments in the named courses. Everything
after this module is pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from certops.config.model import Config, Product
from certops.engine.compare import LiveSetup
from certops.engine.facts import (
    LearnerFacts,
    enrolled_usernames,
    facts_from_index,
    index_by_code,
    managed_codes,
    product_course_codes,
)
from certops.lms.api import LMSReader, gather_settled, settled_pair, settled_triple
from certops.lms.records import Catalog, Course, Enrollment, Group, User

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """What the LMS holds, as far as the configuration is concerned."""

    lms: str
    setup: LiveSetup
    course_ids: dict[str, int]  # every existing course the config names, by code
    users_by_id: dict[int, User]
    enrollments: tuple[Enrollment, ...]
    user_ids: dict[str, int] = field(default_factory=dict)  # by username
    # Every course code the LMS lists (not only the named ones): the reference checks
    # suggest the nearest one for a typo without another read.
    listed_codes: frozenset[str] = frozenset()
    # The enrollments grouped by course code, built on first use: each product then reads
    # only its own courses' enrollments, not every one (pointers, no copies).
    _by_code: dict[str, list[Enrollment]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @classmethod
    def build(
        cls,
        lms: str,
        setup: LiveSetup,
        course_ids: dict[str, int],
        users: Iterable[User],
        enrollments: Iterable[Enrollment],
        listed_codes: Iterable[str] = (),
    ) -> LiveSnapshot:
        """A snapshot with its username index built once."""
        users_by_id = {u.id: u for u in users}
        return cls(
            lms=lms,
            setup=setup,
            course_ids=course_ids,
            users_by_id=users_by_id,
            enrollments=tuple(enrollments),
            user_ids={u.username: uid for uid, u in users_by_id.items()},
            listed_codes=frozenset(listed_codes),
        )

    def by_code(self) -> dict[str, list[Enrollment]]:
        """The enrollments grouped by course code (built once)."""
        if self._by_code is None:
            codes_by_id = {cid: code for code, cid in self.course_ids.items()}
            object.__setattr__(self, "_by_code", index_by_code(self.enrollments, codes_by_id))
        assert self._by_code is not None
        return self._by_code

    def learner_facts(self, product: Product) -> list[LearnerFacts]:
        """Facts of every learner enrolled in a course ``product`` names, by username."""
        return facts_from_index(product, self.users_by_id, self.by_code())

    def enrolled_usernames(self, product: Product) -> set[str]:
        """The usernames ``learner_facts`` would return, without building the facts."""
        return enrolled_usernames(product, self.users_by_id, self.by_code())


async def read_live(
    reader: LMSReader, config: Config, progress: Progress | None = None
) -> LiveSnapshot:
    """Everything ``config`` needs from the LMS, read with as few calls as the API allows.

    Every read starts at once except those that need the course list (which maps codes to
    ids): the course details, the enrollments and the group details wait for it; the
    users, catalogs and group list do not. The client caps the requests in flight.
    """
    say = progress or (lambda _msg: None)
    say("reading courses, users, groups and catalogs")
    named = {code for p in config.products for code in product_course_codes(p)}

    async def catalog_part() -> tuple[dict[str, Catalog], set[tuple[str, str]]]:
        catalog = config.settings.salesforce_catalog
        if catalog is None:
            return {}, set()
        catalogs = {c.code: c for c in await reader.list_catalogs()}
        items: set[tuple[str, str]] = set()
        if catalog.code in catalogs:
            for item in await reader.list_catalog_items(catalogs[catalog.code].id):
                if item.item_type == "course":  # a learning plan may share a course's code
                    items.add((catalog.code, item.item_code))
        return catalogs, items

    async def course_part() -> tuple[
        list[Course], dict[str, Course], dict[str, Group], list[Enrollment]
    ]:
        group_names = {p.group.name for p in config.products}
        # The group list beside the course list; the details after both (a group's
        # rules name courses by id, which the course list maps to codes).
        listed, all_groups = await settled_pair(reader.list_courses(), reader.list_groups())
        course_ids = {c.code: c.id for c in listed if c.code in named}
        managed = sorted(
            {code for p in config.products for code in managed_codes(p)} & set(course_ids)
        )
        ids = sorted(set(course_ids.values()))
        named_groups = [g for g in all_groups if g.name in group_names]
        say(f"reading enrollments in {len(ids)} courses")

        async def details() -> dict[str, Course]:
            found = await gather_settled(reader.get_course(course_ids[code]) for code in managed)
            return dict(zip(managed, found, strict=True))

        async def groups() -> dict[str, Group]:
            found = await gather_settled(reader.get_group(g.id) for g in named_groups)
            return {g.name: full for g, full in zip(named_groups, found, strict=True)}

        async def enrollments() -> list[Enrollment]:
            return await reader.list_enrollments(ids) if ids else []

        detailed, full_groups, found = await settled_triple(details(), groups(), enrollments())
        return listed, detailed, full_groups, found

    (listed, detailed, groups, found), (catalogs, items), users = await settled_triple(
        course_part(), catalog_part(), reader.list_users()
    )
    course_ids = {c.code: c.id for c in listed if c.code in named}
    return LiveSnapshot.build(
        reader.lms,
        LiveSetup(
            courses=detailed,
            catalogs=catalogs,
            catalog_items=frozenset(items),
            groups=groups,
            existing_codes=frozenset(course_ids),
        ),
        course_ids,
        users,
        found,
        listed_codes=(c.code for c in listed if c.code),
    )


@dataclass(frozen=True, slots=True)
class Learners:
    """A few learners read one by one (``certops status``)."""

    users: tuple[User, ...]  # found, in the order asked, each once
    missing: tuple[str, ...]  # the logins no user matched
    course_ids: dict[str, int]  # every existing course the config names, by code
    enrollments: tuple[Enrollment, ...]  # theirs, in those courses


async def read_learners(reader: LMSReader, config: Config, logins: Iterable[str]) -> Learners:
    """The users ``logins`` name (username or e-mail), the named courses' ids, and their
    enrollments in those courses: one lookup per login, then one course list and one
    enrollment read for all of them."""
    asked = list(dict.fromkeys(logins))
    found = await gather_settled(reader.find_user(login) for login in asked)
    users: dict[int, User] = {}
    for user in found:
        if user is not None:
            users.setdefault(user.id, user)
    missing = tuple(login for login, user in zip(asked, found, strict=True) if user is None)
    if not users:
        return Learners((), missing, {}, ())
    listed = await reader.list_courses()
    named = {code for p in config.products for code in product_course_codes(p)}
    course_ids = {c.code: c.id for c in listed if c.code in named}
    ids = sorted(set(course_ids.values()))
    enrollments = await reader.list_enrollments(ids, sorted(users)) if ids else []
    return Learners(tuple(users.values()), missing, course_ids, tuple(enrollments))
