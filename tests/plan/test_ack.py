"""The ack file beside the configuration."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from certops.plan.ack import ACK_FILE_NAME, AckFile, AckFileError, ack_path

AT = datetime(2027, 1, 2, 9, 30, tzinfo=UTC)
RULE = "enrollment_rule.Certified: Widget Pro courses"


def test_missing_file_is_empty(tmp_path: Path) -> None:
    acks = AckFile.load(tmp_path / ACK_FILE_NAME)
    assert acks.acks == ()
    assert not acks.acknowledged(RULE, "sha256:1")


def test_record_save_load(tmp_path: Path) -> None:
    path = tmp_path / ACK_FILE_NAME
    acks = AckFile.load(path)
    acks.record("notification.Zeta", "sha256:2", AT, "asmith")
    acks.record(RULE, "sha256:1", AT, "jdoe")
    acks.save()

    text = path.read_text()
    assert text.startswith("# certops acknowledgements")
    assert text.index(RULE) < text.index("notification.Zeta")  # deterministic order
    assert yaml.safe_load(text)["acknowledged"][RULE] == {
        "fingerprint": "sha256:1",
        "at": "2027-01-02T09:30:00Z",
        "by": "jdoe",
    }
    again = AckFile.load(path)
    assert again.acknowledged(RULE, "sha256:1")
    assert not again.acknowledged(RULE, "sha256:other")
    assert again.get(RULE).actor == "jdoe" and again.get(RULE).at == AT
    # Saving what was loaded changes nothing (reviewable diffs).
    again.save()
    assert path.read_text() == text


def test_record_replaces_an_older_fingerprint(tmp_path: Path) -> None:
    acks = AckFile(tmp_path / ACK_FILE_NAME)
    acks.record(RULE, "sha256:old", AT, "jdoe")
    acks.record(RULE, "sha256:new", AT, "jdoe")
    assert [a.fingerprint for a in acks.acks] == ["sha256:new"]


def test_ack_path_is_beside_the_first_config(tmp_path: Path) -> None:
    (tmp_path / "certops").mkdir()
    config = tmp_path / "certops" / "widget.yaml"
    config.write_text("version: 1\n")
    assert ack_path([config, tmp_path / "other.yaml"]) == tmp_path / "certops" / ACK_FILE_NAME
    assert ack_path([tmp_path / "certops"]) == tmp_path / "certops" / ACK_FILE_NAME
    assert ack_path([]) == Path(ACK_FILE_NAME)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("acknowledged: [\n", "not valid YAML"),
        ("- 1\n", "expected a mapping"),
        ("version: 9\n", "version 9 is not supported"),
        ("acknowledged: [a, b]\n", "must map addresses"),
        ("acknowledged:\n  x: 3\n", "expected fingerprint, at"),
        ("acknowledged:\n  x: {at: 2027-01-01T00:00:00Z, by: a}\n", "missing fingerprint"),
        ("acknowledged:\n  x: {fingerprint: f, at: soon, by: a}\n", "not an ISO 8601 instant"),
        # A misspelt key would bring every acknowledged step back: a located error.
        (
            "version: 1\nacknowleged:\n  x: {fingerprint: f, at: 2027-01-01T00:00:00Z}\n",
            r":2:1: unknown key 'acknowleged' in the ack file \(did you mean 'acknowledged'\?\)",
        ),
        (
            "acknowledged:\n  x: {fingerprint: f, at: 2027-01-01T00:00:00Z, bye: a}\n",
            r":2:49: unknown key 'bye' in the ack file \(did you mean 'by'\?\)",
        ),
        ("acknowledged: " + "[" * 1000 + "]" * 1000 + "\n", r":1:\d+: .*nesting is deeper"),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / ACK_FILE_NAME
    path.write_text(text)
    with pytest.raises(AckFileError, match=message):
        AckFile.load(path)


def test_unquoted_timestamps_written_by_hand_are_read(tmp_path: Path) -> None:
    path = tmp_path / ACK_FILE_NAME
    path.write_text(f"acknowledged:\n  {RULE!r}: {{fingerprint: f, at: 2027-01-02 09:30:00Z}}\n")
    assert AckFile.load(path).get(RULE).at == AT
