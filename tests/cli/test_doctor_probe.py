"""``certops doctor --write-probe`` on the sandbox: every course field certops manages and
the enrollment window are written to CERTOPS-PROBE and reported as honoured (visibility,
which the API cannot show, as a warning); a tenant that drops a field gets it named."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from certops.address import parse_address
from certops.connection import connect_reader
from certops.lms.records import Course
from certops.sandbox.transport import sandbox_credentials
from tests.cli.conftest import FAST, Served, Workspace

# The course fields certops manages, as they are sent on the wire.
HONOURED = [
    "course_date_start",
    "course_date_end",
    "description",
    "enrollment_policy",
    "name",
    "status",
    "self_unenrollment_settings.allow_self_unenrollment_from_course",
    "soft_deadline",
]


def probe_lines(ran_stdout: str) -> list[str]:
    return [line for line in ran_stdout.splitlines() if "probe" in line]


def probe_course(ws: Workspace, lms: str | None = None) -> tuple[int, Course]:
    """How many CERTOPS-PROBE courses exist, and the probe course as read back."""

    async def read() -> tuple[int, Course]:
        credentials = sandbox_credentials(str(ws.db))
        address = parse_address(lms or ws.lms)
        async with connect_reader(address, retry=FAST, credentials=credentials) as reader:
            found = [c for c in await reader.list_courses() if c.code == "CERTOPS-PROBE"]
            return len(found), await reader.get_course(found[0].id)

    return asyncio.run(read())


def assert_all_honoured(lines: list[str], window: tuple[str, str]) -> None:
    for field in HONOURED:
        assert f"ok      probe: course field {field}: honoured" in lines, (field, lines)
    assert (
        "warn    probe: course field visibility: sent, but the tenant does not show it: "
        "check by hand" in lines
    ), lines
    assert "ok      probe: enrollment of the API user: user admin" in lines
    for field in window:
        assert f"ok      probe: enrollment field {field}: honoured" in lines, (field, lines)
    for names in ("user_id/course_id", "user_ids/course_ids"):
        assert f"ok      probe: multi-update ids {names}: honoured" in lines, (names, lines)
    assert not [line for line in lines if line.startswith("FAIL")], lines


def test_write_probe_reports_every_field_honoured_and_reuses_the_course(ws: Workspace) -> None:
    first = ws.run("doctor", "--write-probe")
    assert first.code == 0, first.output
    lines = probe_lines(first.stdout)
    created = [line for line in lines if "probe course CERTOPS-PROBE: created" in line]
    assert len(created) == 1, lines
    # 1 course line + 8 honoured fields + visibility + the enrollment + its 2 window fields
    # + the multi-update's two names for its id arrays.
    assert len(lines) == 1 + len(HONOURED) + 1 + 1 + 2 + 2, lines
    assert_all_honoured(lines, ("active_from", "active_until"))
    assert "certops can work with this LMS." in first.stderr
    count, course = probe_course(ws)
    assert count == 1 and course.settings.published is False  # never published
    assert course.settings.date_begin == datetime(2030, 1, 1, tzinfo=UTC)
    # The second run reuses the course and writes the other values, so a field that merely
    # kept the old value cannot pass; the API user is enrolled already, so its window is
    # moved by the multi-update.
    second = ws.run("doctor", "--write-probe")
    assert second.code == 0, second.output
    lines = probe_lines(second.stdout)
    course_id = created[0].rsplit("(id ", 1)[1].rstrip(")")
    assert f"ok      probe course CERTOPS-PROBE: updated CERTOPS-PROBE (id {course_id})" in lines
    assert_all_honoured(lines, ("date_begin_validity", "date_expire_validity"))
    count, course = probe_course(ws)
    assert count == 1 and str(course.id) == course_id and course.settings.published is False
    assert course.settings.date_begin == datetime(2032, 2, 1, tzinfo=UTC)
    assert "variant 2" in course.settings.description


def test_write_probe_names_a_field_the_tenant_drops(served: Served) -> None:
    ws = served.ws
    served.admin("PUT", "settings", {"lenient": True})
    served.faults(drop_fields=["course_date_end"])
    ran = ws.run("doctor", "--write-probe")
    assert ran.code == 1, ran.output
    lines = probe_lines(ran.stdout)
    failed = [line for line in lines if line.startswith("FAIL")]
    assert len(failed) == 1, lines
    # The first variant's end (2031-01-01), worded as apply's read-back words it.
    assert failed == [
        "FAIL    probe: course field course_date_end: ignored: sent 2031-01-01 00:00:00, "
        "reads back nothing"
    ]
    assert "1 check(s) failed." in ran.stderr
    # Every other field is still reported as honoured.
    for field in HONOURED:
        if field != "course_date_end":
            assert f"ok      probe: course field {field}: honoured" in lines, (field, lines)
    count, course = probe_course(ws, served.url)
    assert count == 1 and course.settings.date_end is None
    # Without --write-probe, doctor writes nothing.
    served.clear_calls()
    assert ws.run("doctor").code == 0
    writes = [c for c in served.calls() if c["method"] != "GET" and c["path"] != "/oauth2/token"]
    assert writes == []


def test_write_probe_tells_which_names_of_the_update_ids_a_tenant_honours(
    served: Served,
) -> None:
    ws = served.ws
    served.admin("PUT", "settings", {"lenient": True})
    assert ws.run("doctor", "--write-probe").code == 0  # enrolls the API user
    # A tenant that knows only the schema's names: certops sends both, so it still works.
    served.faults(drop_fields=["user_ids", "course_ids"])
    ran = ws.run("doctor", "--write-probe")
    assert ran.code == 0, ran.output
    lines = probe_lines(ran.stdout)
    assert "ok      probe: multi-update ids user_id/course_id: honoured" in lines, lines
    [ignored] = [line for line in lines if "multi-update ids user_ids/course_ids" in line]
    assert ignored.startswith("warn") and "the other one is enough" in ignored
    # One that knows neither: no update can work there, and doctor says so.
    served.faults(drop_fields=["user_ids", "course_ids", "user_id", "course_id"])
    ran = ws.run("doctor", "--write-probe")
    assert ran.code == 1, ran.output
    failed = [line for line in probe_lines(ran.stdout) if line.startswith("FAIL")]
    assert any(line.startswith("FAIL    probe: multi-update:") for line in failed), failed
