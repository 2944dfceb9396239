"""The Docebo reader and writer (``certops.lms.connect`` hands them out).

``DoceboReader`` has no mutating methods, and its HTTP channel is built read-only, so a
reader cannot send anything but GET (and the token request) even by mistake. The
``DoceboWriter`` adds the writes, each done exactly once even when answers are lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import aclosing
from dataclasses import replace
from operator import attrgetter
from typing import Any, TypeVar

from certops.lms import paths, wire
from certops.lms.api import EnrollmentUpdate, NewEnrollment, gather_settled
from certops.lms.errors import (
    LMSNotFoundError,
    LMSRequestError,
    LMSResponseError,
    LMSUnavailableError,
)
from certops.lms.failures import OutcomeUnknown
from certops.lms.records import (
    Catalog,
    CatalogItem,
    Course,
    CourseSettings,
    Enrollment,
    Group,
    GroupRule,
    RowResult,
    User,
)
from certops.lms.session import ApiSession, ReadChannel, WriteChannel

# Per-course enrollment streams are used when the combined read has more than this many
# pages left per course: the at most one extra page per course then stays under 10 %.
SPLIT_PAGES_PER_STREAM = 10

T = TypeVar("T")


def chunked(values: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


# --- reader -----------------------------------------------------------------------------


class DoceboReader:
    """Reads a Docebo tenant (or the sandbox) into certops records. Has no write methods."""

    def __init__(self, http: ApiSession) -> None:
        self._http = http
        self._api = self._channel(http)
        self.address = http.address
        self.lms = http.lms  # the address as plans record it
        self._course_ids: dict[str, int] | None = None  # code → id
        self._course_codes: dict[int, str] = {}
        self._catalogs: dict[str, Catalog] | None = None
        self._usernames: dict[int, str] = {}

    @staticmethod
    def _channel(http: ApiSession) -> ReadChannel:
        return ReadChannel(http)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lms={self.lms!r})"

    @property
    def call_counts(self) -> dict[str, int]:
        """API calls sent so far (retries included), by ``METHOD path-template``."""
        return dict(self._http.call_counts)

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- users ------------------------------------------------------------------------

    async def list_users(self) -> list[User]:
        """Every user, sorted by username."""
        endpoint = f"GET {paths.USERS}"
        users = await self._api.converted(
            paths.USERS, wire.user_list_params(), lambda item: wire.user_from_item(item, endpoint)
        )
        users = list({u.id: u for u in users}.values())
        self._usernames.update({u.id: u.username for u in users})
        return users

    async def find_user(self, login: str) -> User | None:
        """The user whose username or e-mail equals ``login`` (case-insensitive), or None.

        Asks for an exact match first (one small page); only if that finds nothing does it
        fall back to the substring search, which is case-insensitive.
        """
        wanted = login.strip()
        if not wanted:
            return None
        for full in (True, False):
            users = await self._api.converted(
                paths.USERS,
                wire.user_list_params(wanted, full=full),
                lambda item: wire.user_from_item(item, f"GET {paths.USERS}"),
            )
            for attribute in ("username", "email"):
                for user in users:
                    if getattr(user, attribute).lower() == wanted.lower():
                        return user
        return None

    # --- courses ----------------------------------------------------------------------

    async def list_courses(self) -> list[Course]:
        """Every course from the list view (settings partial; ``get_course`` has them all)."""
        courses = await self._api.converted(
            paths.COURSES,
            wire.course_list_params(),
            lambda item: wire.course_from_item(item, f"GET {paths.COURSES}"),
        )
        self._course_ids = {c.code: c.id for c in courses if c.code}
        self._course_codes = {c.id: c.code for c in courses}
        return courses

    async def get_course(self, course_id: int) -> Course:
        """One course with every setting certops manages."""
        path = paths.course_path(course_id)
        data = wire.data_of(await self._api.get(path), f"GET {path}")
        course = wire.course_from_detail(data, f"GET {path}")
        self._remember_course(course)
        return course

    def _remember_course(self, course: Course) -> None:
        if self._course_ids is not None and course.code:
            self._course_ids[course.code] = course.id
        self._course_codes[course.id] = course.code

    async def _course_index(self) -> dict[str, int]:
        if self._course_ids is None:
            await self.list_courses()
        assert self._course_ids is not None
        return self._course_ids

    async def find_courses(self, codes: Iterable[str]) -> dict[str, Course]:
        """Full detail of the courses with these codes that exist, keyed by code."""
        wanted = set(codes)
        if not wanted:
            return {}
        await self.list_courses()  # fresh index: a course may have been created meanwhile
        index = self._course_ids or {}
        found = await gather_settled(
            self.get_course(index[code]) for code in sorted(wanted) if code in index
        )
        return {course.code: course for course in found}

    async def find_course(self, code: str, *, detail: bool = True) -> Course | None:
        """The course with this code, read fresh from the server by a search (one small
        page, no cache), with its full detail unless ``detail=False``; None if absent."""
        listed = await self._api.converted(
            paths.COURSES,
            wire.course_list_params(code),
            lambda item: wire.course_from_item(item, f"GET {paths.COURSES}"),
        )
        for course in listed:
            if course.code == code:
                return await self.get_course(course.id) if detail else course
        return None

    # --- catalogs ---------------------------------------------------------------------

    async def list_catalogs(self) -> list[Catalog]:
        """Every catalog."""
        catalogs = await self._api.converted(
            paths.CATALOGS, None, lambda item: wire.catalog_from_item(item, f"GET {paths.CATALOGS}")
        )
        self._catalogs = {c.code: c for c in catalogs}
        return catalogs

    async def list_catalog_items(self, catalog_id: int) -> list[CatalogItem]:
        """The items of one catalog."""

        def known() -> Catalog | None:
            return next((c for c in (self._catalogs or {}).values() if c.id == catalog_id), None)

        catalog = known()
        if catalog is None:  # not read yet, or created since: read the list once more
            await self.list_catalogs()
            catalog = known()
        if catalog is None:
            raise LMSNotFoundError(f"{self._http.host} has no catalog with id {catalog_id}")
        path = paths.catalog_path(catalog_id)
        return await self._api.converted(
            path, None, lambda item: wire.catalog_item_from(item, catalog, f"GET {path}")
        )

    # --- groups (audiences) -------------------------------------------------------------

    async def list_groups(self, search: str | None = None) -> list[Group]:
        """Every group (audience), or those whose name or description contains ``search``
        (list view: ``rules`` is empty; ``get_group`` has them)."""
        endpoint = f"GET {paths.AUDIENCES}"
        return await self._api.converted(
            paths.AUDIENCES,
            wire.group_list_params(search),
            lambda item: wire.group_from_item(item, endpoint),
            cursor=False,  # the audiences list documents page numbers only
        )

    async def get_group(self, group_id: str) -> Group:
        """One group with its rule sets; rules name course codes."""
        path = paths.audience_path(group_id)
        data = wire.data_of(await self._api.get(path), f"GET {path}")
        ruleset = data.get("ruleset") if isinstance(data, dict) else None
        if ruleset and not self._course_codes:
            await self.list_courses()
        return wire.group_from_detail(data, self._course_codes.get, f"GET {path}")

    # --- who am I ---------------------------------------------------------------------

    async def current_user(self) -> User:
        """The user the API acts as (``doctor --write-probe`` enrolls it in its probe)."""
        return wire.session_user(await self._api.get(paths.SESSION), f"GET {paths.SESSION}")

    # --- enrollments ------------------------------------------------------------------

    async def list_enrollments(
        self, course_ids: Sequence[int], user_ids: Sequence[int] | None = None
    ) -> list[Enrollment]:
        """Enrollments in these courses (optionally only these users), filtered server-side,
        sorted by course id then user id.

        ``course_code`` and ``username`` are filled from the courses and users this client
        had read when the call started; otherwise they are empty. A large read of many
        courses runs as concurrent cursor streams, one per course (see ``_read_split``).
        """
        course_ids = sorted(set(course_ids))
        if not course_ids or (user_ids is not None and not user_ids):
            return []
        # Snapshots: a user list read concurrently must not fill some names and not others.
        convert = self._enrollment_converter(dict(self._usernames), dict(self._course_codes))
        found: dict[tuple[int, int], Enrollment] = {}
        if user_ids is None and len(course_ids) > 1:
            await self._read_split(course_ids, convert, found)
        else:
            user_chunks: list[Sequence[int] | None] = (
                [None]
                if user_ids is None
                else [*chunked(sorted(set(user_ids)), paths.FILTER_CHUNK)]
            )
            await gather_settled(
                self._read_stream(wire.enrollment_filters(courses, users), convert, found)
                for courses in chunked(course_ids, paths.FILTER_CHUNK)
                for users in user_chunks
            )
        return _by_course_then_user(found.values())

    @staticmethod
    def _enrollment_converter(
        usernames: dict[int, str], codes: dict[int, str]
    ) -> Callable[[dict[str, Any]], Enrollment]:
        endpoint = f"GET {paths.ENROLLMENTS_READ}"
        return lambda item: wire.enrollment_from_item(item, endpoint, usernames, codes)

    async def _read_stream(
        self,
        params: dict[str, Any],
        convert: Callable[[dict[str, Any]], Enrollment],
        found: dict[tuple[int, int], Enrollment],
    ) -> None:
        """One cursor stream of enrollments into ``found``, converted page by page.

        The first page asks for the total: a stream that knows its length queues behind
        the longer ones (the client serves the most pages left first)."""
        async with aclosing(
            self._api.pages(paths.ENROLLMENTS_READ, params, first={"get_total_count": 1})
        ) as stream:
            async for page in stream:
                _keep(found, map(convert, page.items))

    async def _read_split(
        self,
        course_ids: list[int],
        convert: Callable[[dict[str, Any]], Enrollment],
        found: dict[tuple[int, int], Enrollment],
    ) -> None:
        """Every enrollment of ``course_ids``: one combined cursor for a small read, else
        one cursor stream per course, concurrently.

        The first page of the combined filter says how many pages the read takes. Streams
        per course cost at most one partial page per course more (plus the first page,
        read again), so they are used only when that stays under a tenth of the pages
        (``SPLIT_PAGES_PER_STREAM``): a small tenant reads at the lower bound, a large one
        reads with every allowed request in flight. Cursor paging stays exact while the
        LMS changes; page numbers fetched in parallel would not.
        """
        first_chunk, rest = course_ids[: paths.FILTER_CHUNK], course_ids[paths.FILTER_CHUNK :]
        filters = wire.enrollment_filters(first_chunk, None)
        async with aclosing(
            self._api.pages(paths.ENROLLMENTS_READ, filters, first={"get_total_count": 1})
        ) as stream:
            first = await anext(stream)
            if first.has_more and _worth_splitting(first, len(first_chunk)):
                await stream.aclose()
                await gather_settled(
                    self._read_stream(wire.enrollment_filters([course], None), convert, found)
                    for course in course_ids
                )
                return
            _keep(found, map(convert, first.items))
            async for page in stream:
                _keep(found, map(convert, page.items))
        # More courses than one filter holds: the rest in chunks, as streams side by side.
        await gather_settled(
            self._read_stream(wire.enrollment_filters(chunk, None), convert, found)
            for chunk in chunked(rest, paths.FILTER_CHUNK)
        )


def _by_course_then_user(enrollments: Iterable[Enrollment]) -> list[Enrollment]:
    """``enrollments`` sorted by course id, then user id: each course's rows sorted on
    their int user ids (they arrive as sorted pages), instead of one sort comparing
    pairs over every row (twice the CPU at 460,000 rows)."""
    by_course: dict[int, list[Enrollment]] = {}
    for e in enrollments:
        rows = by_course.get(e.course_id)
        if rows is None:
            by_course[e.course_id] = [e]
        else:
            rows.append(e)
    out: list[Enrollment] = []
    for course_id in sorted(by_course):
        out += sorted(by_course[course_id], key=_USER_ID)
    return out


_USER_ID = attrgetter("user_id")


def _keep(found: dict[tuple[int, int], Enrollment], enrollments: Iterable[Enrollment]) -> None:
    for e in enrollments:
        found[(e.user_id, e.course_id)] = e


def _worth_splitting(first: wire.Page, courses: int) -> bool:
    """Whether the pages left after ``first`` justify one stream per course."""
    if first.total_pages is None:
        return False  # unknown size: the combined cursor alone never costs extra calls
    return first.total_pages - 1 > SPLIT_PAGES_PER_STREAM * courses


# --- writer -----------------------------------------------------------------------------


class DoceboWriter(DoceboReader):
    """A reader that also writes. Every write happens exactly once, even on lost responses."""

    _api: WriteChannel

    @staticmethod
    def _channel(http: ApiSession) -> ReadChannel:
        return WriteChannel(http)

    async def _settle(self, attempt: int) -> None:
        # After a lost response, give the server a moment before reading what it did.
        await asyncio.sleep(self._http.retry.backoff(attempt))

    def _gave_up(self, what: str) -> LMSUnavailableError:
        return LMSUnavailableError(
            f"{self._http.host}: {what} did not get an answer after "
            f"{self._http.retry.attempts} attempts (checked each time that it had not been "
            "done); try again later"
        )

    async def _exactly_once(
        self,
        what: str,
        send: Callable[[], Awaitable[T]],
        find: Callable[[], Awaitable[T | None]],
        duplicate: Callable[[LMSRequestError], bool],
    ) -> T:
        """``send()`` a create exactly once. When its answer is lost, ``find()`` what it
        made before sending again; when a retry is refused as a ``duplicate`` after a lost
        answer, the duplicate is our own first attempt, found and returned."""
        uncertain = False
        for attempt in range(self._http.retry.attempts):
            try:
                return await send()
            except OutcomeUnknown:
                uncertain = True
                await self._settle(attempt)
                found = await find()
                if found is not None:
                    return found
            except LMSRequestError as exc:
                if uncertain and duplicate(exc):
                    found = await find()
                    if found is not None:
                        return found
                raise
        raise self._gave_up(what)

    # --- courses ----------------------------------------------------------------------

    async def create_course(self, code: str, settings: CourseSettings) -> Course:
        """The created course, built from the id the LMS answered and the settings sent;
        after a lost response it is re-read by code instead, never duplicated."""
        body = wire.course_body(settings, code=code)
        endpoint = f"POST {paths.COURSES}"

        async def send() -> Course:
            payload = await self._api.post(paths.COURSES, body)
            course_id = wire.created_id(payload, "id_course", endpoint)
            return Course(id=course_id, code=code, settings=settings)

        course = await self._exactly_once(
            f"creating course {code}",
            send,
            lambda: self.find_course(code),
            lambda exc: exc.field == "code",
        )
        self._remember_course(course)
        return course

    async def update_course(
        self, course_id: int, settings: CourseSettings, fields: Iterable[str]
    ) -> None:
        """Set these ``fields`` of a course's settings (PUT is idempotent, so plainly
        retried); nothing else is sent, so nothing certops cannot read is overwritten."""
        await self._api.put(paths.course_path(course_id), wire.course_body(settings, only=fields))

    # --- catalogs ---------------------------------------------------------------------

    async def create_catalog(self, code: str, name: str) -> Catalog:
        """Create a catalog; after a lost response it is re-read by code, never duplicated."""
        endpoint = f"POST {paths.CATALOG_BATCH}"

        async def find() -> Catalog | None:
            return {c.code: c for c in await self.list_catalogs()}.get(code)

        async def send() -> Catalog:
            payload = await self._api.post(paths.CATALOG_BATCH, wire.catalog_batch_body(code, name))
            rows = wire.batch_rows(payload, endpoint)
            row = rows[0] if rows else None
            if row is None or not row.success:
                raise LMSRequestError(
                    f"{self._http.host} did not create catalog {code}: "
                    + (row.message if row and row.message else "no row result"),
                    field="code",
                )
            # The row may carry the new id; the record does not promise it, so read it.
            catalog_id = row.raw.get("catalogue_id")
            if catalog_id is not None:
                return Catalog(
                    id=wire.as_int(catalog_id, "catalogue_id", endpoint), code=code, name=name
                )
            found = await find()
            if found is None:
                raise LMSResponseError(
                    f"{self._http.host} answered {endpoint} with success but catalog {code} "
                    "is not in the catalog list"
                )
            return found

        return await self._exactly_once(
            f"creating catalog {code}", send, find, lambda exc: exc.field == "code"
        )

    async def add_catalog_item(self, catalog_code: str, course_code: str) -> RowResult:
        """Put a course in a catalog; a row error (e.g. already there) is a result, not raised."""
        endpoint = f"POST {paths.CATALOG_ITEMS_BATCH}"
        key = (catalog_code, course_code)
        done = RowResult(index=0, ok=True, key=key)

        async def find() -> RowResult | None:
            return done if await self._in_catalog(catalog_code, course_code) else None

        async def send() -> RowResult:
            payload = await self._api.post(
                paths.CATALOG_ITEMS_BATCH,
                wire.catalog_item_batch_body(catalog_code, course_code),
            )
            rows = wire.batch_rows(payload, endpoint)
            if not rows:
                raise LMSResponseError(f"unexpected response from {endpoint}: no row result")
            if not rows[0].success:
                raise _RowRejected(rows[0].message)
            return done

        try:
            return await self._exactly_once(
                f"adding {course_code} to catalog {catalog_code}",
                send,
                find,
                lambda exc: isinstance(exc, _RowRejected),
            )
        except _RowRejected as exc:
            return RowResult(index=0, ok=False, message=str(exc), key=key)

    async def _in_catalog(self, catalog_code: str, course_code: str) -> bool:
        catalog = {c.code: c for c in await self.list_catalogs()}.get(catalog_code)
        if catalog is None:
            return False
        items = await self.list_catalog_items(catalog.id)
        return any(i.item_code == course_code and i.item_type == "course" for i in items)

    # --- groups -----------------------------------------------------------------------

    async def _rule_ids(self, rules: Sequence[GroupRule]) -> list[list[int]]:
        """Course codes in rules → Docebo course ids (what the audience rules name)."""
        index = await self._course_index()
        missing = sorted({c for r in rules for c in r.completed_all if c not in index})
        if missing:
            await self.list_courses()  # refresh once: the course may be new in this run
            index = await self._course_index()
            missing = [c for c in missing if c not in index]
        if missing:
            raise LMSRequestError(
                f"group rules name course(s) {', '.join(missing)} that do not exist in "
                f"{self.lms}; create them first"
            )
        return [[index[code] for code in rule.completed_all] for rule in rules]

    async def _find_group_by_name(self, name: str) -> Group | None:
        match = next((g for g in await self.list_groups(name) if g.name == name), None)
        return await self.get_group(match.id) if match else None

    async def create_group(
        self, name: str, description: str, rules: Sequence[GroupRule], operator: str
    ) -> Group:
        """The created automatic group (audience), built from the UUID the LMS answered
        and what was sent; a lost response is resolved by re-reading by name."""
        body = wire.group_body(description, await self._rule_ids(rules), operator, name=name)
        endpoint = f"POST {paths.AUDIENCES}"

        async def send() -> Group:
            payload = await self._api.post(paths.AUDIENCES, body)
            return Group(
                id=wire.created_uuid(payload, endpoint),
                name=name,
                description=description,
                automatic=True,
                rules_operator=operator,
                rules=tuple(GroupRule(completed_all=tuple(r.completed_all)) for r in rules),
                exclude_deactivated=True,
            )

        return await self._exactly_once(
            f"creating group {name}",
            send,
            lambda: self._find_group_by_name(name),
            lambda exc: exc.field == "name",
        )

    async def update_group(
        self, group_id: str, description: str, rules: Sequence[GroupRule], operator: str
    ) -> None:
        """Set an audience's description and rules (PUT is idempotent, so plainly retried)."""
        body = wire.group_body(description, await self._rule_ids(rules), operator)
        await self._api.put(paths.audience_path(group_id), body)

    # --- enrollments ------------------------------------------------------------------

    async def enroll(self, rows: Sequence[NewEnrollment]) -> list[RowResult]:
        """Create enrollments in chunks, one chunk at a time; one ``RowResult`` per row."""
        results: list[RowResult] = []
        for start in range(0, len(rows), paths.ENROLL_CHUNK):
            chunk = rows[start : start + paths.ENROLL_CHUNK]
            results.extend(
                replace(result, index=start + result.index)
                for result in await self._enroll_chunk(chunk)
            )
        return results

    async def _enroll_chunk(self, rows: Sequence[NewEnrollment]) -> list[RowResult]:
        endpoint = f"POST {paths.ENROLLMENT_BATCH}"

        def key(i: int) -> tuple[str, str]:
            return (str(rows[i].user_id), str(rows[i].course_id))

        done: dict[int, RowResult] = {}
        pending = list(range(len(rows)))
        for attempt in range(self._http.retry.attempts):
            if not pending:
                break
            try:
                payload = await self._api.post(
                    paths.ENROLLMENT_BATCH, wire.enroll_batch_body([rows[i] for i in pending])
                )
            except OutcomeUnknown:
                # Some rows may have been written: read them back, resend only the rest.
                await self._settle(attempt)
                existing = await self.list_enrollments(
                    [rows[i].course_id for i in pending], [rows[i].user_id for i in pending]
                )
                have = {(e.user_id, e.course_id) for e in existing}
                for i in pending:
                    if (rows[i].user_id, rows[i].course_id) in have:
                        done[i] = RowResult(index=i, ok=True, key=key(i))
                pending = [i for i in pending if i not in done]
                continue
            # Rows map back by the batch_item_id certops sent (echoed), else by row_index.
            by_item = {wire.batch_item_id(rows[i]): i for i in pending}
            for row in wire.batch_rows(payload, endpoint):
                echoed = row.raw.get("batch_item_id")
                if echoed is not None and str(echoed) in by_item:
                    i = by_item[str(echoed)]
                elif 0 <= row.row_index < len(pending):
                    i = pending[row.row_index]
                else:
                    raise LMSResponseError(
                        f"unexpected response from {endpoint}: row_index {row.row_index} "
                        f"out of range for {len(pending)} rows"
                    )
                done[i] = RowResult(index=i, ok=row.success, message=row.message, key=key(i))
            for i in pending:
                if i not in done:
                    done[i] = RowResult(
                        index=i, ok=False, message="no result for this row", key=key(i)
                    )
            pending = []
        if pending:
            raise self._gave_up(f"enrolling {len(pending)} learner(s)")
        return [done[i] for i in range(len(rows))]

    async def update_enrollments(
        self,
        update: EnrollmentUpdate,
        *,
        id_names: Sequence[tuple[str, str]] = wire.UPDATE_ID_NAMES,
    ) -> list[RowResult]:
        """Set fields on existing enrollments of one course, in bulk; one result per user.

        A pair the LMS reports as not updated is a failed row carrying the LMS's message,
        never an exception (the other rows were saved). ``id_names`` chooses the names of
        the id arrays sent (both pairs the record shows, unless the write probe tries one).
        """
        endpoint = f"PUT {paths.ENROLLMENTS}"
        results: list[RowResult] = []
        for chunk in chunked(list(update.user_ids), paths.UPDATE_CHUNK):
            body = wire.enrollment_update_body(update, chunk, id_names)
            answer = wire.update_answer(await self._api.put(paths.ENROLLMENTS, body), endpoint)
            for user_id in chunk:
                pair = (user_id, update.course_id)
                key = (str(user_id), str(update.course_id))
                index = len(results)
                if pair in answer.failed:
                    results.append(RowResult(index, False, answer.failed[pair], key))
                elif pair in answer.updated or not answer.stated:
                    results.append(RowResult(index, True, "", key))
                else:
                    results.append(RowResult(index, False, "no result for this row", key))
        return results


class _RowRejected(LMSRequestError):
    """A batch row the LMS refused (a result for the caller, not an HTTP error)."""
