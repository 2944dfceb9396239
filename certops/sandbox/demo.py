"""The demo dataset of ``certops sandbox init --demo``: a tenant that fits the examples.

The story is the article's admin adopting certops late in 2026, after running the
certification programs by hand. The tenant has the initial training of Widget Pro
(WP-101 + WP-102, or WP-EXAM), Gadget Max (GM-101) and Sprocket (SP-101), learners
``learner0001``... with completions spread over 2023-2026 (some partial, some never), a few
deactivated users, the named users jdoe, asmith and bcole, the Salesforce Sync catalog,
and the maintenance courses the admin made by hand:

- MOC-WP-2025, made as the article recommends. Learners certified before 2025, or in 2025
  at least 90 days before its deadline (Widget Pro's grace), were enrolled; about 70%
  completed it in 2025 and a quarter of the others caught up early in 2026 (Widget Pro
  reinstates on a late completion).
- MOC-WP-2026, MOC-GM-2026 and MOC-SP-2026, named as in ``examples/`` but with the
  admin's own settings (self-unenrollment and soft deadline on, no course dates), so the
  first plan updates them. Everyone who owes period 2026 under the examples' rules is
  enrolled, with validity 2026-01-01..2026-12-31: learners certified before 2026 on
  2026-01-05, later ones when they were certified (the enrollment rule fires on join).
  About 83% of them completed it between 2026-02-01 and 2026-11-20, about 8% are in
  progress, the rest have not started. Outcomes are spread evenly through the list (not
  drawn independently), so every product's share of non-completers stays near 17% at any
  size and the 2027 rollover passes the examples' 25% safety limit.
- jdoe has not completed MOC-GM-2026 (the examples extend her deadline to 2027-01-31);
  asmith has not started it (she lapses, and the examples reinstate her in 2027); bcole
  was working on it when the examples revoke his certification (2026-06-01).

No CERT-* course, no 2027 maintenance course and no group: creating those is certops' job.
Everything is a function of the seed; every timestamp is at or before 2026-11-20 17:00 UTC
and the demo objects are stamped ``DEMO_NOW``, the end of that history.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

LATEST = datetime(2026, 11, 1, tzinfo=UTC)  # initial training stops here
HISTORY_END = datetime(2026, 11, 21, tzinfo=UTC)  # exclusive: maintenance stops on 2026-11-20
DEMO_NOW = "2026-11-20 18:00:00"  # creation/update stamps of the demo objects

Y2025 = datetime(2025, 1, 1, tzinfo=UTC)
Y2026 = datetime(2026, 1, 1, tzinfo=UTC)
# Widget Pro's grace (examples/widget-pro.yaml, new_learner_grace_days: 90): certified
# after these instants, a learner is exempt from that year's period.
WP_GRACE_2025 = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(days=90)
WP_GRACE_2026 = datetime(2027, 1, 1, tzinfo=UTC) - timedelta(days=90)
MOC_2025_ENROLLED = datetime(2025, 1, 6, 9, tzinfo=UTC)  # the admin's January enrollments
MOC_2026_ENROLLED = datetime(2026, 1, 5, 9, tzinfo=UTC)
MOC_2026_FIRST_DONE = datetime(2026, 2, 1, tzinfo=UTC)
# Shares of a 2026 maintenance course's learners: completed, then in progress; the rest
# have not started.
DONE_2026, IN_PROGRESS_2026 = 0.83, 0.91
_GOLDEN = 0.6180339887498949  # step of the evenly spread outcome sequence

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
    *(
        {
            # Made by hand in a hurry: the admin's own settings, which certops corrects.
            "code": code,
            "name": f"{product}: Maintenance of Certification 2026",
            "type": "elearning",
            "description": f"Yearly maintenance of the {product} certification.",
            "published": True,
            "self_unenrollment": True,
            "enrollment_policy": "admin_only",
            "soft_deadline": True,
            "visible_only_to_enrolled": True,
        }
        for code, product in (
            ("MOC-WP-2026", "Widget Pro"),
            ("MOC-GM-2026", "Gadget Max"),
            ("MOC-SP-2026", "Sprocket"),
        )
    ),
]
CATALOGS = [{"code": "SF-SYNC", "name": "Salesforce Sync", "description": "Synced to Salesforce"}]


@dataclass(slots=True)
class _Year2026:
    """Draws the 2026 maintenance of every learner who owes it (mutable, private).

    A separate random stream from the initial training's, so the 2026 year does not move
    anyone's initial history. Outcomes follow a golden-ratio sequence per course instead of
    independent draws: any prefix of the learners has close to the intended shares.
    """

    rng: random.Random
    position: dict[str, float] = field(default_factory=dict)

    def outcome(self, course: str) -> float:
        """The next point of ``course``'s evenly spread sequence in [0, 1)."""
        point = self.position.get(course)
        if point is None:
            point = self.rng.random()  # where the sequence starts depends on the seed
        self.position[course] = (point + _GOLDEN) % 1.0
        return point

    def enroll(self, user: str, course: str, certified: datetime) -> dict[str, Any]:
        """The enrollment in 2026 course ``course`` of ``user``, certified (or reinstated)
        at ``certified``, with its drawn outcome."""
        # Certified before 2026: the admin's January enrollment; later: the rule, on joining.
        enrolled = certified if certified >= Y2026 else MOC_2026_ENROLLED
        point = self.outcome(course)
        first = max(enrolled + timedelta(days=1), MOC_2026_FIRST_DONE)
        if point < DONE_2026 and first < HISTORY_END:
            done = _instant(self.rng, first, HISTORY_END)
            row = _row(user, course, enrolled, done, "completed")
        else:
            status = "in_progress" if point < IN_PROGRESS_2026 else "enrolled"
            row = _row(user, course, enrolled, None, status)
        row.update(valid_from="2026-01-01", valid_until="2026-12-31")
        return row


def demo_dataset(learners: int = 200, seed: int = 0) -> dict[str, Any]:
    """Returns the demo dataset (the ``sandbox load`` format) for ``learners`` learners."""
    rng = random.Random(seed)
    year = _Year2026(random.Random(f"certops-demo-2026:{seed}"))
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
        enrollments.extend(_learner_history(rng, year, username))
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
    # Office hours look real; snapping must not move the instant out of [start, end].
    snapped = moment.replace(minute=0, second=0, microsecond=0, hour=8 + moment.hour % 10)
    return min(max(snapped, start), max(start, end))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _row(
    user: str, course: str, enrolled: datetime, completed: datetime | None, status: str
) -> dict[str, Any]:
    row: dict[str, Any] = {"user": user, "course": course, "status": status,
                           "enrolled_at": _iso(enrolled)}  # fmt: skip
    if completed is not None:
        row["completed_at"] = _iso(completed)
    return row


def _learner_history(rng: random.Random, year: _Year2026, user: str) -> list[dict[str, Any]]:
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
    moc_2025: dict[str, Any] | None = None
    if certified_at is not None and certified_at < Y2025:
        if rng.random() < 0.7:
            done = _instant(rng, MOC_2025_ENROLLED, datetime(2025, 12, 20, tzinfo=UTC))
            moc_2025 = _row(user, "MOC-WP-2025", MOC_2025_ENROLLED, done, "completed")
        else:
            status = rng.choice(["enrolled", "in_progress"])
            moc_2025 = _row(user, "MOC-WP-2025", MOC_2025_ENROLLED, None, status)
    gm_done: datetime | None = None
    if rng.random() < 0.3:
        gm = _instant(rng, start, LATEST - timedelta(days=30))
        gm_done = gm + timedelta(days=rng.randint(1, 25)) if rng.random() < 0.8 else None
        rows.append(_row(user, "GM-101", gm, gm_done, "completed" if gm_done else "enrolled"))
    sp_done: datetime | None = None
    if rng.random() < 0.2:
        sp = _instant(rng, start, LATEST - timedelta(days=30))
        sp_done = sp + timedelta(days=rng.randint(1, 25)) if rng.random() < 0.7 else None
        rows.append(_row(user, "SP-101", sp, sp_done, "completed" if sp_done else "in_progress"))
    # The hand-run maintenance years (their own random stream: see _Year2026).
    if certified_at is not None:
        rows.extend(_widget_pro_maintenance(year, user, certified_at, moc_2025))
    if gm_done is not None:
        rows.append(year.enroll(user, "MOC-GM-2026", gm_done))
    if sp_done is not None:
        rows.append(year.enroll(user, "MOC-SP-2026", sp_done))
    return rows


def _widget_pro_maintenance(
    year: _Year2026, user: str, certified: datetime, moc_2025: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Widget Pro's 2025 and 2026 for a learner certified at ``certified``, as the
    examples' rules see them (grace 90 days, late completion reinstates)."""
    rows: list[dict[str, Any]] = []
    rng = year.rng
    if moc_2025 is None and Y2025 <= certified <= WP_GRACE_2025:
        # Certified during 2025: the admin's enrollment rule enrolled them on joining.
        if rng.random() < 0.7:
            done = _instant(rng, certified + timedelta(days=1), datetime(2025, 12, 20, tzinfo=UTC))
            moc_2025 = _row(user, "MOC-WP-2025", certified, done, "completed")
        else:
            status = rng.choice(["enrolled", "in_progress"])
            moc_2025 = _row(user, "MOC-WP-2025", certified, None, status)
    start_2026: datetime | None = None
    if moc_2025 is None:
        # Certified after 2025's grace: owes 2026 from its start, or from certification.
        start_2026 = certified if certified <= WP_GRACE_2026 else None
    elif "completed_at" in moc_2025:
        start_2026 = certified  # met 2025: owes 2026 from its start
    elif rng.random() < 0.25:
        # Lapsed on 2026-01-01 and caught up early in 2026: reinstated by the completion.
        done = _instant(rng, datetime(2026, 1, 10, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
        moc_2025.update(status="completed", completed_at=_iso(done))
        start_2026 = done
    if moc_2025 is not None:
        moc_2025.update(valid_from="2025-01-01", valid_until="2025-12-31")
        rows.append(moc_2025)
    if start_2026 is not None:
        rows.append(year.enroll(user, "MOC-WP-2026", start_2026))
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
    if moc_2025:
        # Met 2025, so owes Widget Pro 2026: done in the spring.
        wp = _row(user, "MOC-WP-2026", MOC_2026_ENROLLED, at("2026-04-14T10:00"), "completed")
        wp.update(valid_from="2026-01-01", valid_until="2026-12-31")
        rows.append(wp)
    # Certified in Gadget Max: GM-101 completed in 2025, so each owes Gadget Max 2026.
    rows.append(_row(user, "GM-101", at("2025-04-01T09:00"), at("2025-04-22T16:00"), "completed"))
    # jdoe is still at it (extended to 2027-01-31 in the examples; her enrollment still says
    # 2026-12-31, which certops corrects); asmith has not started (she lapses); bcole was
    # working on it when his certification was revoked.
    gm_status = {"jdoe": "in_progress", "asmith": "enrolled", "bcole": "in_progress"}[user]
    gm = _row(user, "MOC-GM-2026", MOC_2026_ENROLLED, None, gm_status)
    gm.update(valid_from="2026-01-01", valid_until="2026-12-31")
    rows.append(gm)
    return rows
