"""Where certops talks to Docebo: the endpoint paths, request sizes, and what a 403 lacks.

``docs/wire.md`` gives the public evidence for each path. Nothing here knows a field name;
the codecs live in ``certops.lms.wire`` and the list of fields certops uses per endpoint
(which ``certops doctor`` checks) in ``certops.lms.manifest``.
"""

from __future__ import annotations

TOKEN = "/oauth2/token"
USERS = "/manage/v1/user"
SESSION = "/manage/v1/user/session"
COURSES = "/learn/v1/courses"
CATALOGS = "/learn/v1/catalog"
CATALOG_BATCH = "/learn/v1/catalog/batch"
CATALOG_ITEMS_BATCH = "/learn/v1/catalog/items/batch"
# Groups have been "audiences" since the October 2020 groups rework (UUID ids).
AUDIENCES = "/audiences/v1/audience"
ENROLLMENTS_READ = "/course/v1/courses/enrollments"
ENROLLMENTS = "/learn/v1/enrollments"
ENROLLMENT_BATCH = "/learn/v1/enrollment/batch"
MICROSERVICES = "/manage/v1/site/microservices"
# The legacy group API: certops no longer uses it, but ``doctor`` tells when a tenant
# answers only this one.
LEGACY_GROUPS = "/manage/v1/group"


def course_path(course_id: int) -> str:
    return f"{COURSES}/{course_id}"


def catalog_path(catalog_id: int) -> str:
    return f"{CATALOGS}/{catalog_id}"


def audience_path(uuid: str) -> str:
    return f"{AUDIENCES}/{uuid}"


# Rows asked for per page of a list read. Docebo documents no maximum; its own defaults
# are 200 for users and catalogs, and production clients ask 500 to 5,000 (docs/wire.md).
# Whether a tenant honours more is its own: ``certops doctor`` asks for
# ``PROBE_PAGE_SIZE`` once and says, and ``CERTOPS_PAGE_SIZE`` (or ``--page-size``) sets it.
DEFAULT_PAGE_SIZE = 200
PROBE_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 10_000
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
    SESSION: "an active API user",
    COURSES: "Course management: View (Modify to create or change courses)",
    CATALOGS: "Catalog management: View (Modify to add items)",
    CATALOG_BATCH: "Catalog management: Add",
    CATALOG_ITEMS_BATCH: "Catalog management: Modify",
    AUDIENCES: "Groups: View (Add/Modify to create or change groups)",
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


def _is_id(part: str) -> bool:
    """A numeric id or a UUID (audience ids) in a path."""
    if part.isdigit():
        return True
    return len(part) == 36 and part.count("-") == 4 and all(c in "0123456789abcdef-" for c in part)


def path_template(path: str) -> str:
    """``/learn/v1/courses/42`` → ``/learn/v1/courses/{id}``: call counts by endpoint."""
    return "/".join("{id}" if _is_id(part) else part for part in path.split("/"))
