"""Docebo's wire format: field names, status codes, dates, envelopes, request bodies.

Everything here is a pure function from Docebo JSON to certops records or back; the paths
live in ``certops.lms.paths`` and the calls (auth, paging, retries) in
``certops.lms.session``. ``docs/wire.md`` gives the public evidence for every field. The
rule throughout: on read, accept every variant the public record shows; on write, send the
best-evidenced one (and ``apply`` reads back what it wrote, so a tenant that ignores a field
stops the run instead of drifting silently).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from certops.lms.api import EnrollmentUpdate, NewEnrollment
from certops.lms.errors import LMSRequestError, LMSResponseError
from certops.lms.records import (
    Catalog,
    CatalogItem,
    Course,
    CourseSettings,
    Enrollment,
    EnrollmentPolicy,
    EnrollmentStatus,
    Group,
    GroupRule,
    User,
)

T = TypeVar("T")

# --- enrollment status and policy codes ------------------------------------------------

# Status strings seen on read, from both enrollment list families (docs/wire.md).
_STATUS_READ: dict[str, EnrollmentStatus] = {
    "enrolled": EnrollmentStatus.ENROLLED,
    "subscribed": EnrollmentStatus.ENROLLED,
    "not_started": EnrollmentStatus.ENROLLED,
    "in_progress": EnrollmentStatus.IN_PROGRESS,
    "started": EnrollmentStatus.IN_PROGRESS,
    "completed": EnrollmentStatus.COMPLETED,
    "suspended": EnrollmentStatus.SUSPENDED,
    "waiting": EnrollmentStatus.WAITING,
    "waiting_list": EnrollmentStatus.WAITING,
    "to_confirm": EnrollmentStatus.WAITING,
    "overbooking": EnrollmentStatus.WAITING,
    "-2": EnrollmentStatus.WAITING,
    "-1": EnrollmentStatus.WAITING,
    "0": EnrollmentStatus.ENROLLED,
    "1": EnrollmentStatus.IN_PROGRESS,
    "2": EnrollmentStatus.COMPLETED,
    "3": EnrollmentStatus.SUSPENDED,
    "4": EnrollmentStatus.WAITING,
}

# Numeric codes for PUT /learn/v1/enrollments.
STATUS_CODE: dict[EnrollmentStatus, int] = {
    EnrollmentStatus.WAITING: -2,
    EnrollmentStatus.ENROLLED: 0,
    EnrollmentStatus.IN_PROGRESS: 1,
    EnrollmentStatus.COMPLETED: 2,
    EnrollmentStatus.SUSPENDED: 3,
}

# Strings for POST /learn/v1/enrollment/batch (it has no waiting value; certops never
# creates a waiting enrollment, see ``batch_item``).
_BATCH_STATUS: dict[EnrollmentStatus, str] = {
    EnrollmentStatus.ENROLLED: "subscribed",
    EnrollmentStatus.IN_PROGRESS: "in_progress",
    EnrollmentStatus.COMPLETED: "completed",
    EnrollmentStatus.SUSPENDED: "suspended",
}

_POLICY_READ: dict[int, EnrollmentPolicy] = {
    0: EnrollmentPolicy.ADMIN_ONLY,
    1: EnrollmentPolicy.MODERATED,
    2: EnrollmentPolicy.FREE,
}
_POLICY_WRITE = {policy: code for code, policy in _POLICY_READ.items()}

# Course visibility code meaning "only users enrolled in the course" (the catalog's
# ``item_visibility`` codes; the course views never show it, so it is written only).
VISIBLE_ONLY_TO_ENROLLED = 2
VISIBLE_TO_ALL = 0

# Batch enrollment takes the course role as a string.
LEARNER_LEVEL = "student"

# The audience rule certops writes for "completed this course" (docs/wire.md: the record
# shows the rule shape ``{type, payload}`` but not this type's name; doctor and the
# read-back after every group write tell when a tenant calls it otherwise).
COURSE_RULE_TYPE = "CourseEnrollmentStatus"
COURSE_COMPLETED = "completed"
# Rule type names read as "course enrollment status" (accepted on read).
_COURSE_RULE_TYPES = frozenset({"courseenrollmentstatus", "courseenrollment", "course_enrollment"})
_COMPLETED_VALUES = frozenset({"completed", "2", "course_completed"})

# certops' words for how rule sets combine, and Docebo's.
_OPERATOR_READ = {"OR": "ANY", "ANY": "ANY", "AND": "ALL", "ALL": "ALL"}
_OPERATOR_WRITE = {"ANY": "OR", "ALL": "AND"}


# --- scalars --------------------------------------------------------------------------


def _bad(endpoint: str, field: str, value: Any, expected: str) -> LMSResponseError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return LMSResponseError(
        f"unexpected response from {endpoint}: field '{field}' is {shown}, expected {expected}"
    )


def require(obj: Any, field: str, endpoint: str) -> Any:
    """The value of ``field`` in the JSON object ``obj``; a named error if it is missing."""
    if not isinstance(obj, Mapping):
        raise _bad(endpoint, field, obj, "an object containing it")
    if field not in obj:
        raise LMSResponseError(
            f"unexpected response from {endpoint}: field '{field}' is missing"
            f" (got fields: {', '.join(sorted(map(str, obj))) or 'none'})"
        )
    return obj[field]


def as_int(value: Any, field: str, endpoint: str) -> int:
    """An id as int; Docebo sends some ids as strings."""
    if isinstance(value, bool):
        raise _bad(endpoint, field, value, "an integer id")
    if isinstance(value, int):
        return value
    # isdecimal, not isdigit: "²" is a digit that int() refuses.
    if isinstance(value, str) and value.strip().lstrip("-").isdecimal():
        return int(value.strip())
    raise _bad(endpoint, field, value, "an integer id")


def as_str(value: Any, field: str, endpoint: str) -> str:
    """A text field; ``None`` reads as empty text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _bad(endpoint, field, value, "text")


def as_bool(value: Any, field: str, endpoint: str) -> bool:
    """A flag; Docebo mixes JSON booleans, 0/1 and "0"/"1"."""
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1"):
        return value in (1, "1")
    if value is None:
        return False
    raise _bad(endpoint, field, value, "a boolean or 0/1")


_ZERO_DATES = {"", "0", "0000-00-00", "0000-00-00 00:00:00"}
# Epoch numbers at or above this are milliseconds (1e11 seconds is the year 5138; 1e11
# milliseconds is March 1973, before any LMS record).
_EPOCH_MS_FROM = 100_000_000_000
_EXPECTED_INSTANT = (
    "a date-time 'YYYY-MM-DD HH:MM:SS', a date 'YYYY-MM-DD', ISO 8601, epoch seconds or "
    "milliseconds, or null"
)


def _epoch(number: int | float, field: str, endpoint: str, raw: Any) -> datetime | None:
    """Epoch seconds or milliseconds (by size) as an aware UTC instant; 0 means none."""
    if number == 0:
        return None
    seconds = number / 1000 if abs(number) >= _EPOCH_MS_FROM else number
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise _bad(endpoint, field, raw, _EXPECTED_INSTANT) from None


def _numeric(text: str) -> bool:
    """Digits only, with an optional sign and one decimal point (an epoch number as text)."""
    body = text[1:] if text[:1] in "+-" else text
    whole, _, fraction = body.partition(".")
    return (
        bool(whole)
        and whole.isascii()
        and whole.isdigit()
        and (not fraction or (fraction.isascii() and fraction.isdigit()))
    )


def parse_instant(value: Any, field: str, endpoint: str) -> datetime | None:
    """A Docebo instant as an aware UTC datetime; zero dates and null as None.

    Every shape the public record shows is read: ``YYYY-MM-DD HH:MM:SS`` (UTC), a date
    ``YYYY-MM-DD``, ISO 8601 with a zone or ``Z``, zero dates with or without a time part,
    and epoch seconds or milliseconds as a number or a string of digits (a production
    course list sends ``"1693586500594"``). Anything else is a named error.
    """
    if value is None:
        return None
    if type(value) is str and len(value) == 19 and value[10] == " ":
        # The common shape, ``YYYY-MM-DD HH:MM:SS`` in UTC, parsed aware in one C call;
        # a zero date or anything odd takes the path below.
        try:
            return datetime.fromisoformat(value + "+00:00")
        except ValueError:
            pass
    if isinstance(value, bool):
        raise _bad(endpoint, field, value, _EXPECTED_INSTANT)
    if isinstance(value, int | float):
        return _epoch(value, field, endpoint, value)
    if not isinstance(value, str):
        raise _bad(endpoint, field, value, _EXPECTED_INSTANT)
    text = value.strip()
    if text in _ZERO_DATES or text.startswith("0000-00-00"):
        return None
    if _numeric(text):
        return _epoch(float(text) if "." in text else int(text), field, endpoint, value)
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _bad(endpoint, field, value, _EXPECTED_INSTANT) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _date_only(value: Any) -> bool:
    return isinstance(value, str) and len(value.strip()) == 10 and value.strip()[4:5] == "-"


def parse_end_instant(value: Any, field: str, endpoint: str) -> datetime | None:
    """A validity end as certops' exclusive instant.

    Docebo shows the last second of validity (``D 23:59:59``); certops works with the
    first instant after it (``D+1 00:00:00Z``). A date-only value ``D`` means through D.
    """
    parsed = parse_instant(value, field, endpoint)
    if parsed is None:
        return None
    if _date_only(value):  # date only: through the end of that day
        return parsed + timedelta(days=1)
    return parsed + timedelta(seconds=1)


def format_instant(value: datetime) -> str:
    """An instant as Docebo's ``YYYY-MM-DD HH:MM:SS`` in UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_end_instant(value: datetime) -> str:
    """An exclusive end instant as Docebo's last valid second (instant minus 1 s)."""
    return format_instant(value - timedelta(seconds=1))


def format_date(value: date) -> str:
    return value.strftime("%Y-%m-%d")


def read_status(value: Any, field: str, endpoint: str) -> EnrollmentStatus:
    """A Docebo enrollment status (string or numeric code) in certops' words."""
    key = str(value).strip().lower() if isinstance(value, str | int) else None
    status = _STATUS_READ.get(key) if key is not None else None
    if status is None:
        raise _bad(endpoint, field, value, "one of " + ", ".join(sorted(_STATUS_READ)))
    return status


# --- envelope ---------------------------------------------------------------------------


def data_of(payload: Any, endpoint: str) -> Any:
    """The ``data`` member of Docebo's response envelope."""
    return require(payload, "data", endpoint)


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    has_more: bool
    cursor: str | None
    total_pages: int | None = None  # when the server says (total_page_count or total_count)
    number: int | None = None  # ``current_page``, when the server says


def list_page(payload: Any, endpoint: str) -> Page:
    """One page of a list response; a bare array in ``data`` counts as a last page."""
    data = data_of(payload, endpoint)
    if isinstance(data, list):
        return Page(_objects(data, "data", endpoint), False, None)
    items = require(data, "items", endpoint)
    if not isinstance(items, list):
        raise _bad(endpoint, "data.items", items, "a list")
    has_more = as_bool(data.get("has_more_data", False), "data.has_more_data", endpoint)
    cursor = data.get("cursor")
    cursor = cursor if isinstance(cursor, str) and cursor else None
    return Page(
        _objects(items, "data.items", endpoint),
        has_more,
        cursor,
        _total_pages(data),
        _count(data.get("current_page")),
    )


def _count(value: Any) -> int | None:
    """A page number or count sent as an int or a string of digits; None otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _total_pages(data: Mapping[str, Any]) -> int | None:
    """The page count a list answer states, or None when it states none usable."""
    pages = _count(data.get("total_page_count"))
    if pages is not None:
        return pages
    total, size = data.get("total_count"), data.get("current_page_size")
    if isinstance(total, int) and isinstance(size, int) and size > 0:
        return -(-total // size)
    return None


def _objects(items: list[Any], field: str, endpoint: str) -> list[dict[str, Any]]:
    for item in items:
        if not isinstance(item, dict):
            raise _bad(endpoint, field + "[]", item, "objects")
    return items


def error_detail(payload: Any) -> tuple[str, str]:
    """(message, field) from any of Docebo's error body shapes; empty when unknown."""
    if not isinstance(payload, dict):
        return "", ""
    field = ""
    messages: list[str] = []
    errors = payload.get("errors")
    if isinstance(errors, list):
        for err in errors:
            if isinstance(err, dict):
                field = field or str(err.get("field") or "")
                if err.get("message"):
                    messages.append(str(err["message"]))
            elif isinstance(err, str):
                messages.append(err)
    for key in ("message", "error_description", "error"):
        # ``message`` is a list of texts in some services' answers (audiences).
        for value in reversed(_messages(payload.get(key))):
            if value not in messages:
                messages.insert(0, value)
    return "; ".join(messages), field


# --- users ------------------------------------------------------------------------------


_user = User


def user_from_item(item: Mapping[str, Any], endpoint: str) -> User:
    """A user from a ``/manage/v1/user`` list item (or a detail's ``user_data``)."""
    # Fast path for the shape tenants send (the id as digits or an int, text fields as
    # text, status "1"/"0"); any other value goes through the general readers below,
    # which accept every variant or name the field.
    user_id, username = item.get("user_id"), item.get("username")
    email, first, last = item.get("email"), item.get("first_name"), item.get("last_name")
    status = item.get("status", "1")
    if (
        (type(user_id) is int or (type(user_id) is str and user_id.isdecimal()))
        and type(username) is str
        and (email is None or type(email) is str)
        and (first is None or type(first) is str)
        and (last is None or type(last) is str)
        and (status == "1" or status == "0")
    ):
        # Every field, in the record's order.
        return _user(int(user_id), username, email or "", first or "", last or "", status == "1")
    # Names are shown, never decided on: an odd value reads as empty, never an error.
    ignored: set[str] = set()
    return User(
        id=as_int(require(item, "user_id", endpoint), "user_id", endpoint),
        username=as_str(require(item, "username", endpoint), "username", endpoint),
        email=as_str(item.get("email"), "email", endpoint),
        first_name=_optional(
            lambda: as_str(item.get("first_name"), "first_name", endpoint), "", ignored, ""
        ),
        last_name=_optional(
            lambda: as_str(item.get("last_name"), "last_name", endpoint), "", ignored, ""
        ),
        active=as_bool(item.get("status", "1"), "status", endpoint),
    )


def user_list_params(search: str | None = None, *, full: bool = True) -> dict[str, Any]:
    """Query for the user list: sorted by username (stable paging), optionally searched."""
    params: dict[str, Any] = {"sort_attr": "username", "sort_dir": "asc"}
    if search is not None:
        params["search_text"] = search
        if full:
            params["match_type"] = "full"
    return params


# --- courses ----------------------------------------------------------------------------


def course_list_params(search: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"sort_by": "id_course", "sort_by_direction": "asc"}
    if search is not None:
        params["search_text"] = search
    return params


def _policy(value: Any, endpoint: str) -> EnrollmentPolicy:
    code = as_int(value, "enrollment_policy", endpoint)
    if code not in _POLICY_READ:
        raise _bad(endpoint, "enrollment_policy", value, "0, 1 or 2")
    return _POLICY_READ[code]


# Course settings the list view does not carry (``can_self_unenroll`` there is the
# *caller's* right to leave the course, not the course setting; publication is not in any
# public list shape, and ``is_published`` where a tenant sends it is not relied on).
_LIST_UNREAD = frozenset(
    {"published", "self_unenrollment", "soft_deadline", "visible_only_to_enrolled"}
)

# The wire name of each ``CourseSettings`` field, for messages ("the tenant ignored
# ``course_date_end``"): what certops sends it as.
COURSE_FIELD_WIRE_NAMES: dict[str, str] = {
    "name": "name",
    "description": "description",
    "course_type": "course_type",
    "published": "status",
    "self_unenrollment": "self_unenrollment_settings.allow_self_unenrollment_from_course",
    "enrollment_policy": "enrollment_policy",
    "date_begin": "course_date_start",
    "date_end": "course_date_end",
    "soft_deadline": "soft_deadline",
    "visible_only_to_enrolled": "visibility",
}


def _optional(read: Callable[[], T], field: str, unread: set[str], default: T) -> T:
    """``read()``, or ``default`` with ``field`` added to ``unread`` when the tenant sends a
    value certops cannot parse: for a field no decision rests on, which must never stop a
    read (the detail view is what certops compares)."""
    try:
        return read()
    except LMSResponseError:
        unread.add(field)
        return default


def course_from_item(item: Mapping[str, Any], endpoint: str) -> Course:
    """A course from a ``/learn/v1/courses`` list item.

    Only ``id_course`` is required: the list gives ids and codes, and every decision about
    a managed course rests on its detail view. The list's settings are read where they
    parse (dates in any shape ``parse_instant`` knows, epoch milliseconds included); a
    value that does not is left out (named in ``unread``), never an error."""
    unread = set(_LIST_UNREAD)
    get = item.get
    settings = CourseSettings(
        name=_optional(lambda: as_str(get("name"), "name", endpoint), "name", unread, ""),
        description=_optional(
            lambda: as_str(get("description"), "description", endpoint), "description", unread, ""
        ),
        course_type=_optional(
            lambda: as_str(get("course_type") or "elearning", "course_type", endpoint),
            "course_type",
            unread,
            "elearning",
        ),
        enrollment_policy=_optional(
            lambda: _policy(get("enrollment_policy", 2), endpoint),
            "enrollment_policy",
            unread,
            EnrollmentPolicy.FREE,
        ),
        date_begin=_optional(
            lambda: parse_instant(get("start_date"), "start_date", endpoint),
            "date_begin",
            unread,
            None,
        ),
        date_end=_optional(
            lambda: parse_end_instant(get("end_date"), "end_date", endpoint),
            "date_end",
            unread,
            None,
        ),
    )
    return Course(
        id=as_int(require(item, "id_course", endpoint), "id_course", endpoint),
        code=_optional(lambda: as_str(get("code"), "code", endpoint), "code", unread, ""),
        settings=settings,
        unread=frozenset(unread),
    )


def _published(data: Mapping[str, Any], endpoint: str) -> bool | None:
    """Published, from ``is_published``; None when the tenant does not show it. The detail's
    ``status`` is the *caller's* enrollment status, never the course's publication."""
    if data.get("is_published") is None:
        return None
    return as_bool(data["is_published"], "is_published", endpoint)


def _self_unenrollment(value: Any, endpoint: str) -> bool | None:
    """The course's self-unenrollment setting from ``self_unenrollment_settings``, in either
    public shape: ``{allow_self_unenrollment_from_course: bool, ...}``, or an object whose
    own ``self_unenrollment_settings`` is the flag; None when neither is shown."""
    if isinstance(value, Mapping):
        for name in ("allow_self_unenrollment_from_course", "self_unenrollment_settings"):
            if name in value and not isinstance(value[name], Mapping):
                return as_bool(value[name], f"self_unenrollment_settings.{name}", endpoint)
    return None


def course_from_detail(data: Mapping[str, Any], endpoint: str) -> Course:
    """A course with every setting the detail view shows, from ``GET /learn/v1/courses/{id}``.

    A managed setting the tenant does not show is listed in ``unread`` (certops then never
    compares it, and the read-back after a write says it cannot be verified)."""
    unread = set()
    published = _published(data, endpoint)
    if published is None:
        unread.add("published")
    self_unenrollment = _self_unenrollment(data.get("self_unenrollment_settings"), endpoint)
    if self_unenrollment is None:
        self_unenrollment = True
        unread.add("self_unenrollment")
    if "enrollment_policy" not in data:
        unread.add("enrollment_policy")
    if "in_soft_deadline" not in data:
        unread.add("soft_deadline")
    visibility = data.get("visibility")
    if visibility is None:
        unread.add("visible_only_to_enrolled")
    settings = CourseSettings(
        name=as_str(require(data, "name", endpoint), "name", endpoint),
        description=as_str(data.get("description"), "description", endpoint),
        course_type=as_str(data.get("type") or "elearning", "type", endpoint),
        published=bool(published),
        self_unenrollment=self_unenrollment,
        enrollment_policy=_policy(data.get("enrollment_policy", 2), endpoint),
        date_begin=parse_instant(data.get("course_date_start"), "course_date_start", endpoint),
        date_end=parse_end_instant(data.get("course_date_end"), "course_date_end", endpoint),
        soft_deadline=as_bool(data.get("in_soft_deadline", False), "in_soft_deadline", endpoint),
        visible_only_to_enrolled=(
            None
            if visibility is None
            else as_int(visibility, "visibility", endpoint) == VISIBLE_ONLY_TO_ENROLLED
        ),
    )
    return Course(
        id=as_int(require(data, "id", endpoint), "id", endpoint),
        code=as_str(data.get("code"), "code", endpoint),
        settings=settings,
        unread=frozenset(unread),
    )


def course_body(
    settings: CourseSettings, code: str | None = None, only: Iterable[str] | None = None
) -> dict[str, Any]:
    """The create (with ``code``: every setting) or update body for a course; ``only``
    limits an update to those ``CourseSettings`` fields (what certops manages and can read
    back), so that nothing certops cannot see is ever overwritten."""
    fields: dict[str, dict[str, Any]] = {
        "name": {"name": settings.name},
        "description": {"description": settings.description},
        "published": {"status": "published" if settings.published else "under_maintenance"},
        "self_unenrollment": {
            "self_unenrollment_settings": {
                "allow_self_unenrollment_from_course": settings.self_unenrollment,
                "allow_self_unenrollment_from_completed_course": settings.self_unenrollment,
            }
        },
        "enrollment_policy": {"enrollment_policy": _POLICY_WRITE[settings.enrollment_policy]},
        "date_begin": {
            "course_date_start": format_instant(settings.date_begin)
            if settings.date_begin
            else None
        },
        "date_end": {
            "course_date_end": format_end_instant(settings.date_end) if settings.date_end else None
        },
        "soft_deadline": {"soft_deadline": settings.soft_deadline},
    }
    if settings.visible_only_to_enrolled is not None:
        fields["visible_only_to_enrolled"] = {
            "visibility": (
                VISIBLE_ONLY_TO_ENROLLED if settings.visible_only_to_enrolled else VISIBLE_TO_ALL
            )
        }
    wanted = set(fields) if only is None else set(only) & set(fields)
    body: dict[str, Any] = {}
    for name in sorted(wanted):
        body.update(fields[name])
    if code is not None:
        body["code"] = code
        body["course_type"] = settings.course_type
    return body


def created_id(payload: Any, field: str, endpoint: str) -> int:
    """The id a create call returns in ``data.<field>``."""
    data = data_of(payload, endpoint)
    return as_int(require(data, field, endpoint), f"data.{field}", endpoint)


# --- who am I ---------------------------------------------------------------------------


def session_user(payload: Any, endpoint: str) -> User:
    """The API user from ``GET /manage/v1/user/session`` (``id`` or ``id_user``)."""
    data = data_of(payload, endpoint)
    user_id = data.get("id", data.get("id_user")) if isinstance(data, Mapping) else None
    return User(
        id=as_int(user_id, "data.id", endpoint),
        username=as_str(require(data, "username", endpoint), "username", endpoint),
    )


# --- catalogs ---------------------------------------------------------------------------


def catalog_from_item(item: Mapping[str, Any], endpoint: str) -> Catalog:
    return Catalog(
        id=as_int(require(item, "catalogue_id", endpoint), "catalogue_id", endpoint),
        code=as_str(item.get("catalogue_code"), "catalogue_code", endpoint),
        name=as_str(item.get("catalogue_name"), "catalogue_name", endpoint),
    )


def item_kind(value: Any) -> str:
    """A catalog item's type in certops' words, ``course`` or ``learning_plan``: reads say
    ``learning_course_type`` where writes say ``course`` (docs/wire.md); a word certops
    does not know is kept as sent (such an item never counts as a course)."""
    text = value.strip().lower() if isinstance(value, str) else ""
    if not text or text in ("course", "courses", "learning_course_type", "course_type"):
        return "course"
    if "plan" in text:
        return "learning_plan"
    return text


def catalog_item_from(item: Mapping[str, Any], catalog: Catalog, endpoint: str) -> CatalogItem:
    return CatalogItem(
        catalog_id=catalog.id,
        catalog_code=catalog.code,
        item_id=as_int(require(item, "item_id", endpoint), "item_id", endpoint),
        item_code=as_str(item.get("item_code"), "item_code", endpoint),
        item_type=item_kind(item.get("item_type")),
    )


def catalog_batch_body(code: str, name: str) -> dict[str, Any]:
    return {"items": [{"code": code, "name": name}]}


def catalog_item_batch_body(catalog_code: str, course_code: str) -> dict[str, Any]:
    return {
        "items": [{"catalog_code": catalog_code, "item_code": course_code, "item_type": "course"}]
    }


@dataclass(frozen=True, slots=True)
class BatchRow:
    row_index: int
    success: bool
    message: str
    raw: Mapping[str, Any]


def batch_rows(payload: Any, endpoint: str) -> list[BatchRow]:
    """The per-row results of a ``.../batch`` call (``data`` is a list of rows)."""
    data = data_of(payload, endpoint)
    if not isinstance(data, list):
        raise _bad(endpoint, "data", data, "a list of row results")
    rows = []
    for row in _objects(data, "data", endpoint):
        rows.append(
            BatchRow(
                row_index=as_int(require(row, "row_index", endpoint), "row_index", endpoint),
                success=as_bool(require(row, "success", endpoint), "success", endpoint),
                message=as_str(row.get("message"), "message", endpoint),
                raw=row,
            )
        )
    return rows


# --- groups (audiences) -------------------------------------------------------------


def _operator(value: Any, field: str, endpoint: str, default: str) -> str:
    if value is None or value == "":
        return default
    text = as_str(value, field, endpoint).strip().upper()
    if text not in _OPERATOR_READ:
        raise _bad(endpoint, field, value, "AND or OR")
    return _OPERATOR_READ[text]


def group_from_item(item: Mapping[str, Any], endpoint: str) -> Group:
    """A group from the audience list (rule sets are only in the detail: ``rules`` is
    empty). The id is the audience's UUID."""
    raw_ruleset = item.get("ruleset")
    ruleset: Mapping[str, Any] = raw_ruleset if isinstance(raw_ruleset, Mapping) else {}
    return Group(
        id=as_str(require(item, "uuid", endpoint), "uuid", endpoint),
        name=as_str(require(item, "name", endpoint), "name", endpoint),
        description=as_str(item.get("description"), "description", endpoint),
        automatic=as_str(item.get("type"), "type", endpoint).lower() == "automatic",
        rules_operator=_operator(
            item.get("rule_set_operator", ruleset.get("operator")),
            "rule_set_operator",
            endpoint,
            "ANY",
        ),
        exclude_deactivated=as_bool(
            item.get("exclude_deactivated_users", False), "exclude_deactivated_users", endpoint
        ),
    )


def _course_rule_ids(rule: Mapping[str, Any], endpoint: str) -> list[int] | None:
    """The course ids of a "completed these courses" rule, or None for any other rule."""
    kind = as_str(rule.get("type"), "rules[].type", endpoint).replace(" ", "").lower()
    payload = rule.get("payload")
    if kind not in _COURSE_RULE_TYPES or not isinstance(payload, Mapping):
        return None
    status = payload.get("status", payload.get("enrollment_status"))
    if str(status).strip().lower() not in _COMPLETED_VALUES:
        return None
    ids = payload.get("course_ids", payload.get("course_id"))
    ids = ids if isinstance(ids, list) else [ids]
    return [as_int(i, "rules[].payload.course_ids", endpoint) for i in ids]


def group_from_detail(
    data: Mapping[str, Any], code_of: Callable[[int], str | None], endpoint: str
) -> Group:
    """A group with its rule sets; course ids in "completed" rules become course codes.

    A rule certops does not write (another type, several courses in one rule, a course
    that no longer exists) is kept as text or ``#id``, so it never compares equal to a
    configured code and the plan rewrites the rules in certops' own form.
    """
    ruleset = data.get("ruleset") or {}
    if not isinstance(ruleset, Mapping):
        raise _bad(endpoint, "ruleset", ruleset, "an object with sets")
    sets = ruleset.get("sets") or []
    if not isinstance(sets, list):
        raise _bad(endpoint, "ruleset.sets", sets, "a list of rule sets")
    rules = []
    for rule_set in _objects(sets, "ruleset.sets", endpoint):
        conditions = rule_set.get("rules") or []
        if not isinstance(conditions, list):
            raise _bad(endpoint, "ruleset.sets[].rules", conditions, "a list of rules")
        inner = _operator(
            rule_set.get("rules_operator"), "ruleset.sets[].rules_operator", endpoint, "ALL"
        )
        codes = [] if inner == "ALL" else [f"rules_operator={inner}"]
        for cond in _objects(conditions, "ruleset.sets[].rules", endpoint):
            ids = _course_rule_ids(cond, endpoint)
            if ids is not None and len(ids) == 1:
                codes.append(code_of(ids[0]) or f"#{ids[0]}")
            else:
                codes.append(f"{cond.get('type')}={cond.get('payload')!r}")
        rules.append(GroupRule(completed_all=tuple(codes)))
    base = group_from_item(
        {**data, "rule_set_operator": data.get("rule_set_operator", ruleset.get("operator"))},
        endpoint,
    )
    return Group(
        id=base.id,
        name=base.name,
        description=base.description,
        automatic=base.automatic,
        rules_operator=base.rules_operator,
        rules=tuple(rules),
        exclude_deactivated=base.exclude_deactivated,
    )


def group_list_params(search: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"sort_attr": "name", "sort_dir": "asc"}
    if search is not None:
        params["search_text"] = search
    return params


def group_body(
    description: str,
    rule_course_ids: Sequence[Sequence[int]],
    operator: str,
    name: str | None = None,
) -> dict[str, Any]:
    """The create (with ``name``) or update body of an automatic audience: one rule set
    per initial path (every course of it completed), sets combined with ``operator``
    (certops' ANY/ALL), deactivated users excluded."""
    body: dict[str, Any] = {
        "description": description,
        "type": "automatic",
        "exclude_deactivated_users": True,
        "ruleset": {
            "status": "READY",
            "operator": _OPERATOR_WRITE[operator.upper()],
            "sets": [
                {
                    "rules_operator": "AND",
                    "rules": [
                        {
                            "type": COURSE_RULE_TYPE,
                            "payload": {"course_ids": [cid], "status": COURSE_COMPLETED},
                        }
                        for cid in ids
                    ],
                }
                for ids in rule_course_ids
            ],
        },
    }
    if name is not None:
        body = {"name": name, **body}
    return body


def created_uuid(payload: Any, endpoint: str) -> str:
    """The UUID an audience create returns in ``data.uuid`` (``data.id`` accepted)."""
    data = data_of(payload, endpoint)
    value = data.get("uuid", data.get("id")) if isinstance(data, Mapping) else None
    text = as_str(value, "data.uuid", endpoint).strip()
    if not text:
        raise _bad(endpoint, "data.uuid", value, "the new audience's uuid")
    return text


# --- enrollments ------------------------------------------------------------------------


def _either(item: Mapping[str, Any], *names: str) -> tuple[Any, str]:
    """The first of ``names`` present in ``item`` (value, name); (None, first name) if none."""
    for name in names:
        if item.get(name) is not None:
            return item[name], name
    return None, names[0]


# Validity windows repeat: every learner of a period gets the same window, so a read of
# hundreds of thousands of enrollments holds a handful of distinct begin and end values.
# Each distinct text is parsed once (bounded, so odd tenants cost memory for at most this
# many entries). Only parsed values are kept; a bad value still raises each time.
_WINDOW_CACHE_MAX = 4096
_window_begins: dict[str, datetime | None] = {}
_window_ends: dict[str, datetime | None] = {}


def _window_instant(value: Any, name: str, endpoint: str, end: bool) -> datetime | None:
    cache = _window_ends if end else _window_begins
    if type(value) is str and value in cache:
        return cache[value]
    parsed = (parse_end_instant if end else parse_instant)(value, name, endpoint)
    if type(value) is str and len(cache) < _WINDOW_CACHE_MAX:
        cache[value] = parsed
    return parsed


_enrollment = Enrollment


def enrollment_from_item(
    item: Mapping[str, Any],
    endpoint: str,
    usernames: Mapping[int, str] | None = None,
    course_codes: Mapping[int, str] | None = None,
) -> Enrollment:
    """An enrollment from a ``/course/v1/courses/enrollments`` item, built once: its
    ``username`` and ``course_code`` come from ``usernames``/``course_codes`` when given.
    The validity window is read from the ``_datetime`` or the ``_date`` fields, whichever
    the tenant sends."""
    # Fast paths for the shapes every tenant sends (int ids, a known status string); any
    # other value goes through the general readers, which accept every variant or name it.
    get = item.get
    user_id = get("user_id")
    if type(user_id) is not int:
        user_id = as_int(require(item, "user_id", endpoint), "user_id", endpoint)
    course_id = get("course_id")
    if type(course_id) is not int:
        course_id = as_int(require(item, "course_id", endpoint), "course_id", endpoint)
    raw_status = get("enrollment_status")
    status = _STATUS_READ.get(raw_status) if type(raw_status) is str else None
    if status is None:
        status = read_status(
            require(item, "enrollment_status", endpoint), "enrollment_status", endpoint
        )
    begin_name = "enrollment_validity_begin_datetime"
    begin = get(begin_name)
    if begin is None:
        begin = get("enrollment_validity_begin_date")
        if begin is not None:
            begin_name = "enrollment_validity_begin_date"
    end_name = "enrollment_validity_end_datetime"
    end = get(end_name)
    if end is None:
        end = get("enrollment_validity_end_date")
        if end is not None:
            end_name = "enrollment_validity_end_date"
    # Every field, in the record's order (``_enrollment``: built once per row).
    return _enrollment(
        user_id,
        course_id,
        status,
        parse_instant(get("enrollment_created_at"), "enrollment_created_at", endpoint),
        parse_instant(get("enrollment_completion_date"), "enrollment_completion_date", endpoint),
        None if begin is None else _window_instant(begin, begin_name, endpoint, False),
        None if end is None else _window_instant(end, end_name, endpoint, True),
        usernames.get(user_id, "") if usernames else "",
        course_codes.get(course_id, "") if course_codes else "",
    )


def enrollment_filters(
    course_ids: Iterable[int], user_ids: Iterable[int] | None
) -> dict[str, list[str]]:
    params: dict[str, Any] = {"course_id[]": [str(i) for i in course_ids]}
    if user_ids is not None:
        params["user_id[]"] = [str(i) for i in user_ids]
    return params


def batch_item_id(row: NewEnrollment) -> str:
    """The ``batch_item_id`` certops gives a row (echoed in its result): the pair itself,
    unique within a batch since a learner has one enrollment per course."""
    return f"{row.user_id}:{row.course_id}"


def batch_item(row: NewEnrollment) -> dict[str, Any]:
    """One item of ``POST /learn/v1/enrollment/batch``."""
    if row.status not in _BATCH_STATUS:
        raise LMSRequestError(
            f"cannot create an enrollment with status {row.status}: Docebo's batch "
            f"enrollment accepts {', '.join(s.value for s in _BATCH_STATUS)}"
        )
    item: dict[str, Any] = {
        "course_id": row.course_id,
        "user_id": row.user_id,
        "level": LEARNER_LEVEL,
        "status": _BATCH_STATUS[row.status],
        "batch_item_id": batch_item_id(row),
    }
    if row.completed_at is not None:
        item["completion_date"] = format_instant(row.completed_at)
    if row.valid_from is not None:
        item["active_from"] = format_instant(row.valid_from)
    if row.valid_until is not None:
        item["active_until"] = format_end_instant(row.valid_until)
    return item


def enroll_batch_body(rows: Sequence[NewEnrollment]) -> dict[str, Any]:
    return {
        "items": [batch_item(row) for row in rows],
        "options": {
            # Deactivated learners get no new enrollments (docs/lifecycle.md).
            "enroll_disabled_users": False,
            # An existing enrollment must stay an error, never be overwritten by a create.
            "duplicates_as_recertification": False,
            # The learner-enrolled notification stands in for the enrollment rule's.
            "trigger_notifications": True,
        },
    }


# The id arrays of ``PUT /learn/v1/enrollments``: the schema's names (``user_id`` /
# ``course_id``, arrays) and a community answer's (``user_ids`` / ``course_ids``). The
# evidence is split, so both go in every body: a tenant honours the ones it knows (and
# ``doctor --write-probe`` reports which); apply reads every update back either way.
UPDATE_ID_NAMES: tuple[tuple[str, str], ...] = (
    ("user_id", "course_id"),
    ("user_ids", "course_ids"),
)


def enrollment_update_body(
    update: EnrollmentUpdate,
    user_ids: Sequence[int],
    id_names: Sequence[tuple[str, str]] = UPDATE_ID_NAMES,
) -> dict[str, Any]:
    """The ``PUT /learn/v1/enrollments`` body for some users of one course, the id arrays
    under every pair of ``id_names`` (users' name, courses' name)."""
    body: dict[str, Any] = {}
    for users, courses in id_names:
        body[users] = list(user_ids)
        body[courses] = [update.course_id]
    if update.status is not None:
        body["status"] = STATUS_CODE[update.status]
    if update.completed_at is not None:
        body["date_complete"] = format_instant(update.completed_at)
    if update.valid_from is not None:
        body["date_begin_validity"] = format_instant(update.valid_from)
    if update.valid_until is not None:
        body["date_expire_validity"] = format_end_instant(update.valid_until)
    return body


def _pair(row: Mapping[str, Any], endpoint: str, member: str) -> tuple[int, int]:
    """(user id, course id) of a result row keyed ``user_id``/``course_id`` (documented)
    or ``id_user``/``id_course`` (older answers)."""
    user, user_name = _either(row, "user_id", "id_user")
    course, course_name = _either(row, "course_id", "id_course")
    return (
        as_int(user, f"{member}[].{user_name}", endpoint),
        as_int(course, f"{member}[].{course_name}", endpoint),
    )


def _rows(data: Any, member: str, endpoint: str) -> list[dict[str, Any]]:
    rows = data.get(member) if isinstance(data, Mapping) else None
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise _bad(endpoint, f"data.{member}", rows, "a list")
    return _objects(rows, f"data.{member}", endpoint)


def _messages(node: Any) -> list[str]:
    """Every message text inside a validation-error value: a string, a list, or objects
    whose ``message``/``messages`` (at any depth) hold the text."""
    if isinstance(node, str):
        return [node] if node else []
    if isinstance(node, list):
        return [m for item in node for m in _messages(item)]
    if isinstance(node, Mapping):
        found = [m for key in ("message", "messages") for m in _messages(node.get(key))]
        if found:
            return found
        return [m for value in node.values() for m in _messages(value)]
    return []


@dataclass(frozen=True, slots=True)
class UpdateAnswer:
    """What a multi-update answered: the pairs updated, and the pairs not updated with the
    tenant's message. ``stated`` is False when the answer names no pair at all."""

    updated: frozenset[tuple[int, int]]
    failed: Mapping[tuple[int, int], str]

    @property
    def stated(self) -> bool:
        return bool(self.updated or self.failed)


def update_answer(payload: Any, endpoint: str) -> UpdateAnswer:
    """The ``PUT /learn/v1/enrollments`` answer, in either documented shape:
    ``updated: [{course_id, user_id}]`` with ``not_updated: [{validation_errors,
    invalid_enrollments: [{course_id, user_id}]}]``, or ``updated``/``errors`` rows keyed
    ``id_user``/``id_course`` with a ``message``."""
    data = data_of(payload, endpoint)
    updated = {_pair(row, endpoint, "updated") for row in _rows(data, "updated", endpoint)}
    failed: dict[tuple[int, int], str] = {}
    for group in _rows(data, "not_updated", endpoint):
        message = "; ".join(_messages(group.get("validation_errors")))
        invalid = group.get("invalid_enrollments")
        if invalid is None and ("user_id" in group or "id_user" in group):
            invalid = [group]
        if not isinstance(invalid, list):
            raise _bad(endpoint, "data.not_updated[].invalid_enrollments", invalid, "a list")
        for row in _objects(invalid, "data.not_updated[].invalid_enrollments", endpoint):
            failed[_pair(row, endpoint, "not_updated[].invalid_enrollments")] = (
                message or "not updated"
            )
    for row in _rows(data, "errors", endpoint):
        failed[_pair(row, endpoint, "errors")] = as_str(row.get("message"), "message", endpoint)
    return UpdateAnswer(frozenset(updated - set(failed)), failed)
