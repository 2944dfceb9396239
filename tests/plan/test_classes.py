"""The change classifier's rules one by one, what is read from audit lines, the
configuration digest, and the configuration's git revision."""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from certops.config import load_config
from certops.config.model import Location
from certops.history import AuditReadError, LogLines, applied_record, read_logs
from certops.plan.classes import (
    AppliedRecord,
    LastApply,
    change_key,
    classify,
    classify_change,
    config_digest,
)
from certops.plan.model import (
    Action,
    Change,
    ChangeClass,
    ChangeType,
    Target,
    TargetKind,
)
from certops.records import CourseSettings
from certops.revision import config_revision
from tests.changes import course_update
from tests.plan.plan_samples import enrollment, new_enrollment

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
T0 = datetime(2026, 12, 1, tzinfo=UTC)
T1 = datetime(2027, 1, 2, tzinfo=UTC)

COURSE = course_update(
    "MOC-WP-2026", CourseSettings(name="MoC 2026", soft_deadline=False), {"soft_deadline": True}
)
RULE = Change(
    target=Target(TargetKind.ENROLLMENT_RULE, name="Certified: Widget Pro courses"),
    type=ChangeType.ENROLLMENT_RULE,
    action=Action.MANUAL,
    product="widget-pro",
    fingerprint="sha256:abc",
)
SUSPEND = enrollment("CERT-WP", "jdoe", "completed", "suspended")


def test_a_value_certops_wrote_and_someone_changed_is_drift() -> None:
    written = {"soft_deadline": False}
    for earlier in (None, frozenset(), frozenset({change_key(COURSE)})):
        got = classify_change(COURSE, written=written, earlier=earlier, config_unchanged=False)
        assert got is ChangeClass.DRIFT  # rule 1 comes first, whatever else holds


def test_without_an_earlier_apply_never_drift() -> None:
    def cls(change: Change) -> ChangeClass:
        return classify_change(change, written=None, earlier=None, config_unchanged=True)

    assert cls(COURSE) is ChangeClass.CONFIG
    assert cls(SUSPEND) is ChangeClass.SCHEDULE
    assert cls(new_enrollment("MOC-WP-2027", "asmith")) is ChangeClass.SCHEDULE
    assert cls(RULE) is ChangeClass.SCHEDULE
    visibility = dataclasses.replace(
        RULE, target=Target(TargetKind.COURSE_CHECK, course="MOC-WP-2027"), type=ChangeType.COURSE
    )
    assert cls(visibility) is ChangeClass.CONFIG


def test_not_due_at_the_last_apply_is_schedule() -> None:
    got = classify_change(SUSPEND, written=None, earlier=frozenset(), config_unchanged=True)
    assert got is ChangeClass.SCHEDULE
    # Another fingerprint (e.g. the next period) is another change.
    asked = frozenset({change_key(dataclasses.replace(RULE, fingerprint="sha256:old"))})
    assert classify_change(RULE, written=None, earlier=asked, config_unchanged=True) is (
        ChangeClass.SCHEDULE
    )


def test_already_due_is_drift_when_the_config_did_not_change_else_config() -> None:
    earlier = frozenset({change_key(SUSPEND), change_key(RULE), change_key(COURSE)})
    for change in (SUSPEND, COURSE):
        same = classify_change(change, written=None, earlier=earlier, config_unchanged=True)
        edited = classify_change(change, written=None, earlier=earlier, config_unchanged=False)
        assert (same, edited) == (ChangeClass.DRIFT, ChangeClass.CONFIG)
    # A manual step still waiting for a person is not drift.
    pending = classify_change(RULE, written=None, earlier=earlier, config_unchanged=True)
    assert pending is ChangeClass.CONFIG


def test_classify_plans_once_per_last_apply_instant() -> None:
    config = load_config([str(EXAMPLES)])
    digest = config_digest(config, "widget-pro")
    record = AppliedRecord(last={"widget-pro": LastApply(T0, digest)})
    asked: list[datetime] = []

    def changes_at(instant: datetime) -> list[Change]:
        asked.append(instant)
        return [COURSE]

    out = classify([COURSE, SUSPEND, RULE], config, record, changes_at)
    assert [c.change_class for c in out] == [
        ChangeClass.DRIFT,  # due at T0 too, config unchanged
        ChangeClass.SCHEDULE,
        ChangeClass.SCHEDULE,
    ]
    assert asked == [T0]
    assert classify([COURSE], config, None, changes_at)[0].change_class is ChangeClass.CONFIG


def test_config_digest_ignores_where_the_product_sits() -> None:
    config = load_config([str(EXAMPLES)])
    product = config.product("widget-pro")
    assert product is not None
    moved = dataclasses.replace(product, location=Location("elsewhere.yaml", 99, 1))
    renamed = dataclasses.replace(product, name="Widget Pro 2")
    digest = config_digest(config, "widget-pro")
    with_moved = dataclasses.replace(config, products=(moved, *config.products[1:]))
    with_renamed = dataclasses.replace(config, products=(renamed, *config.products[1:]))
    assert config_digest(with_moved, "widget-pro") == digest
    assert config_digest(with_renamed, "widget-pro") != digest
    assert config_digest(config, None) != digest  # shared objects: the settings alone


def line(at: str | None, address: str, after: dict, result: str = "applied", **extra) -> str:
    entry = {"address": address, "after": after, "result": result, "time": "2026-12-02T10:00:00Z"}
    if at:
        entry["at"] = at
    return json.dumps({**entry, "product": "widget-pro", **extra})


def test_applied_record_merges_logs_by_instant(tmp_path: Path) -> None:
    later = tmp_path / "b.jsonl"
    earlier = tmp_path / "a.jsonl"
    course = "course.MOC-WP-2026"
    later.write_text(
        line("2027-01-02T00:00:00Z", course, {"name": "B"}, config={"digest": "d2"})
        + "\n"
        + line("2027-01-02T00:00:00Z", course, {"name": "failed"}, result="failed")
        + "\n",
        encoding="utf-8",
    )
    earlier.write_text(
        line("2026-12-01T00:00:00Z", course, {"name": "A", "soft_deadline": False})
        + "\nnot json\n"
        + line(None, course, {"name": "old certops, no instant"})
        + "\n",
        encoding="utf-8",
    )
    logs = read_logs([later, earlier])
    assert logs.skipped == 1
    record = applied_record(logs)
    # Later instants win whatever the order of the files; failed writes wrote nothing.
    assert record.written[course] == {"name": "B", "soft_deadline": False}
    assert record.last["widget-pro"] == LastApply(T1, "d2")
    assert record.last_for(None) == LastApply(T1, "d2")


def test_listen_writes_count_as_written_but_not_as_an_apply(tmp_path: Path) -> None:
    """listen reconciles one learner: a plan at its instant would hold every other
    learner's changes, which it never made, so it must not be taken for the last apply
    (the rollover's suspensions after it would read as drift)."""
    log = tmp_path / "audit.jsonl"
    enrollment = "enrollment.MOC-WP-2027.jdoe"
    log.write_text(
        line("2026-12-01T00:00:00Z", "course.MOC-WP-2026", {"name": "A"}, config={"digest": "d1"})
        + "\n"
        + line("2027-01-03T09:00:00Z", enrollment, {"status": "enrolled"}, plan_digest="listen")
        + "\n",
        encoding="utf-8",
    )
    record = applied_record(read_logs([log]))
    assert record.written[enrollment] == {"status": "enrolled"}
    assert record.last["widget-pro"] == LastApply(T0, "d1")


def test_what_certops_did_to_another_lms_does_not_count(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    course = "course.MOC-WP-2026"
    log.write_text(
        line("2026-12-01T00:00:00Z", course, {"name": "tenant"}, lms="https://a.example")
        + "\n"
        + line("2027-01-02T00:00:00Z", course, {"name": "rehearsal"}, lms="sandbox:x.db")
        + "\n",
        encoding="utf-8",
    )
    record = applied_record(read_logs([log]), same_lms=lambda lms: lms == "https://a.example")
    assert record.written[course] == {"name": "tenant"}
    assert record.last["widget-pro"].at == T0


def test_config_revision_of_a_git_work_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf.yaml"
    conf.write_text("version: 1\n", encoding="utf-8")
    assert config_revision([str(conf)]).to_dict() == {"commit": None, "dirty": None}

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(tmp_path), *args], capture_output=True, text=True)
        return done.stdout.strip()

    git("init", "-q")
    git("add", "conf.yaml")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "c")
    (tmp_path / "unrelated.txt").write_text("x", encoding="utf-8")
    clean = config_revision([str(conf)])
    assert clean.commit == git("rev-parse", "HEAD") and clean.dirty is False
    conf.write_text("version: 1\nproducts: []\n", encoding="utf-8")
    assert config_revision([str(conf)]).dirty is True
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    assert config_revision([str(conf)]).to_dict() == {"commit": None, "dirty": None}


def _sorted_record(lines: list[dict]) -> dict[str, dict]:
    """What certops last wrote to each address, by the plain definition: every successful
    write with an instant, applied in (at, wall time, line) order."""
    writes = [
        (entry["at"], str(entry.get("time", "")), index, entry)
        for index, entry in enumerate(lines)
        if isinstance(entry.get("at"), str)
        and entry.get("result") in ("applied", "done")
        and isinstance(entry.get("after"), dict)
    ]
    written: dict[str, dict] = {}
    for *_, entry in sorted(writes, key=lambda w: w[:3]):
        written.setdefault(entry["address"], {}).update(entry["after"])
    return written


def test_the_record_read_line_by_line_is_the_plain_definition(tmp_path: Path) -> None:
    rng = random.Random(7)
    files = [tmp_path / f"{name}.jsonl" for name in "abc"]
    every: list[dict] = []
    for file in files:
        lines = []
        for _ in range(300):
            entry = {
                "address": f"enrollment.C{rng.randint(1, 3)}.u{rng.randint(1, 20)}",
                "at": rng.choice(["2026-12-01T00:00:00Z", "2027-01-08T00:00:00Z", None]),
                "time": rng.choice(["2026-12-02T10:00:00Z", "2026-12-02T10:00:01Z"]),
                "result": rng.choice(["applied", "done", "failed"]),
                "after": {rng.choice(["status", "valid_until"]): rng.randint(0, 9)},
                "product": "widget-pro",
            }
            if entry["at"] is None:
                del entry["at"]
            lines.append(entry)
        file.write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
        every += lines
    streamed = applied_record(LogLines(files))
    assert streamed.written == _sorted_record(every)
    assert streamed == applied_record(read_logs(files))


def test_log_lines_skip_what_is_not_an_object_and_refuse_what_is_not_utf8(
    tmp_path: Path,
) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_bytes(
        b'{"address": "course.X", "at": "2027-01-02T00:00:00Z", "after": {"n": NaN}}\n'
        b"[1, 2]\n\n{cut short\n"
        b'{"no_address": 1}\n'
    )
    reader = LogLines([log, tmp_path / "missing.jsonl"], missing_ok=True)
    lines = list(reader)
    assert [e["address"] for e in lines] == ["course.X"]  # NaN: the standard reader's
    assert reader.skipped == 3
    with pytest.raises(AuditReadError, match="no audit log at"):
        list(LogLines([tmp_path / "missing.jsonl"]))
    log.write_bytes(b'{"address": "course.\xff"}\n')
    with pytest.raises(AuditReadError, match="cannot read the audit log"):
        list(LogLines([log]))
