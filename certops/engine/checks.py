"""Manual checks of what certops sets on a new course but cannot read back.

Docebo's course views do not show a course's visibility, so certops sets it when it
creates a maintenance course and then asks a person, once, to confirm it: a ``manual``
change per course, shown until acknowledged (``certops ack``). Computed from the
configuration alone, so ``certops ack`` needs no LMS.

Pure: no clock reads, no I/O.
"""

from __future__ import annotations

from certops.engine.desired import DesiredSetup
from certops.engine.manual import Acknowledgements, fingerprint
from certops.plan.model import Action, Change, ChangeType, Target, TargetKind

# Settings certops sends when it creates a course but cannot read back on a tenant (Docebo's
# course views do not show visibility): never diffed while unreadable; a manual check asks
# a person once to confirm them (``setup_checks``).
WRITE_ONLY_FIELDS = frozenset({"visible_only_to_enrolled"})


def setup_checks(desired: DesiredSetup, acks: Acknowledgements) -> list[Change]:
    """Manual checks of the settings certops sets on a new course but cannot read back
    (``WRITE_ONLY_FIELDS``: a maintenance course visible only to its enrolled learners).

    Computed from the configuration alone (``certops ack`` needs no LMS), one per course,
    shown until acknowledged: nothing is diffed forever, and nobody has to take certops'
    word for a setting the API cannot show."""
    changes = []
    for code in sorted(desired.courses):
        course = desired.courses[code]
        if course.settings.visible_only_to_enrolled is None:
            continue
        target = Target(TargetKind.COURSE_CHECK, course=code)
        address = target.address  # the course's own: the ack file keys checks by it
        asked = {
            "course": code,
            "visible_only_to_enrolled": course.settings.visible_only_to_enrolled,
        }
        mark = fingerprint(asked)
        if acks.acknowledged(address, mark):
            continue
        who = (
            "Only users enrolled in the course"
            if course.settings.visible_only_to_enrolled
            else "Everyone"
        )
        changes.append(
            Change(
                target=target,
                type=ChangeType.COURSE,
                action=Action.MANUAL,
                product=course.product,
                asked={"visible_only_to_enrolled": course.settings.visible_only_to_enrolled},
                reason=(
                    "Docebo's API does not show a course's visibility, so certops sets it when "
                    "it creates the course but cannot verify it: check it once"
                ),
                steps=(
                    f"Admin Menu > Course Management > open {code} ({course.settings.name})",
                    f"Properties > Catalog options/visibility: check it is set to '{who}'",
                    f"Then record it: certops ack {address}",
                ),
                fingerprint=mark,
            )
        )
    return changes
