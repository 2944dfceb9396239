"""certops' own typed records of what an LMS holds, where the LMS package has always
kept them; they live in ``certops.records``, which the pure engine imports without
loading the LMS client."""

from certops.records import (
    Catalog,
    CatalogItem,
    Course,
    CourseSettings,
    Enrollment,
    EnrollmentPolicy,
    EnrollmentStatus,
    Group,
    GroupRule,
    RowResult,
    User,
)

__all__ = [
    "Catalog",
    "CatalogItem",
    "Course",
    "CourseSettings",
    "Enrollment",
    "EnrollmentPolicy",
    "EnrollmentStatus",
    "Group",
    "GroupRule",
    "RowResult",
    "User",
]
