"""Against the sandbox served over HTTP: plan is read-only on the wire, and an apply cut
off at any write converges on the next run with no duplicates."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from certops.lms.paths import path_template
from tests.cli.conftest import FAST, NO_RETRY, LMSState, Served, Workspace

# Writes of a full apply of the small setup: PUT course CERT-W, POST three courses, the
# catalog, its item, two groups, two enrollment batches (one per run: batches span
# courses), and one PUT of enrollments.
WRITES = 11
# Of those, the widget product's alone (every kind of write certops makes, once or twice):
# PUT course, POST course, catalog, catalog item, group, one enrollment batch, PUT
# enrollments. The cut-connection matrix runs on it to stay quick.
WIDGET_WRITES = 7


def writes(calls: list[dict]) -> list[str]:
    return [
        f"{c['method']} {c['path']}"
        for c in calls
        if c["method"] != "GET" and c["path"] != "/oauth2/token"
    ]


def after_first_write(calls: list[dict]) -> list[str]:
    """The calls from the first write on, by endpoint: the writes and their read-backs."""
    shown = [
        f"{c['method']} {path_template(c['path'])}" for c in calls if c["path"] != "/oauth2/token"
    ]
    first = next(i for i, call in enumerate(shown) if not call.startswith("GET "))
    return shown[first:]


# Apply proves every setup write by reading it back: the course detail after a course
# create or update, the audience after a group create, the catalog list and its items
# after a catalog item, and the first created row after an enrollment batch. A catalog
# create and the PUT of enrollments are not read back. Right before each create of a
# course, group or catalog, one narrow read checks that another writer has not made it
# since the plan was read (a search by code or name, or the catalog list).
COURSE_READ = "GET /learn/v1/courses/{id}"
COURSE_CHECK = "GET /learn/v1/courses"
WIDGET_SEQUENCE = [
    "PUT /learn/v1/courses/{id}",  # CERT-W put in shape
    COURSE_READ,
    COURSE_CHECK,
    "POST /learn/v1/courses",  # MOC-W-2026
    COURSE_READ,
    "GET /learn/v1/catalog",
    "POST /learn/v1/catalog/batch",
    "POST /learn/v1/catalog/items/batch",
    "GET /learn/v1/catalog",
    "GET /learn/v1/catalog/{id}",
    "GET /audiences/v1/audience",
    "POST /audiences/v1/audience",
    "GET /audiences/v1/audience/{id}",
    "POST /learn/v1/enrollment/batch",
    "GET /course/v1/courses/enrollments",
    "PUT /learn/v1/enrollments",  # alice's hand-made CERT-W enrollment completed
]
GIZMO_SEQUENCE = [
    "POST /learn/v1/courses",  # CERT-G (its check is the read before the first write)
    COURSE_READ,
    COURSE_CHECK,
    "POST /learn/v1/courses",  # MOC-G-2026
    COURSE_READ,
    "GET /audiences/v1/audience",
    "POST /audiences/v1/audience",
    "GET /audiences/v1/audience/{id}",
    "POST /learn/v1/enrollment/batch",
    "GET /course/v1/courses/enrollments",
]


def assert_true_to_lms(ws: Workspace, state: LMSState, lines: list[dict]) -> None:
    """Every change the audit log calls applied is really in the LMS."""
    for line in lines:
        if line["result"] != "applied":
            continue
        kind, _, rest = line["address"].partition(".")
        if kind == "course":
            assert rest in state.course_codes, line
        elif kind == "group":
            assert rest in state.group_names, line
        elif kind == "catalog":
            assert rest in state.catalog_codes, line
        elif kind == "catalog_item":
            catalog, _, course = rest.partition(".")
            assert (catalog, course) in state.catalog_items, line
        elif kind == "enrollment":
            course, _, user = rest.partition(".")
            assert state.status(course, user) == line["after"]["status"], line


def assert_no_duplicates(state: LMSState) -> None:
    for name, values in (
        ("course", state.course_codes),
        ("group", state.group_names),
        ("catalog", state.catalog_codes),
        ("catalog item", state.catalog_items),
        ("enrollment", [(c, u) for c, u, _ in state.enrollments]),
    ):
        twice = [v for v, n in Counter(values).items() if n > 1]
        assert not twice, f"duplicate {name}: {twice}"


def test_plan_sends_nothing_but_reads(served: Served) -> None:
    ws = served.ws
    served.clear_calls()
    for args in (("plan", "conf"), ("plan", "conf", "--format", "json", "--out", "p.json")):
        ran = ws.run(*args)
        assert ran.code == 0, ran.output
    calls = served.calls()
    assert calls, "the plan reached the served sandbox"
    methods = Counter("POST token" if c["path"] == "/oauth2/token" else c["method"] for c in calls)
    assert set(methods) == {"GET", "POST token"}, calls
    assert methods["POST token"] == 2  # one token per run
    assert all(c["status"] == 200 for c in calls)


def test_status_and_ack_are_read_only_too(served: Served) -> None:
    ws = served.ws
    served.clear_calls()
    assert ws.run("status", "alice", "--config", "conf").code in (0, 1)
    assert ws.run("ack", "--config", "conf", "enrollment_rule.Certified: Widget courses").code == 0
    assert writes(served.calls()) == []


def test_full_apply_write_count(served: Served) -> None:
    ws = served.ws
    served.clear_calls()
    ran = ws.run("apply", "conf", "--yes", "--product", "widget")
    assert ran.code == 0, ran.output
    assert len(writes(served.calls())) == WIDGET_WRITES, writes(served.calls())
    # Each write is followed by exactly its read-back (6 reads for widget's 7 writes), each
    # create after the plan preceded by its check.
    assert after_first_write(served.calls()) == WIDGET_SEQUENCE
    served.clear_calls()
    ran = ws.run("apply", "conf", "--yes")
    assert ran.code == 0, ran.output
    assert len(writes(served.calls())) == WRITES - WIDGET_WRITES, writes(served.calls())
    assert after_first_write(served.calls()) == GIZMO_SEQUENCE  # 4 writes, 4 reads, 2 checks


@pytest.mark.parametrize("mode", ["before", "after"])
@pytest.mark.parametrize("nth", range(1, WIDGET_WRITES + 1))
def test_apply_cut_at_any_write_converges_without_duplicates(
    served: Served, nth: int, mode: str
) -> None:
    ws = served.ws
    served.faults(drop_write={"nth": nth, "mode": mode})
    # Without retries, a write whose answer is lost and that did not land ends the run there.
    ws.retry = NO_RETRY
    first = ws.run("apply", "conf", "--yes", "--product", "widget")
    dropped = [c for c in served.calls() if c["status"] is None]
    assert len(dropped) == 1, "the fault hit exactly one write"
    # Whatever happened, the run says what was and was not done.
    summary = [line for line in first.stdout.splitlines() if line.startswith("Apply: ")]
    assert len(summary) == 1, first.output
    assert "Traceback" not in first.output
    lines = ws.audit()
    applied = sum(1 for line in lines if line["result"] == "applied")
    assert summary[0].startswith(f"Apply: {applied} applied, ")
    if first.code == 1:
        # The changes of the cut write failed (an enrollment batch carries several).
        assert ", 0 failed" not in summary[0], summary[0]
        assert nth == WIDGET_WRITES or "not attempted" in summary[0], summary[0]
        assert "stopped after an LMS error" in first.stderr
        assert "\n  failed: " in first.stderr  # each problem named, with its address
    else:
        # A create whose answer was lost is found by re-reading it: nothing is left undone.
        assert mode == "after" and dropped[0]["method"] == "POST", first.output
    assert_true_to_lms(ws, ws.lms_state(), lines)

    served.faults()
    ws.retry = FAST
    second = ws.run("apply", "conf", "--yes", "--product", "widget")
    assert second.code == 0, second.output
    after = json.loads(ws.run("plan", "conf", "--format", "json", "--product", "widget").stdout)
    # Only widget's manual steps are left: its maintenance course's visibility check and
    # its enrollment rule.
    assert [(c["address"], c["action"]) for c in after["changes"]] == [
        ("course.MOC-W-2026", "manual"),
        ("enrollment_rule.Certified: Widget courses", "manual"),
    ]
    state = ws.lms_state()
    assert_no_duplicates(state)
    assert_true_to_lms(ws, state, ws.audit())
    assert sorted(state.course_codes) == sorted(["W-101", "G-101", "CERT-W", "MOC-W-2026"])
    assert state.catalog_items == [("SF-SYNC", "CERT-W")]
    assert state.group_names == ["Certified: Widget"]
    assert len(state.enrollments) == 8 + 5  # the dataset's, plus the five certops creates


def test_lms_that_stops_answering_is_an_error_not_a_traceback(served: Served) -> None:
    served.faults(error_503_share=1.0)
    ran = served.ws.run("apply", "conf", "--yes")
    assert ran.code == 1
    assert "did not answer" in ran.stderr and "try again later" in ran.stderr
    assert "Traceback" not in ran.output
