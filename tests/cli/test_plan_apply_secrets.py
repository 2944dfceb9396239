"""Known secrets in the ``DOCEBO_*`` variables never reach any output or file certops writes."""

from __future__ import annotations

import json

from certops.sandbox import SandboxCredentials, init_sandbox
from tests.cli.conftest import DATASET, Ran, Workspace

CLIENT_SECRET = "cs-Zx81Kq-never-print-me"
PASSWORD = "pw-Pw93Lm-never-print-me"
WRONG_SECRET = "cs-wrong-Yt55-never-print-me"
SECRETS = (CLIENT_SECRET, PASSWORD, WRONG_SECRET)


def test_no_command_shows_a_secret(ws: Workspace) -> None:
    init_sandbox(
        ws.db,
        credentials=SandboxCredentials("ci-client", CLIENT_SECRET, "api-admin", PASSWORD),
        overwrite=True,
    )
    ws.load(DATASET)
    ws.env.update(
        DOCEBO_CLIENT_ID="ci-client",
        DOCEBO_CLIENT_SECRET=CLIENT_SECRET,
        DOCEBO_USERNAME="api-admin",
        DOCEBO_PASSWORD=PASSWORD,
    )
    runs: list[Ran] = [
        ws.run("validate", "conf"),
        ws.run("doctor"),
        ws.run("plan", "conf"),
        ws.run("plan", "conf", "--format", "json"),
        ws.run("plan", "conf", "--format", "markdown"),
        ws.run("plan", "conf", "--out", "saved.json"),
        ws.run("apply", "conf"),  # refused: no terminal, no --yes
        ws.run("apply", "--plan", "saved.json", "conf", "--yes"),
        ws.run("plan", "conf", "--out", "after.json", "--at", "2027-01-02"),
        ws.run("apply", "conf", "--yes", "--at", "2027-01-02"),  # safety limit
        ws.run("apply", "conf", "--yes", "--force", "--at", "2027-01-02"),
        ws.run("ack", "--config", "conf", "enrollment_rule.Certified: Widget courses"),
        ws.run("status", "alice", "--config", "conf"),
        ws.run("status", "bob", "--config", "conf", "--format", "json"),
        # Wrong credentials: the error names the variables, never their values.
        ws.run("plan", "conf", DOCEBO_CLIENT_SECRET=WRONG_SECRET),
        ws.run("apply", "conf", "--yes", DOCEBO_PASSWORD=WRONG_SECRET),
        ws.run("doctor", DOCEBO_CLIENT_SECRET=WRONG_SECRET),
    ]
    # Each run did its job (refusals and the safety stop included), so output was produced.
    assert [r.code for r in runs] == [0, 0, 0, 0, 0, 0, 1, 0, 3, 3, 0, 0, 0, 0, 1, 1, 1]
    assert "DOCEBO_CLIENT_SECRET" in runs[-3].stderr
    for ran in runs:
        assert "Traceback" not in ran.output
        for secret in SECRETS:
            assert secret not in ran.output, ran.output
    written = [
        ws.root / "saved.json",
        ws.root / "after.json",
        ws.root / ".certops" / "audit.jsonl",
        ws.conf / ".certops-ack.yaml",
    ]
    for file in written:
        text = file.read_text(encoding="utf-8")
        assert text.strip(), file
        for secret in SECRETS:
            assert secret not in text, file
    assert json.loads((ws.root / "saved.json").read_text())["lms"] == "sandbox:.certops/sandbox.db"
