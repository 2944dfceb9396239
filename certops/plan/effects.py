"""What a change does to a learner or to the setup, in the words a reviewer uses.

An enrollment change is a suspension, a reinstatement, a certification, a maintenance
enrollment or a moved maintenance deadline; anything else is a setup create or update,
or a manual step. Every plan format and apply's confirmation prompt name changes by
these effects (never "35 to update" for 35 suspensions). Read off the change's own
write, so a plan read back from its file names its changes the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

from certops.plan.model import Action, Change, ChangeType, EnrollmentWrite
from certops.records import EnrollmentStatus


class Effect(StrEnum):
    SUSPEND = "suspend"  # a certified-course status set to suspended
    REINSTATE = "reinstate"  # a certified-course status set back to completed
    CERTIFY = "certify"  # a certified-course enrollment created completed
    MAINTENANCE = "maintenance"  # a learner enrolled in a maintenance course
    DEADLINE = "deadline"  # a maintenance enrollment's window moved (extension, dates)
    CREATE = "create"  # a course, group, catalog or catalog item created
    UPDATE = "update"  # a course or group changed
    MANUAL = "manual"  # a step a person does in the admin UI


# The order effects are listed in: the dangerous ones first.
EFFECT_ORDER = tuple(Effect)

# "N <noun>" in plans and prompts: (singular, plural).
NOUNS: Mapping[Effect, tuple[str, str]] = {
    Effect.SUSPEND: ("suspension", "suspensions"),
    Effect.REINSTATE: ("reinstatement", "reinstatements"),
    Effect.CERTIFY: ("certification", "certifications"),
    Effect.MAINTENANCE: ("maintenance enrollment", "maintenance enrollments"),
    Effect.DEADLINE: ("maintenance deadline moved", "maintenance deadlines moved"),
    Effect.CREATE: ("to create", "to create"),
    Effect.UPDATE: ("to update", "to update"),
    Effect.MANUAL: ("manual", "manual"),
}


def effect(change: Change) -> Effect:
    """What ``change`` does (see the module docstring)."""
    if change.action is Action.MANUAL:
        return Effect.MANUAL
    write = change.write
    if change.type is ChangeType.ENROLLMENT and isinstance(write, EnrollmentWrite):
        status = write.status if "status" in change.changed else None
        if status is EnrollmentStatus.SUSPENDED:
            return Effect.SUSPEND
        if status is EnrollmentStatus.COMPLETED:
            return Effect.CERTIFY if change.action is Action.CREATE else Effect.REINSTATE
        if change.action is Action.CREATE:
            return Effect.MAINTENANCE
        return Effect.DEADLINE
    if change.type is ChangeType.ENROLLMENT:
        # A change read from a plan saved before writes were typed: its after tells.
        shown = str(change.after.get("status", ""))
        if shown == "suspended":
            return Effect.SUSPEND
        if shown == "completed":
            return Effect.CERTIFY if change.action is Action.CREATE else Effect.REINSTATE
        return Effect.MAINTENANCE if change.action is Action.CREATE else Effect.DEADLINE
    return Effect.CREATE if change.action is Action.CREATE else Effect.UPDATE


def effect_counts(changes: Iterable[Change]) -> dict[str, int]:
    """How many changes there are of each effect, every effect present (JSON summary)."""
    counts = {e.value: 0 for e in EFFECT_ORDER}
    for change in changes:
        counts[effect(change).value] += 1
    return counts


def effects_text(counts: Mapping[str, int]) -> str:
    """``20 suspensions, 94 maintenance enrollments, 1 to update, 3 manual`` (effects with
    none left out); "no changes" when all are zero."""
    parts = []
    for item in EFFECT_ORDER:
        n = counts.get(item.value, 0)
        if n:
            one, many = NOUNS[item]
            parts.append(f"{n} {one if n == 1 else many}")
    return ", ".join(parts) if parts else "no changes"
