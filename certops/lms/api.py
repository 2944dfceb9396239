"""What the rest of certops may ask of an LMS: a reader, and a writer that extends it.

``plan`` and ``status`` get an ``LMSReader``, which has no mutating methods at all; only
``apply`` gets an ``LMSWriter``. Implemented over HTTP by ``certops.lms.docebo`` (over
``certops.lms.session``) for a Docebo tenant and for the sandbox (mounted in-process or
served), the same code for both.
Every method is a coroutine; lists are read completely (the client pages).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar, cast

from certops.lms.records import (
    Catalog,
    CatalogItem,
    Course,
    CourseSettings,
    Enrollment,
    EnrollmentStatus,
    Group,
    GroupRule,
    RowResult,
    User,
)

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")


@dataclass(frozen=True, slots=True)
class NewEnrollment:
    """One enrollment to create (rows are sent in batches)."""

    user_id: int
    course_id: int
    status: EnrollmentStatus = EnrollmentStatus.ENROLLED
    completed_at: datetime | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None  # exclusive instant


@dataclass(frozen=True, slots=True)
class EnrollmentUpdate:
    """Fields to set on existing enrollments of one course; ``None`` leaves a field alone."""

    course_id: int
    user_ids: tuple[int, ...]
    status: EnrollmentStatus | None = None
    completed_at: datetime | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None


class LMSReader(Protocol):
    lms: str  # the address, for plan files and messages (never carries secrets)

    async def list_users(self) -> list[User]: ...
    async def find_user(self, login: str) -> User | None:
        """The user whose username or e-mail equals ``login``, or None."""
        ...

    async def list_courses(self) -> list[Course]:
        """Every course (list view; settings may be partial: use ``get_course``)."""
        ...

    async def get_course(self, course_id: int) -> Course: ...
    async def find_course(self, code: str, *, detail: bool = True) -> Course | None:
        """The course with this code, read fresh by a search (full detail unless
        ``detail=False``), or None."""
        ...

    async def find_courses(self, codes: Iterable[str]) -> dict[str, Course]:
        """Full detail of the courses with these codes that exist, keyed by code."""
        ...

    async def list_catalogs(self) -> list[Catalog]: ...
    async def list_catalog_items(self, catalog_id: int) -> list[CatalogItem]: ...
    async def list_groups(self, search: str | None = None) -> list[Group]:
        """Every group (audience), or those whose name or description contains ``search``."""
        ...

    async def get_group(self, group_id: str) -> Group:
        """One group (by UUID) with its rules."""
        ...

    async def current_user(self) -> User:
        """The user the API acts as."""
        ...

    async def list_enrollments(
        self, course_ids: Sequence[int], user_ids: Sequence[int] | None = None
    ) -> list[Enrollment]:
        """Enrollments in these courses (optionally only these users), filtered server-side."""
        ...

    async def aclose(self) -> None: ...


class LMSWriter(LMSReader, Protocol):
    async def create_course(self, code: str, settings: CourseSettings) -> Course:
        """Create a course; a lost response is resolved by re-reading, never duplicated."""
        ...

    async def update_course(
        self, course_id: int, settings: CourseSettings, fields: Iterable[str]
    ) -> None:
        """Set only these ``CourseSettings`` fields of a course."""
        ...

    async def create_catalog(self, code: str, name: str) -> Catalog: ...
    async def add_catalog_item(self, catalog_code: str, course_code: str) -> RowResult: ...
    async def create_group(
        self, name: str, description: str, rules: Sequence[GroupRule], operator: str
    ) -> Group: ...
    async def update_group(
        self, group_id: str, description: str, rules: Sequence[GroupRule], operator: str
    ) -> None: ...
    async def enroll(self, rows: Sequence[NewEnrollment]) -> list[RowResult]:
        """Create enrollments in chunks; one ``RowResult`` per row, in order."""
        ...

    async def update_enrollments(
        self, update: EnrollmentUpdate, *, id_names: Sequence[tuple[str, str]] = ...
    ) -> list[RowResult]:
        """Set fields on existing enrollments; one ``RowResult`` per user, in order.
        ``id_names``: the wire names of the id arrays (the write probe tries each)."""
        ...


async def gather_settled(work: Iterable[Awaitable[T]]) -> list[T]:
    """The results of ``work`` run concurrently, in order. Every one is awaited to the end
    before the first error is raised, so no orphan request outlives the connection."""
    results = await asyncio.gather(*work, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)  # type: ignore[arg-type]  # no exceptions left


async def settled_pair(a: Awaitable[A], b: Awaitable[B]) -> tuple[A, B]:
    """``gather_settled`` for two reads of different types, each keeping its own."""
    ra, rb = await gather_settled([a, b])
    return cast(A, ra), cast(B, rb)


async def settled_triple(a: Awaitable[A], b: Awaitable[B], c: Awaitable[C]) -> tuple[A, B, C]:
    """``gather_settled`` for three reads of different types, each keeping its own."""
    ra, rb, rc = await gather_settled([a, b, c])
    return cast(A, ra), cast(B, rb), cast(C, rc)
