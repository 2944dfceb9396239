"""Docebo's wire format, in one place: paths, field names, status codes, dates, envelopes.

Everything here is a pure function from Docebo JSON to certops records or back; the
transport (auth, paging, retries) lives in ``certops.lms.client``. ``docs/wire.md`` is the
contract; a real tenant that disagrees is corrected here (``certops doctor`` lists what it
publishes differently).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

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

# --- paths -------------------------------------------------------------------------------

TOKEN = "/oauth2/token"
USERS = "/manage/v1/user"
COURSES = "/learn/v1/courses"
CATALOGS = "/learn/v1/catalog"
CATALOG_BATCH = "/learn/v1/catalog/batch"
CATALOG_ITEMS_BATCH = "/learn/v1/catalog/items/batch"
GROUPS = "/manage/v1/group"
ENROLLMENTS_READ = "/course/v1/courses/enrollments"
ENROLLMENTS = "/learn/v1/enrollments"
ENROLLMENT_BATCH = "/learn/v1/enrollment/batch"
MICROSERVICES = "/manage/v1/site/microservices"


def course_path(course_id: int) -> str:
    return f"{COURSES}/{course_id}"


def catalog_path(catalog_id: int) -> str:
    return f"{CATALOGS}/{catalog_id}"


def group_path(group_id: int) -> str:
    return f"{GROUPS}/{group_id}"


# Largest page size the API accepts (wire.md: larger values are clamped silently, so asking
# for more would only hide how many pages there really are).
MAX_PAGE_SIZE = 200
# Rows per batch enrollment call; Docebo documents no maximum, 200 keeps bodies small.
ENROLL_CHUNK = 200
# Users per multi-update call (the community's documented 1,000 cap, halved for margin).
UPDATE_CHUNK = 500
# Ids per filter in one GET, so URLs stay well under common 8 KB limits.
FILTER_CHUNK = 50

# What a 403 on an endpoint most likely lacks (Docebo admin permission names).
PERMISSIONS: dict[str, str] = {
    TOKEN: "an OAuth2 app with this grant type enabled",
    USERS: "Users: View",
    COURSES: "Course management: View (Modify to create or change courses)",
    CATALOGS: "Catalog management: View (Modify to add items)",
    CATALOG_BATCH: "Catalog management: Add",
    CATALOG_ITEMS_BATCH: "Catalog management: Modify",
    GROUPS: "Groups: View (Add/Modify to create or change groups)",
    ENROLLMENTS_READ: "Enrollments: View",
    ENROLLMENTS: "Enrollments: Modify",
    ENROLLMENT_BATCH: "Enrollments: Enroll",
    MICROSERVICES: "Superadmin (site settings)",
}


def permission_for(path: str) -> str:
    """The permission a 403 on ``path`` most likely lacks (longest matching prefix)."""
    best = ""
    for prefix in PERMISSIONS:
        if (path == prefix or path.startswith(prefix + "/")) and len(prefix) > len(best):
            best = prefix
    return PERMISSIONS.get(best, "an admin permission for this endpoint")


def path_template(path: str) -> str:
    """``/learn/v1/courses/42`` → ``/learn/v1/courses/{id}``: call counts by endpoint."""
    parts = ["{id}" if part.isdigit() else part for part in path.split("/")]
    return "/".join(parts)


# --- enrollment status and policy codes ------------------------------------------------

# Status strings seen on read, from both enrollment list families (wire.md, docebo-api §10.1).
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

# Strings for POST /learn/v1/enrollment/batch (it has no waiting value: waiting rows are
# created as subscribed; certops never asks for that, see ``batch_item``).
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

# Course visibility code meaning "only users enrolled in the course" (wire.md choice).
VISIBLE_ONLY_TO_ENROLLED = 2
VISIBLE_TO_ALL = 0

LEARNER_LEVEL = 3
COURSE_COMPLETED_CONDITION = "course_completed"


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
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
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


_ZERO_DATES = {"", "0000-00-00", "0000-00-00 00:00:00"}


def parse_instant(value: Any, field: str, endpoint: str) -> datetime | None:
    """A Docebo date or date-time (UTC) as an aware datetime; zero dates and null as None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(endpoint, field, value, "a date 'YYYY-MM-DD HH:MM:SS' or null")
    text = value.strip()
    if text in _ZERO_DATES:
        return None
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _bad(endpoint, field, value, "a date 'YYYY-MM-DD HH:MM:SS' or null") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_end_instant(value: Any, field: str, endpoint: str) -> datetime | None:
    """A validity end as certops' exclusive instant.

    Docebo shows the last second of validity (``D 23:59:59``); certops works with the
    first instant after it (``D+1 00:00:00Z``). A date-only value ``D`` means through D.
    """
    parsed = parse_instant(value, field, endpoint)
    if parsed is None:
        return None
    text = value.strip()
    if len(text) == 10:  # date only: through the end of that day
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
    return Page(_objects(items, "data.items", endpoint), has_more, cursor, _total_pages(data))


def _total_pages(data: Mapping[str, Any]) -> int | None:
    """The page count a list answer states, or None when it states none usable."""
    pages = data.get("total_page_count")
    if isinstance(pages, int | str) and str(pages).isdigit():
        return int(pages)
    total, size = data.get("total_count"), data.get("current_page_size")
    if isinstance(total, int) and isinstance(size, int) and size > 0:
        return -(-total // size)
    return None


def _objects(items: list, field: str, endpoint: str) -> list[dict[str, Any]]:
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
        value = payload.get(key)
        if isinstance(value, str) and value and value not in messages:
            messages.insert(0, value)
    return "; ".join(messages), field


# --- users ------------------------------------------------------------------------------


def user_from_item(item: Mapping[str, Any], endpoint: str) -> User:
    """A user from a ``/manage/v1/user`` list item (or a detail's ``user_data``)."""
    return User(
        id=as_int(require(item, "user_id", endpoint), "user_id", endpoint),
        username=as_str(require(item, "username", endpoint), "username", endpoint),
        email=as_str(item.get("email"), "email", endpoint),
        first_name=as_str(item.get("first_name"), "first_name", endpoint),
        last_name=as_str(item.get("last_name"), "last_name", endpoint),
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


def course_from_item(item: Mapping[str, Any], endpoint: str) -> Course:
    """A course from a ``/learn/v1/courses`` list item (settings partial: no visibility)."""
    settings = CourseSettings(
        name=as_str(require(item, "name", endpoint), "name", endpoint),
        description=as_str(item.get("description"), "description", endpoint),
        course_type=as_str(item.get("course_type") or "elearning", "course_type", endpoint),
        published=as_bool(item.get("is_published", False), "is_published", endpoint),
        self_unenrollment=as_bool(
            item.get("can_self_unenroll", True), "can_self_unenroll", endpoint
        ),
        enrollment_policy=_policy(item.get("enrollment_policy", 2), endpoint),
        date_begin=parse_instant(item.get("start_date"), "start_date", endpoint),
        date_end=parse_end_instant(item.get("end_date"), "end_date", endpoint),
    )
    return Course(
        id=as_int(require(item, "id_course", endpoint), "id_course", endpoint),
        code=as_str(item.get("code"), "code", endpoint),
        settings=settings,
    )


def course_from_detail(data: Mapping[str, Any], endpoint: str) -> Course:
    """A course with every managed setting from ``GET /learn/v1/courses/{id}``."""
    published = data.get("is_published")
    if published is None:
        published = data.get("status") == "published"
    settings = CourseSettings(
        name=as_str(require(data, "name", endpoint), "name", endpoint),
        description=as_str(data.get("description"), "description", endpoint),
        course_type=as_str(data.get("type") or "elearning", "type", endpoint),
        published=as_bool(published, "is_published", endpoint),
        self_unenrollment=as_bool(
            data.get("can_self_unenroll", True), "can_self_unenroll", endpoint
        ),
        enrollment_policy=_policy(data.get("enrollment_policy", 2), endpoint),
        date_begin=parse_instant(data.get("course_date_start"), "course_date_start", endpoint),
        date_end=parse_end_instant(data.get("course_date_end"), "course_date_end", endpoint),
        soft_deadline=as_bool(data.get("in_soft_deadline", False), "in_soft_deadline", endpoint),
        visible_only_to_enrolled=(
            as_int(data.get("visibility", 0) or 0, "visibility", endpoint)
            == VISIBLE_ONLY_TO_ENROLLED
        ),
    )
    return Course(
        id=as_int(require(data, "id", endpoint), "id", endpoint),
        code=as_str(data.get("code"), "code", endpoint),
        settings=settings,
    )


def course_body(settings: CourseSettings, code: str | None = None) -> dict[str, Any]:
    """The create (with ``code``) or update body for a course."""
    body: dict[str, Any] = {
        "name": settings.name,
        "description": settings.description,
        "status": "published" if settings.published else "under_maintenance",
        "can_self_unenroll": settings.self_unenrollment,
        "enrollment_policy": _POLICY_WRITE[settings.enrollment_policy],
        "course_date_start": (format_instant(settings.date_begin) if settings.date_begin else None),
        "course_date_end": format_end_instant(settings.date_end) if settings.date_end else None,
        "soft_deadline": settings.soft_deadline,
        "visibility": (
            VISIBLE_ONLY_TO_ENROLLED if settings.visible_only_to_enrolled else VISIBLE_TO_ALL
        ),
    }
    if code is not None:
        body["code"] = code
        body["course_type"] = settings.course_type
    return body


def created_id(payload: Any, field: str, endpoint: str) -> int:
    """The id a create call returns in ``data.<field>``."""
    data = data_of(payload, endpoint)
    return as_int(require(data, field, endpoint), f"data.{field}", endpoint)


# --- catalogs ---------------------------------------------------------------------------


def catalog_from_item(item: Mapping[str, Any], endpoint: str) -> Catalog:
    return Catalog(
        id=as_int(require(item, "catalogue_id", endpoint), "catalogue_id", endpoint),
        code=as_str(item.get("catalogue_code"), "catalogue_code", endpoint),
        name=as_str(item.get("catalogue_name"), "catalogue_name", endpoint),
    )


def catalog_item_from(item: Mapping[str, Any], catalog: Catalog, endpoint: str) -> CatalogItem:
    return CatalogItem(
        catalog_id=catalog.id,
        catalog_code=catalog.code,
        item_id=as_int(require(item, "item_id", endpoint), "item_id", endpoint),
        item_code=as_str(item.get("item_code"), "item_code", endpoint),
        item_type=as_str(item.get("item_type") or "course", "item_type", endpoint),
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


# --- groups -----------------------------------------------------------------------------


def group_from_item(item: Mapping[str, Any], endpoint: str) -> Group:
    """A group from the list (rule sets are only in the detail: ``rules`` is empty)."""
    return Group(
        id=as_int(require(item, "group_id", endpoint), "group_id", endpoint),
        name=as_str(require(item, "name", endpoint), "name", endpoint),
        description=as_str(item.get("description"), "description", endpoint),
        automatic=as_str(item.get("type"), "type", endpoint) == "automatic",
        rules_operator=as_str(
            item.get("rule_set_operator") or "ANY", "rule_set_operator", endpoint
        ),
    )


def group_from_detail(
    data: Mapping[str, Any], code_of: Callable[[int], str | None], endpoint: str
) -> Group:
    """A group with its rule sets; course ids in conditions become course codes.

    A condition certops does not manage (another type, or a course that no longer exists)
    is kept as ``type=value`` or ``#id``, so it never compares equal to a configured code.
    """
    sets = data.get("rule_sets") or []
    if not isinstance(sets, list):
        raise _bad(endpoint, "rule_sets", sets, "a list of rule sets")
    rules = []
    for rule_set in _objects(sets, "rule_sets", endpoint):
        conditions = rule_set.get("rules") or []
        if not isinstance(conditions, list):
            raise _bad(endpoint, "rule_sets[].rules", conditions, "a list of conditions")
        codes = []
        for cond in _objects(conditions, "rule_sets[].rules", endpoint):
            kind = as_str(cond.get("condition_type"), "condition_type", endpoint)
            value = as_str(cond.get("condition_value"), "condition_value", endpoint)
            if kind == COURSE_COMPLETED_CONDITION:
                course_id = as_int(value, "condition_value", endpoint)
                codes.append(code_of(course_id) or f"#{course_id}")
            else:
                codes.append(f"{kind}={value}")
        rules.append(GroupRule(completed_all=tuple(codes)))
    base = group_from_item(data, endpoint)
    return Group(
        id=base.id,
        name=base.name,
        description=base.description,
        automatic=base.automatic,
        rules_operator=base.rules_operator,
        rules=tuple(rules),
    )


def group_body(
    description: str,
    rule_course_ids: Sequence[Sequence[int]],
    operator: str,
    name: str | None = None,
) -> dict[str, Any]:
    """The create (with ``name``) or update body of an automatic group."""
    body: dict[str, Any] = {
        "description": description,
        "assign_rules": 1 if rule_course_ids else 0,
        "rule_set_operator": operator,
        "rule_sets": [
            {
                "rules_operator": "AND",
                "rules": [
                    {"condition_type": COURSE_COMPLETED_CONDITION, "condition_value": str(cid)}
                    for cid in ids
                ],
            }
            for ids in rule_course_ids
        ],
    }
    if name is not None:
        body["name"] = name
        # Learners who already completed the training belong in the group too.
        body["assign_existing_users"] = 1
    return body


# --- enrollments ------------------------------------------------------------------------


def enrollment_from_item(
    item: Mapping[str, Any],
    endpoint: str,
    usernames: Mapping[int, str] | None = None,
    course_codes: Mapping[int, str] | None = None,
) -> Enrollment:
    """An enrollment from a ``/course/v1/courses/enrollments`` item, built once: its
    ``username`` and ``course_code`` come from ``usernames``/``course_codes`` when given."""
    user_id = as_int(require(item, "user_id", endpoint), "user_id", endpoint)
    course_id = as_int(require(item, "course_id", endpoint), "course_id", endpoint)
    return Enrollment(
        user_id=user_id,
        course_id=course_id,
        status=read_status(
            require(item, "enrollment_status", endpoint), "enrollment_status", endpoint
        ),
        enrolled_at=parse_instant(
            item.get("enrollment_created_at"), "enrollment_created_at", endpoint
        ),
        completed_at=parse_instant(
            item.get("enrollment_completion_date"), "enrollment_completion_date", endpoint
        ),
        valid_from=parse_instant(
            item.get("enrollment_validity_begin_datetime"),
            "enrollment_validity_begin_datetime",
            endpoint,
        ),
        valid_until=parse_end_instant(
            item.get("enrollment_validity_end_datetime"),
            "enrollment_validity_end_datetime",
            endpoint,
        ),
        username=usernames.get(user_id, "") if usernames else "",
        course_code=course_codes.get(course_id, "") if course_codes else "",
    )


def enrollment_filters(course_ids: Iterable[int], user_ids: Iterable[int] | None) -> dict:
    params: dict[str, Any] = {"course_id[]": [str(i) for i in course_ids]}
    if user_ids is not None:
        params["user_id[]"] = [str(i) for i in user_ids]
    return params


def batch_item(row: NewEnrollment) -> dict[str, Any]:
    """One row of ``POST /learn/v1/enrollment/batch``."""
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
    }
    if row.completed_at is not None:
        item["completion_date"] = format_instant(row.completed_at)
    if row.valid_from is not None:
        item["date_begin_validity"] = format_instant(row.valid_from)
    if row.valid_until is not None:
        item["date_expire_validity"] = format_end_instant(row.valid_until)
    return item


def enroll_batch_body(rows: Sequence[NewEnrollment]) -> dict[str, Any]:
    return {
        "items": [batch_item(row) for row in rows],
        "options": {
            # Deactivated learners get no new enrollments (DESIGN.md section 6).
            "enroll_disabled_users": False,
            # An existing enrollment must stay an error, never be overwritten by a create.
            "duplicates_as_recertification": False,
            # The learner-enrolled notification stands in for the enrollment rule's.
            "trigger_notifications": True,
        },
    }


def enrollment_update_body(update: EnrollmentUpdate, user_ids: Sequence[int]) -> dict[str, Any]:
    """The ``PUT /learn/v1/enrollments`` body for some users of one course."""
    body: dict[str, Any] = {"user_ids": list(user_ids), "course_ids": [update.course_id]}
    if update.status is not None:
        body["status"] = STATUS_CODE[update.status]
    if update.completed_at is not None:
        body["date_complete"] = format_instant(update.completed_at)
    if update.valid_from is not None:
        body["date_begin_validity"] = format_instant(update.valid_from)
    if update.valid_until is not None:
        body["date_expire_validity"] = format_end_instant(update.valid_until)
    return body


def pair_rows(data: Any, member: str, endpoint: str) -> dict[tuple[int, int], str]:
    """``{(user_id, course_id): message}`` from ``data.updated``/``data.errors`` rows."""
    rows = data.get(member) if isinstance(data, Mapping) else None
    if rows is None:
        return {}
    if not isinstance(rows, list):
        raise _bad(endpoint, f"data.{member}", rows, "a list")
    out = {}
    for row in _objects(rows, f"data.{member}", endpoint):
        user = as_int(require(row, "id_user", endpoint), "id_user", endpoint)
        course = as_int(require(row, "id_course", endpoint), "id_course", endpoint)
        out[(user, course)] = as_str(row.get("message"), "message", endpoint)
    return out


# --- what certops uses, for ``certops doctor`` --------------------------------------------


@dataclass(frozen=True, slots=True)
class EndpointUse:
    """The fields certops sends to and reads from one endpoint."""

    method: str
    path: str
    params: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    response: tuple[str, ...] = ()


# Every list is read with these (cursor paging where the server offers it).
_PAGING = ("page", "page_size", "get_cursor", "cursor")

USED: tuple[EndpointUse, ...] = (
    EndpointUse(
        "GET",
        USERS,
        params=(*_PAGING, "sort_attr", "sort_dir", "search_text", "match_type"),
        response=("user_id", "username", "email", "first_name", "last_name", "status"),
    ),
    EndpointUse(
        "GET",
        COURSES,
        params=(*_PAGING, "sort_by", "sort_by_direction", "search_text"),
        response=(
            "id_course",
            "code",
            "name",
            "description",
            "course_type",
            "is_published",
            "can_self_unenroll",
            "enrollment_policy",
            "start_date",
            "end_date",
        ),
    ),
    EndpointUse(
        "GET",
        COURSES + "/{id}",
        response=(
            "id",
            "code",
            "name",
            "description",
            "type",
            "is_published",
            "can_self_unenroll",
            "enrollment_policy",
            "course_date_start",
            "course_date_end",
            "in_soft_deadline",
            "visibility",
        ),
    ),
    EndpointUse(
        "POST",
        COURSES,
        body=(
            "name",
            "code",
            "description",
            "course_type",
            "status",
            "can_self_unenroll",
            "enrollment_policy",
            "course_date_start",
            "course_date_end",
            "soft_deadline",
            "visibility",
        ),
        response=("id_course",),
    ),
    EndpointUse(
        "PUT",
        COURSES + "/{id}",
        body=(
            "name",
            "description",
            "status",
            "can_self_unenroll",
            "enrollment_policy",
            "course_date_start",
            "course_date_end",
            "soft_deadline",
            "visibility",
        ),
    ),
    EndpointUse(
        "GET",
        CATALOGS,
        params=_PAGING,
        response=("catalogue_id", "catalogue_code", "catalogue_name"),
    ),
    EndpointUse(
        "GET",
        CATALOGS + "/{id}",
        params=_PAGING,
        response=("item_id", "item_code", "item_type"),
    ),
    EndpointUse("POST", CATALOG_BATCH, body=("items", "code", "name")),
    EndpointUse(
        "POST", CATALOG_ITEMS_BATCH, body=("items", "catalog_code", "item_code", "item_type")
    ),
    EndpointUse(
        "GET",
        GROUPS,
        params=_PAGING,
        response=("group_id", "name", "description", "type", "rule_set_operator"),
    ),
    EndpointUse(
        "GET",
        GROUPS + "/{id}",
        response=("group_id", "name", "description", "type", "rule_set_operator", "rule_sets"),
    ),
    EndpointUse(
        "POST",
        GROUPS,
        body=(
            "name",
            "description",
            "assign_rules",
            "rule_set_operator",
            "rule_sets",
            "assign_existing_users",
        ),
        response=("group_id",),
    ),
    EndpointUse(
        "PUT",
        GROUPS + "/{id}",
        body=("description", "assign_rules", "rule_set_operator", "rule_sets"),
    ),
    EndpointUse(
        "GET",
        ENROLLMENTS_READ,
        params=("course_id[]", "user_id[]", "get_total_count", *_PAGING),
        response=(
            "user_id",
            "course_id",
            "enrollment_status",
            "enrollment_created_at",
            "enrollment_completion_date",
            "enrollment_validity_begin_datetime",
            "enrollment_validity_end_datetime",
        ),
    ),
    EndpointUse(
        "POST",
        ENROLLMENT_BATCH,
        body=(
            "items",
            "options",
            "course_id",
            "user_id",
            "level",
            "status",
            "completion_date",
            "date_begin_validity",
            "date_expire_validity",
        ),
    ),
    EndpointUse(
        "PUT",
        ENROLLMENTS,
        body=(
            "user_ids",
            "course_ids",
            "status",
            "date_complete",
            "date_begin_validity",
            "date_expire_validity",
        ),
    ),
)
