"""The ack file: manual steps a person has done, kept beside the configuration.

``certops ack ADDRESS...`` records, for each address, the fingerprint of what the step
asked, when, and by whom. ``manual_steps`` leaves out a step whose address is recorded with
the same fingerprint; when what is asked changes (at a rollover, say) the fingerprint
changes and the step shows again. The file is YAML, meant to be committed with the config
and read in review, so it is written with a header comment and in a stable order.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from certops.config.yamlpos import PosDict, load_file, locate, locate_key
from certops.errors import CertopsError, ConfigError
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


# An ack file holds a line or two per manual step: a few KB. Far more is not one.
MAX_ACK_BYTES = 10_000_000


def _at(path: Path, root: object, keys: list[str | int] | None = None) -> str:
    """``FILE:LINE:COL`` of the node at ``keys`` (the file itself when unknown)."""
    try:
        where = locate(root, keys or [])
    except (KeyError, IndexError, TypeError):
        return f"{path}:1:1"
    return f"{where.file}:{where.line}:{where.column}"


def _known_keys(path: Path, root: PosDict, keys: list[str | int], allowed: tuple[str, ...]) -> None:
    node: Any = root
    for key in keys:
        node = node[key]
    for key in node:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            where = locate_key(root, [*keys, key])
            raise AckFileError(
                f"{where.file}:{where.line}:{where.column}: unknown key {key!r} in the ack file"
                f"{hint}; expected {', '.join(allowed)}"
            )


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

        Raises ``AckFileError`` at ``FILE:LINE:COL`` saying what is wrong when the file is
        not valid YAML (or nested or sized beyond what an ack file can be), has a key it
        does not know (a misspelt ``acknowledged`` would otherwise bring every step back),
        or is not in the expected shape."""
        path = Path(path)
        if not path.exists():
            return cls(path)
        try:
            data = load_file(str(path), max_bytes=MAX_ACK_BYTES)
        except ConfigError as exc:
            first = exc.problems[0]
            raise AckFileError(
                f"{first.file}:{first.line}:{first.column}: the ack file is not valid YAML, "
                f"or not one certops can read: {first.message}"
            ) from None
        if data is None:
            return cls(path)
        if not isinstance(data, PosDict):
            raise AckFileError(
                f"{_at(path, data)}: expected a mapping with 'version' and 'acknowledged'"
            )
        _known_keys(path, data, [], ("version", "acknowledged"))
        if data.get("version", ACK_VERSION) != ACK_VERSION:
            raise AckFileError(
                f"{_at(path, data, ['version'])}: version {data.get('version')!r} is not "
                f"supported (expected {ACK_VERSION})"
            )
        entries = data.get("acknowledged") or {}
        if not isinstance(entries, PosDict):
            raise AckFileError(
                f"{_at(path, data, ['acknowledged'])}: 'acknowledged' must map addresses to "
                "acknowledgements"
            )
        acks = {}
        for address, entry in entries.items():
            where = _at(path, data, ["acknowledged", address])
            if isinstance(entry, PosDict):
                _known_keys(path, data, ["acknowledged", address], ("fingerprint", "at", "by"))
            acks[str(address)] = cls._entry(where, str(address), entry)
        return cls(path, acks)

    @staticmethod
    def _entry(where: str, address: str, entry: object) -> Ack:
        expected = "expected fingerprint, at (ISO 8601 instant) and by"
        if not isinstance(entry, dict):
            raise AckFileError(f"{where}: acknowledged {address!r}: {expected}")
        fingerprint, at, actor = entry.get("fingerprint"), entry.get("at"), entry.get("by")
        if not isinstance(fingerprint, str) or not fingerprint:
            raise AckFileError(
                f"{where}: acknowledged {address!r}: missing fingerprint; {expected}"
            )
        if isinstance(at, datetime):  # YAML may have parsed an unquoted timestamp
            at = iso_utc(at)
        try:
            when = parse_iso_utc(str(at))
        except (ValueError, OverflowError):
            raise AckFileError(
                f"{where}: acknowledged {address!r}: at {at!r} is not an ISO 8601 instant"
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
