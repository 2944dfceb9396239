"""Only what can be read is diffed: unread course settings, write-only visibility checked
once by a person, and the group's deactivated-user exclusion."""

from __future__ import annotations

import dataclasses

from certops.engine.manual import NoAcks
from certops.engine.setup import (
    comparable_fields,
    course_differences,
    desired_setup,
    diff_setup,
    group_differences,
    setup_checks,
)
from certops.plan.model import Action, ChangeType
from tests.engine.test_setup import T_2026, config, live_from


class _Acked:
    """An ack file holding exactly these (address, fingerprint) pairs."""

    def __init__(self, *pairs: tuple[str, str]) -> None:
        self.pairs = set(pairs)

    def acknowledged(self, address: str, fingerprint: str) -> bool:
        return (address, fingerprint) in self.pairs


def test_a_setting_the_lms_does_not_show_is_never_diffed():
    desired = desired_setup(config(), T_2026)
    live = live_from(desired)
    moc = live.courses["MOC-WP-2026"]
    # As a tenant reads it: visibility unknown (None), soft deadline not shown at all.
    unread = dataclasses.replace(
        moc,
        settings=dataclasses.replace(
            moc.settings, visible_only_to_enrolled=None, soft_deadline=True
        ),
        unread=frozenset({"visible_only_to_enrolled", "soft_deadline"}),
    )
    courses = {**live.courses, "MOC-WP-2026": unread}
    assert diff_setup(desired, dataclasses.replace(live, courses=courses)) == []
    want = desired.courses["MOC-WP-2026"]
    assert comparable_fields(want, unread) == want.managed - {
        "visible_only_to_enrolled",
        "soft_deadline",
    }
    # Once the tenant shows the setting, a wrong value is a change like any other.
    shown = dataclasses.replace(unread, unread=frozenset())
    assert set(course_differences(want, shown)) == {"visible_only_to_enrolled", "soft_deadline"}


def test_visibility_is_checked_once_by_a_person_for_each_maintenance_course():
    desired = desired_setup(config(), T_2026)
    checks = setup_checks(desired, NoAcks())
    assert [(c.address, c.action, c.type) for c in checks] == [
        ("course.MOC-WP-2026", Action.MANUAL, ChangeType.COURSE),
        ("course.MOC-WP-2027", Action.MANUAL, ChangeType.COURSE),
    ]
    assert all(c.fingerprint.startswith("sha256:") and c.steps for c in checks)
    assert "Only users enrolled in the course" in checks[0].steps[1]
    # Acknowledged: that check is gone, the other stays.
    acked = _Acked((checks[0].address, checks[0].fingerprint))
    assert [c.address for c in setup_checks(desired, acked)] == ["course.MOC-WP-2027"]


def test_the_group_excludes_deactivated_users():
    desired = desired_setup(config(), T_2026)
    live = live_from(desired)
    group = live.groups["Certified: Widget Pro"]
    want = desired.groups["Certified: Widget Pro"]
    assert want.exclude_deactivated and group_differences(want, group) == []
    including = dataclasses.replace(group, exclude_deactivated=False)
    assert group_differences(want, including) == ["exclude_deactivated"]
    (change,) = diff_setup(
        desired,
        dataclasses.replace(live, groups={"Certified: Widget Pro": including}),
    )
    assert change.address == "group.Certified: Widget Pro" and change.action is Action.UPDATE
    assert change.before == {"exclude_deactivated": False}
    assert change.after == {"exclude_deactivated": True}
