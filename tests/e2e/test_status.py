"""``certops status USER`` on the sandbox: state, since, path, owed period, deadline, why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from certops.sandbox import init_sandbox, load_dataset
from tests.e2e.harness import certops

CONFIG = """\
version: 1
products:
  - id: gadget-max
    name: Gadget Max
    group: {name: "Certified: Gadget Max"}
    initial_paths:
      - {name: core, all_of: [GM-101]}
    certified_course: {code: CERT-GM, name: "Certified: Gadget Max"}
    maintenance:
      periods:
        - id: "2026"
          course: {code: MOC-GM-2026, name: "Gadget Max: Maintenance of Certification 2026"}
          opens: 2026-01-01
          due: 2026-12-31
    extensions:
      - {user: jdoe, period: "2026", until: 2027-01-31, reason: "parental leave"}
    revocations:
      - {user: bcole, at: 2026-06-01T00:00:00Z, reason: "misconduct"}
"""

DATA = """\
users:
  - {username: jdoe, email: jane.doe@example.com}
  - {username: bcole, email: bcole@example.com}
  - {username: nobody, email: nobody@example.com}
courses:
  - {code: GM-101, name: Gadget Max 101}
enrollments:
  - {user: jdoe, course: GM-101, status: completed, completed_at: 2025-04-22T16:00:00Z}
  - {user: bcole, course: GM-101, status: completed, completed_at: 2025-05-01T10:00:00Z}
"""


@pytest.fixture(autouse=True)
def lms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("DOCEBO_", "CERTOPS_")):
            monkeypatch.delenv(name)
    (tmp_path / "certops").mkdir()
    (tmp_path / "certops" / "gadget-max.yaml").write_text(CONFIG)
    (tmp_path / "data.yaml").write_text(DATA)
    init_sandbox(tmp_path / "lms.db")
    load_dataset(tmp_path / "lms.db", tmp_path / "data.yaml")
    monkeypatch.setenv("CERTOPS_LMS", f"sandbox:{tmp_path / 'lms.db'}")


def test_status_json_follows_the_contract() -> None:
    run = certops("status", "jdoe", "--format", "json", "--at", "2026-12-01")
    assert run.code == 0, run.stderr
    doc = run.json()
    gm = doc["products"]["gadget-max"]
    assert gm["state"] == "certified"
    assert gm["since"] == "2025-04-22T16:00:00Z"
    assert gm["path"] == "core"
    assert gm["owes"] == "2026"
    assert gm["deadline"] == "2027-01-31"  # the extension, inclusive calendar date (UTC)
    assert gm["extension"] == "parental leave"
    assert [h["state"] for h in gm["history"]] == ["certified"]


def test_status_finds_a_learner_by_email_and_explains_a_lapse() -> None:
    run = certops("status", "jane.doe@example.com", "--format", "json", "--at", "2027-02-01")
    assert run.code == 0, run.stderr
    gm = run.json()["products"]["gadget-max"]
    assert gm["state"] == "suspended"
    assert gm["since"] == "2027-02-01T00:00:00Z"
    assert gm["history"][-1]["reason"] == "did not complete MOC-GM-2026 by 2027-01-31 (UTC)"


def test_status_text_says_revoked_and_why() -> None:
    run = certops("status", "bcole", "--at", "2026-07-01")
    assert run.code == 0, run.stderr
    assert "gadget-max): revoked since 2026-06-01T00:00:00Z" in run.stdout
    assert "revoked: misconduct" in run.stdout


def test_status_of_a_learner_never_certified() -> None:
    run = certops("status", "nobody", "--format", "json")
    assert run.code == 0, run.stderr
    assert run.json()["products"]["gadget-max"]["state"] == "never"


def test_status_of_an_unknown_user_is_an_error() -> None:
    run = certops("status", "ghost")
    assert run.code == 1
    assert "no user 'ghost'" in run.stderr
