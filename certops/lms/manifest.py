"""What certops sends to and reads from each Docebo endpoint, field by field.

``certops doctor`` compares this with the service documents a tenant publishes (its own
Swagger files), and the contract tests check the client's request bodies against it, so
it must name exactly the fields ``certops.lms.wire`` uses. ``docs/wire.md`` gives the
public evidence for each one.
"""

from __future__ import annotations

from dataclasses import dataclass

from certops.lms import paths


@dataclass(frozen=True, slots=True)
class EndpointUse:
    """The fields certops sends to and reads from one endpoint (nested fields dotted,
    list members with ``[]``)."""

    method: str
    path: str
    params: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    response: tuple[str, ...] = ()


# Every list is read with these (cursor paging where the server offers it).
_PAGING = ("page", "page_size", "get_cursor", "cursor")

_COURSE_WRITE = (
    "name",
    "description",
    "status",
    "self_unenrollment_settings.allow_self_unenrollment_from_course",
    "self_unenrollment_settings.allow_self_unenrollment_from_completed_course",
    "enrollment_policy",
    "course_date_start",
    "course_date_end",
    "soft_deadline",
    "visibility",
)

_AUDIENCE_WRITE = (
    "description",
    "type",
    "exclude_deactivated_users",
    "ruleset.status",
    "ruleset.operator",
    "ruleset.sets[].rules_operator",
    "ruleset.sets[].rules[].type",
    "ruleset.sets[].rules[].payload.course_ids",
    "ruleset.sets[].rules[].payload.status",
)

USED: tuple[EndpointUse, ...] = (
    EndpointUse(
        "GET",
        paths.USERS,
        params=(*_PAGING, "sort_attr", "sort_dir", "search_text", "match_type"),
        response=("user_id", "username", "email", "first_name", "last_name", "status"),
    ),
    EndpointUse("GET", paths.SESSION, response=("id", "username")),
    EndpointUse(
        "GET",
        paths.COURSES,
        params=(*_PAGING, "sort_by", "sort_by_direction", "search_text"),
        response=(
            "id_course",
            "code",
            "name",
            "description",
            "course_type",
            "is_published",
            "enrollment_policy",
            "start_date",
            "end_date",
        ),
    ),
    EndpointUse(
        "GET",
        paths.COURSES + "/{id}",
        response=(
            "id",
            "code",
            "name",
            "description",
            "type",
            "is_published",
            "status",
            "self_unenrollment_settings.allow_self_unenrollment_from_course",
            "enrollment_policy",
            "course_date_start",
            "course_date_end",
            "in_soft_deadline",
        ),
    ),
    EndpointUse(
        "POST",
        paths.COURSES,
        body=("code", "course_type", *_COURSE_WRITE),
        response=("id_course",),
    ),
    EndpointUse("PUT", paths.COURSES + "/{id}", body=_COURSE_WRITE),
    EndpointUse(
        "GET",
        paths.CATALOGS,
        params=_PAGING,
        response=("catalogue_id", "catalogue_code", "catalogue_name"),
    ),
    EndpointUse(
        "GET",
        paths.CATALOGS + "/{id}",
        params=_PAGING,
        response=("item_id", "item_code", "item_type"),
    ),
    EndpointUse(
        "POST",
        paths.CATALOG_BATCH,
        body=("items[].code", "items[].name"),
        response=("row_index", "success", "message"),
    ),
    EndpointUse(
        "POST",
        paths.CATALOG_ITEMS_BATCH,
        body=("items[].catalog_code", "items[].item_code", "items[].item_type"),
        response=("row_index", "success", "message"),
    ),
    EndpointUse(
        "GET",
        paths.AUDIENCES,
        params=("page", "page_size", "sort_attr", "sort_dir", "search_text"),
        response=("uuid", "name", "description", "type", "exclude_deactivated_users"),
    ),
    EndpointUse(
        "GET",
        paths.AUDIENCES + "/{id}",
        response=("uuid", "name", "description", "type", *_AUDIENCE_WRITE[2:]),
    ),
    EndpointUse("POST", paths.AUDIENCES, body=("name", *_AUDIENCE_WRITE), response=("uuid",)),
    EndpointUse("PUT", paths.AUDIENCES + "/{id}", body=_AUDIENCE_WRITE),
    EndpointUse(
        "GET",
        paths.ENROLLMENTS_READ,
        params=("course_id[]", "user_id[]", "get_total_count", *_PAGING),
        response=(
            "user_id",
            "course_id",
            "enrollment_status",
            "enrollment_created_at",
            "enrollment_completion_date",
            "enrollment_validity_begin_datetime",
            "enrollment_validity_end_datetime",
            "enrollment_validity_begin_date",
            "enrollment_validity_end_date",
        ),
    ),
    EndpointUse(
        "POST",
        paths.ENROLLMENT_BATCH,
        body=(
            "items[].course_id",
            "items[].user_id",
            "items[].level",
            "items[].status",
            "items[].batch_item_id",
            "items[].completion_date",
            "items[].active_from",
            "items[].active_until",
            "options.enroll_disabled_users",
            "options.duplicates_as_recertification",
            "options.trigger_notifications",
        ),
        response=("row_index", "success", "message", "batch_item_id"),
    ),
    EndpointUse(
        "PUT",
        paths.ENROLLMENTS,
        body=(
            "user_id",
            "course_id",
            "user_ids",
            "course_ids",
            "status",
            "date_complete",
            "date_begin_validity",
            "date_expire_validity",
        ),
        response=(
            "updated[].user_id",
            "updated[].course_id",
            "not_updated[].validation_errors",
            "not_updated[].invalid_enrollments[].user_id",
            "not_updated[].invalid_enrollments[].course_id",
        ),
    ),
)
