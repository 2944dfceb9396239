"""``certops doctor --write-probe``: prove, on one probe course, which fields a tenant keeps.

The public record of Docebo's API does not document every field certops writes, and a
tenant answers success while silently ignoring a field it does not know. The probe writes
every course setting certops manages to one unpublished course, ``CERTOPS-PROBE``
(created on the first run, reused afterwards, never deleted, never published), enrolls the
API user in it with a validity window, reads everything back and reports field by field
what the tenant honoured. Each run writes values different from the last run's, so a
field that merely kept an old value is not mistaken for one that took the new one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from certops.engine.compare import course_differences
from certops.engine.desired import MAINTENANCE_FIELDS, CourseRole, DesiredCourse
from certops.errors import LMSError
from certops.lms.api import EnrollmentUpdate, LMSWriter, NewEnrollment
from certops.lms.doctor import Check, Outcome
from certops.lms.records import CourseSettings, EnrollmentPolicy, EnrollmentStatus
from certops.lms.wire import (
    COURSE_FIELD_WIRE_NAMES,
    UPDATE_ID_NAMES,
    format_end_instant,
    format_instant,
)
from certops.readback import shown

PROBE_CODE = "CERTOPS-PROBE"

# Two sets of values; each run writes the set the course does not hold yet.
_WINDOWS = (
    (datetime(2030, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC)),
    (datetime(2032, 2, 1, tzinfo=UTC), datetime(2033, 3, 1, tzinfo=UTC)),
)


def _settings(variant: int) -> CourseSettings:
    begin, end = _WINDOWS[variant]
    return CourseSettings(
        name="certops write probe",
        description=(
            "Created by 'certops doctor --write-probe' to check which course fields this "
            f"tenant keeps (variant {variant + 1}). Unpublished; safe to leave."
        ),
        published=False,
        self_unenrollment=bool(variant),
        enrollment_policy=(EnrollmentPolicy.ADMIN_ONLY, EnrollmentPolicy.MODERATED)[variant],
        date_begin=begin,
        date_end=end,
        soft_deadline=bool(variant),
        visible_only_to_enrolled=not variant,
    )


def _desired(settings: CourseSettings) -> DesiredCourse:
    return DesiredCourse(
        code=PROBE_CODE,
        product="",
        role=CourseRole.MAINTENANCE,
        settings=settings,
        managed=MAINTENANCE_FIELDS,
    )


def _wire(name: str) -> str:
    return COURSE_FIELD_WIRE_NAMES.get(name, name)


async def write_probe(writer: LMSWriter) -> list[Check]:
    """Write every managed course field and an enrollment window to the probe course, read
    them back, and return one check per field (ok: honoured; FAIL: ignored, with what was
    sent and what reads back; warn: the tenant does not show it, check it by hand)."""
    checks: list[Check] = []
    existing = (await writer.find_courses([PROBE_CODE])).get(PROBE_CODE)
    variant = 0
    if existing is not None and existing.settings.date_begin == _WINDOWS[0][0]:
        variant = 1
    settings = _settings(variant)
    desired = _desired(settings)
    try:
        if existing is None:
            course = await writer.create_course(PROBE_CODE, settings)
            course_id, what = course.id, f"created {PROBE_CODE}"
        else:
            course_id, what = existing.id, f"updated {PROBE_CODE}"
            await writer.update_course(course_id, settings, MAINTENANCE_FIELDS)
        live = await writer.get_course(course_id)
    except LMSError as exc:
        return [Check(f"probe course {PROBE_CODE}", Outcome.FAIL, str(exc))]
    checks.append(Check(f"probe course {PROBE_CODE}", Outcome.OK, f"{what} (id {course_id})"))

    differences = course_differences(desired, live)
    for name in sorted(MAINTENANCE_FIELDS):
        label = f"probe: course field {_wire(name)}"
        if name in live.unread:
            checks.append(
                Check(label, Outcome.WARN, "sent, but the tenant does not show it: check by hand")
            )
        elif name in differences:
            have, want = differences[name]
            checks.append(
                Check(label, Outcome.FAIL, f"ignored: sent {shown(want)}, reads back {shown(have)}")
            )
        else:
            checks.append(Check(label, Outcome.OK, "honoured"))

    checks.extend(await _enrollment_checks(writer, course_id, settings))
    checks.extend(await _update_id_checks(writer, course_id, settings))
    return checks


async def _enrollment_checks(
    writer: LMSWriter, course_id: int, settings: CourseSettings
) -> list[Check]:
    """Enroll the API user in the probe (or move its window), read back the window."""
    begin, end = settings.date_begin, settings.date_end
    assert begin is not None and end is not None
    try:
        me = await writer.current_user()
        found = await writer.list_enrollments([course_id], [me.id])
        if found:
            rows = await writer.update_enrollments(
                EnrollmentUpdate(course_id, (me.id,), valid_from=begin, valid_until=end)
            )
            sent = {"date_begin_validity": begin, "date_expire_validity": end}
        else:
            rows = await writer.enroll(
                [NewEnrollment(me.id, course_id, EnrollmentStatus.ENROLLED, None, begin, end)]
            )
            sent = {"active_from": begin, "active_until": end}
        if not all(row.ok for row in rows):
            message = "; ".join(row.message for row in rows if not row.ok)
            return [Check("probe: enrollment of the API user", Outcome.FAIL, message)]
        back = await writer.list_enrollments([course_id], [me.id])
    except LMSError as exc:
        return [Check("probe: enrollment of the API user", Outcome.FAIL, str(exc))]
    live = back[0] if back else None
    checks = [Check("probe: enrollment of the API user", Outcome.OK, f"user {me.username}")]
    (begin_name, want_begin), (end_name, want_end) = sent.items()
    for name, want, have, form in (
        (begin_name, want_begin, live.valid_from if live else None, format_instant),
        (end_name, want_end, live.valid_until if live else None, format_end_instant),
    ):
        label = f"probe: enrollment field {name}"
        if have == want:
            checks.append(Check(label, Outcome.OK, "honoured"))
        else:
            got = form(have) if have else "nothing"
            checks.append(
                Check(label, Outcome.FAIL, f"ignored: sent {form(want)}, reads back {got}")
            )
    return checks


_EITHER = " (certops sends both names; the other one is enough)"


async def _update_id_checks(
    writer: LMSWriter, course_id: int, settings: CourseSettings
) -> list[Check]:
    """Which names of the multi-update's id arrays the tenant honours: one update per pair
    of names, alone, each moving the API user's validity end to a day of its own, read
    back. certops sends both pairs, so one honoured pair is enough."""
    end = settings.date_end
    assert end is not None
    honoured: list[bool] = []
    checks: list[Check] = []
    for days, names in enumerate(UPDATE_ID_NAMES, start=1):
        label = f"probe: multi-update ids {'/'.join(names)}"
        want = end + timedelta(days=days)
        try:
            me = await writer.current_user()
            await writer.update_enrollments(
                EnrollmentUpdate(course_id, (me.id,), valid_until=want), id_names=(names,)
            )
            back = await writer.list_enrollments([course_id], [me.id])
        except LMSError as exc:
            honoured.append(False)
            checks.append(Check(label, Outcome.WARN, f"refused: {exc}{_EITHER}"))
            continue
        have = back[0].valid_until if back else None
        honoured.append(have == want)
        if have == want:
            checks.append(Check(label, Outcome.OK, "honoured"))
        else:
            got = format_end_instant(have) if have else "nothing"
            checks.append(
                Check(
                    label,
                    Outcome.WARN,
                    f"ignored: sent {format_end_instant(want)}, reads back {got}{_EITHER}",
                )
            )
    if not any(honoured):
        checks.append(
            Check(
                "probe: multi-update",
                Outcome.FAIL,
                "the tenant ignored the id arrays under every name the record shows: "
                "certops cannot update enrollments here (docs/wire.md, PUT /learn/v1/enrollments)",
            )
        )
    return checks


__all__ = ["PROBE_CODE", "write_probe"]
