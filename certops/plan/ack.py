"""The ack file: manual steps a person has done, kept beside the configuration.

``certops ack ADDRESS...`` records, for each address, the fingerprint of what the step
asked, when, and by whom. ``manual_steps`` leaves out a step whose address is recorded with
the same fingerprint; when what is asked changes (at a rollover, say) the fingerprint
changes and the step shows again. The file is YAML, meant to be committed with the config
and read in review, so it is written with a header comment and in a stable order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from certops.errors import CertopsError
from certops.instants import format_instant as iso_utc
from certops.instants import parse_instant as parse_iso_utc

ACK_FILE_NAME = ".certops-ack.yaml"
ACK_VERSION = 1

HEADER = """\
# certops acknowledgements: manual steps (enrollment rules, notifications) that a person
# has done in the Docebo admin UI, because Docebo has no API for them.
# Written by `certops ack ADDRESS...`; commit it with the configuration.
# A step shows in `certops plan` again when what it asks changes (its fingerprint).
"""


class AckFileError(CertopsError):
    """The ack file cannot be read or is not in the expected shape."""


@dataclass(frozen=True, slots=True)
class Ack:
    address: str
    fingerprint: str
    at: datetime
    actor: str


def ack_path(config_paths: Sequence[str | Path]) -> Path:
    """Where the ack file lives: in the folder of the first configuration path (that
    folder itself when the path is a folder), or the current folder when none is given."""
    if not config_paths:
        return Path(ACK_FILE_NAME)
    first = Path(config_paths[0])
    folder = first if first.is_dir() else first.parent
    return folder / ACK_FILE_NAME


class AckFile:
    """The acknowledgements in one file; ``load`` it, ``record`` acks, then ``save``."""

    def __init__(self, path: Path, acks: dict[str, Ack] | None = None) -> None:
        self.path = Path(path)
        self._acks: dict[str, Ack] = dict(acks or {})

    @classmethod
    def load(cls, path: str | Path) -> AckFile:
        """The ack file at ``path``; an empty one if the file does not exist yet.

        Raises ``AckFileError`` saying what is wrong when the file is not valid YAML or
        not in the expected shape."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise AckFileError(f"{path}: cannot read the ack file: {exc.strerror}") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
            raise AckFileError(f"{where}: the ack file is not valid YAML") from None
        if data is None:
            return cls(path)
        if not isinstance(data, dict):
            raise AckFileError(f"{path}: expected a mapping with 'version' and 'acknowledged'")
        if data.get("version", ACK_VERSION) != ACK_VERSION:
            raise AckFileError(
                f"{path}: version {data.get('version')!r} is not supported (expected {ACK_VERSION})"
            )
        entries = data.get("acknowledged") or {}
        if not isinstance(entries, dict):
            raise AckFileError(f"{path}: 'acknowledged' must map addresses to acknowledgements")
        acks = {}
        for address, entry in entries.items():
            acks[str(address)] = cls._entry(path, str(address), entry)
        return cls(path, acks)

    @staticmethod
    def _entry(path: Path, address: str, entry: object) -> Ack:
        expected = "expected fingerprint, at (ISO 8601 instant) and by"
        if not isinstance(entry, dict):
            raise AckFileError(f"{path}: acknowledged {address!r}: {expected}")
        fingerprint, at, actor = entry.get("fingerprint"), entry.get("at"), entry.get("by")
        if not isinstance(fingerprint, str) or not fingerprint:
            raise AckFileError(f"{path}: acknowledged {address!r}: missing fingerprint; {expected}")
        if isinstance(at, datetime):  # YAML may have parsed an unquoted timestamp
            at = iso_utc(at)
        try:
            when = parse_iso_utc(str(at))
        except ValueError:
            raise AckFileError(
                f"{path}: acknowledged {address!r}: at {at!r} is not an ISO 8601 instant"
            ) from None
        return Ack(address, fingerprint, when, str(actor or ""))

    def acknowledged(self, address: str, fingerprint: str) -> bool:
        """Whether ``address`` was acknowledged for exactly this ``fingerprint``."""
        ack = self._acks.get(address)
        return ack is not None and ack.fingerprint == fingerprint

    def get(self, address: str) -> Ack | None:
        """The acknowledgement recorded for ``address``, if any."""
        return self._acks.get(address)

    @property
    def acks(self) -> tuple[Ack, ...]:
        """Every acknowledgement, in address order."""
        return tuple(self._acks[a] for a in sorted(self._acks))

    def record(self, address: str, fingerprint: str, at: datetime, actor: str) -> None:
        """Record that ``actor`` did the step at ``address`` as asked by ``fingerprint``,
        replacing any earlier acknowledgement of that address."""
        self._acks[address] = Ack(address, fingerprint, at, actor)

    def dumps(self) -> str:
        """The file's text: header comment, then the acknowledgements in address order."""
        body = {
            "version": ACK_VERSION,
            "acknowledged": {
                a.address: {"fingerprint": a.fingerprint, "at": iso_utc(a.at), "by": a.actor}
                for a in self.acks
            },
        }
        return HEADER + str(
            yaml.safe_dump(
                body, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
            )
        )

    def save(self) -> None:
        """Write the file (atomically: a temporary file beside it, then renamed)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text(self.dumps(), encoding="utf-8")
            tmp.replace(self.path)
        except OSError as exc:
            raise AckFileError(f"{self.path}: cannot write the ack file: {exc.strerror}") from None
