"""The demo dataset of ``certops sandbox init --demo``: a tenant that fits the examples.

Widget Pro initial training (WP-101 + WP-102, or WP-EXAM), Gadget Max (GM-101),
Sprocket (SP-101), last year's hand-made maintenance course MOC-WP-2025, the Salesforce
Sync catalog, learners ``learner0001``... with completions spread over 2023-2026 (some
partial, some never), some who completed MOC-WP-2025 and some who did not, a few
deactivated users, and the named users jdoe, asmith and bcole. No CERT-* course, no
2026/2027 maintenance course and no group: creating those is certops' job. Everything is
a function of the seed; every timestamp is at or before 2026-11-01.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

LATEST = datetime(2026, 11, 1, tzinfo=UTC)
DEMO_NOW = "2026-11-01 00:00:00"  # creation/update stamps of the demo objects
FIRST_NAMES = [
    "Ada",
    "Alan",
    "Bea",
    "Carl",
    "Dana",
    "Eli",
    "Fay",
    "Gus",
    "Hana",
    "Ian",
    "Jo",
    "Kai",
    "Lea",
    "Max",
    "Nia",
    "Otto",
    "Pia",
    "Quinn",
    "Rosa",
    "Sam",
    "Tia",
    "Uma",
    "Vic",
    "Wes",
    "Xia",
    "Yan",
    "Zoe",
]
LAST_NAMES = [
    "Abbott",
    "Baker",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Moreau",
    "Nakamura",
    "Olsen",
    "Patel",
    "Quist",
    "Rossi",
    "Silva",
    "Tanaka",
    "Ueda",
    "Varga",
    "Weber",
    "Xu",
    "Young",
    "Zimmer",
]

COURSES: list[dict[str, Any]] = [
    {"code": "WP-101", "name": "Widget Pro 101: Foundations", "type": "elearning"},
    {"code": "WP-102", "name": "Widget Pro 102: Advanced Operation", "type": "elearning"},
    {"code": "WP-EXAM", "name": "Widget Pro Certification Exam", "type": "elearning"},
    {"code": "GM-101", "name": "Gadget Max 101", "type": "elearning"},
    {"code": "SP-101", "name": "Sprocket 101", "type": "classroom"},
    {
        # Made by hand before certops, following the article's recommendations.
        "code": "MOC-WP-2025",
        "name": "Widget Pro: Maintenance of Certification 2025",
        "type": "elearning",
        "description": "Yearly maintenance of the Widget Pro certification.",
        "published": True,
        "self_unenrollment": False,
        "enrollment_policy": "admin_only",
        "date_begin": "2025-01-01",
        "date_end": "2025-12-31",
        "soft_deadline": False,
        "visible_only_to_enrolled": True,
    },
]
CATALOGS = [{"code": "SF-SYNC", "name": "Salesforce Sync", "description": "Synced to Salesforce"}]


def demo_dataset(learners: int = 200, seed: int = 0) -> dict[str, Any]:
    """Returns the demo dataset (the ``sandbox load`` format) for ``learners`` learners."""
    rng = random.Random(seed)
    users: list[dict[str, Any]] = []
    enrollments: list[dict[str, Any]] = []
    for n in range(1, learners + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        username = f"learner{n:04d}"
        users.append(
            {
                "username": username,
                "email": f"{username}@example.com",
                "first_name": first,
                "last_name": last,
                # A few deactivated users (left the company), spread through the list.
                "active": n % 37 != 0,
            }
        )
        enrollments.extend(_learner_history(rng, username))
    for username, first, last, wp_path, moc_2025 in (
        ("jdoe", "Jane", "Doe", "classic", True),
        ("asmith", "Alice", "Smith", "exam", False),
        ("bcole", "Ben", "Cole", "classic", True),
    ):
        users.append(
            {
                "username": username,
                "email": f"{username}@example.com",
                "first_name": first,
                "last_name": last,
                "active": True,
            }
        )
        enrollments.extend(_named_history(username, wp_path, moc_2025))
    return {
        "users": users,
        "courses": COURSES,
        "catalogs": CATALOGS,
        "enrollments": enrollments,
    }


def _instant(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = max(1, int((end - start).total_seconds()))
    moment = start + timedelta(seconds=rng.randrange(span))
    return moment.replace(minute=0, second=0, microsecond=0, hour=8 + moment.hour % 10)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _row(user: str, course: str, enrolled: datetime, completed: datetime | None, status: str):
    row: dict[str, Any] = {"user": user, "course": course, "status": status,
                           "enrolled_at": _iso(enrolled)}  # fmt: skip
    if completed is not None:
        row["completed_at"] = _iso(completed)
    return row


def _learner_history(rng: random.Random, user: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    start = datetime(2023, 1, 1, tzinfo=UTC)
    profile = rng.choices(
        ("classic", "exam", "partial", "never", "none"), weights=(45, 20, 12, 8, 15)
    )[0]
    enrolled = _instant(rng, start, LATEST - timedelta(days=60))
    certified_at: datetime | None = None
    if profile == "classic":
        first = min(LATEST, enrolled + timedelta(days=rng.randint(3, 60)))
        second = min(LATEST, first + timedelta(days=rng.randint(1, 60)))
        rows.append(_row(user, "WP-101", enrolled, first, "completed"))
        rows.append(_row(user, "WP-102", enrolled, second, "completed"))
        certified_at = second
    elif profile == "exam":
        done = min(LATEST, enrolled + timedelta(days=rng.randint(1, 30)))
        rows.append(_row(user, "WP-EXAM", enrolled, done, "completed"))
        certified_at = done
    elif profile == "partial":
        first = min(LATEST, enrolled + timedelta(days=rng.randint(3, 60)))
        rows.append(_row(user, "WP-101", enrolled, first, "completed"))
        rows.append(_row(user, "WP-102", enrolled, None, rng.choice(["enrolled", "in_progress"])))
    elif profile == "never":
        rows.append(_row(user, "WP-101", enrolled, None, rng.choice(["enrolled", "in_progress"])))
    # Last year's maintenance course: certified before 2025, enrolled by hand in January.
    if certified_at is not None and certified_at < datetime(2025, 1, 1, tzinfo=UTC):
        moc_enrolled = datetime(2025, 1, 6, 9, tzinfo=UTC)
        if rng.random() < 0.7:
            done = _instant(rng, moc_enrolled, datetime(2025, 12, 20, tzinfo=UTC))
            rows.append(_row(user, "MOC-WP-2025", moc_enrolled, done, "completed"))
        else:
            status = rng.choice(["enrolled", "in_progress"])
            rows.append(_row(user, "MOC-WP-2025", moc_enrolled, None, status))
        rows[-1]["valid_from"] = "2025-01-01"
        rows[-1]["valid_until"] = "2025-12-31"
    if rng.random() < 0.3:
        gm = _instant(rng, start, LATEST - timedelta(days=30))
        done = gm + timedelta(days=rng.randint(1, 25)) if rng.random() < 0.8 else None
        rows.append(_row(user, "GM-101", gm, done, "completed" if done else "enrolled"))
    if rng.random() < 0.2:
        sp = _instant(rng, start, LATEST - timedelta(days=30))
        done = sp + timedelta(days=rng.randint(1, 25)) if rng.random() < 0.7 else None
        rows.append(_row(user, "SP-101", sp, done, "completed" if done else "in_progress"))
    return rows


def _named_history(user: str, wp_path: str, moc_2025: bool) -> list[dict[str, Any]]:
    def at(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    rows: list[dict[str, Any]] = []
    if wp_path == "classic":
        rows.append(
            _row(user, "WP-101", at("2023-03-01T09:00"), at("2023-03-20T14:00"), "completed")
        )
        rows.append(
            _row(user, "WP-102", at("2023-03-01T09:00"), at("2023-04-12T10:00"), "completed")
        )
    else:
        rows.append(
            _row(user, "WP-EXAM", at("2024-02-05T09:00"), at("2024-02-09T11:00"), "completed")
        )
    moc_done = at("2025-06-18T15:00") if moc_2025 else None
    moc = _row(user, "MOC-WP-2025", at("2025-01-06T09:00"), moc_done,
               "completed" if moc_2025 else "in_progress")  # fmt: skip
    moc.update(valid_from="2025-01-01", valid_until="2025-12-31")
    rows.append(moc)
    # Certified in Gadget Max: GM-101 completed in 2025.
    rows.append(_row(user, "GM-101", at("2025-04-01T09:00"), at("2025-04-22T16:00"), "completed"))
    return rows
