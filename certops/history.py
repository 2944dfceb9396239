"""The audit trail: what each audit log line says beyond the change itself, reading one or
several logs back, and the two things read from them: what certops last did (for change
classes) and what it did to one learner (``certops history``).

A line of the audit log is a JSON object. Besides the change (``address``, ``action``,
``before``, ``after``, ``result``) and who ran it (``actor``, ``time``: the wall time,
``plan_digest``) it carries ``at`` (the instant the plan evaluated), ``product``,
``reason``, ``class``, and ``config`` (``commit`` and ``dirty`` of the configuration's git
work tree, and ``digest``: the product's configuration digest). Lines written by older
versions lack some of these; readers take what is there. Lines that are not JSON objects
(a line cut short by a crash) are skipped and counted, never fatal.
"""

from __future__ import annotations

import io
import json
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from certops.errors import CertopsError
from certops.plan.classes import AppliedRecord, LastApply
from certops.plan.jsonio import iso_utc, parse_iso_utc
from certops.plan.model import Change, TargetKind
from certops.revision import ConfigRevision

DEFAULT_AUDIT_LOG = ".certops/audit.jsonl"
WRITTEN = frozenset({"applied", "done"})  # results that mean the LMS holds the new values
LISTEN_DIGEST = "listen"  # the plan digest of the lines ``certops listen`` writes


class AuditReadError(CertopsError):
    """An audit log named on the command line cannot be read."""


# Audit lines are about a kilobyte and four levels deep; far beyond either is no line
# certops wrote, and reading it whole (or parsing it recursively) must not be tried.
MAX_LINE_BYTES = 1_000_000
MAX_DEPTH = 32


def _gunzip(data: bytes) -> bytes:
    """The text of a file of gzip members; a last member cut short (a run killed while
    appending it) gives what it holds, which ends in a cut line."""
    out = []
    while data:
        unpacker = zlib.decompressobj(31)
        try:
            out.append(unpacker.decompress(data))
        except zlib.error:
            break  # damaged past here: what came before stands
        if not unpacker.eof:
            break  # the last member, cut short
        data = unpacker.unused_data
    return b"".join(out)


def read_log_bytes(path: Path) -> bytes:
    """The lines of one log file, as bytes: a ``.gz`` file of an audit folder decompressed
    (see ``_gunzip``), any other file as it is."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        if data and not data.startswith(b"\x1f\x8b"):
            raise AuditReadError(f"cannot read the audit log {path}: not a gzip file")
        return _gunzip(data)
    return data


def _depth(raw: bytes) -> int:
    """An upper bound of a JSON line's nesting: its brackets, counted outside strings."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return 0  # the usual line: too few brackets to be deep
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


@dataclass(frozen=True, slots=True)
class AuditContext:
    """What one apply run adds to each of its audit lines: the instant it evaluated, the
    configuration revision and each product's configuration digest (an enrollment's
    course and username come from its target)."""

    at: datetime
    revision: ConfigRevision = field(default_factory=ConfigRevision)
    config_digests: Mapping[str | None, str] = field(default_factory=dict)
    # Keys some lines carry besides, by the change's address (``listen``: the webhook
    # messages that asked for it, so that each intent and outcome line says why).
    extra: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def fields(self, change: Change) -> dict[str, Any]:
        """The extra keys of ``change``'s audit line."""
        out: dict[str, Any] = {
            **self.extra.get(change.address, {}),
            "at": iso_utc(self.at),
            "product": change.product,
            "reason": change.reason,
            "class": change.change_class.value if change.change_class else None,
            "config": {
                **self.revision.to_dict(),
                "digest": self.config_digests.get(change.product, ""),
            },
        }
        if change.target.kind is TargetKind.ENROLLMENT:
            out["course"], out["user"] = change.target.course, change.target.user
        return out


@dataclass(frozen=True, slots=True)
class AuditLines:
    """The JSON-object lines of some audit logs, in file order, and how many lines were
    skipped because they were not JSON objects."""

    lines: tuple[dict[str, Any], ...]
    skipped: int = 0


class LogLines:
    """The JSON-object lines of the audit logs at ``paths``, in file order, read one at a
    time (a log grows by two lines per change applied: hundreds of MB after a large
    rollover, never held whole), each tagged with ``log`` (its file). ``skipped`` counts
    the lines that were not JSON objects, once iterated.

    Iterating raises ``AuditReadError`` for a log that cannot be read, unless
    ``missing_ok`` and the file does not exist (a first plan has no log yet)."""

    def __init__(self, paths: Sequence[str | Path], *, missing_ok: bool = False) -> None:
        self.paths = [Path(path) for path in paths]
        self.missing_ok = missing_ok
        self.skipped = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for file in self.paths:
            try:
                if not stat.S_ISREG(file.stat().st_mode):
                    # A FIFO would block, a device such as /dev/zero never ends.
                    raise AuditReadError(
                        f"cannot read the audit log {file}: it is not a regular file"
                    )
                opened = (
                    io.BytesIO(read_log_bytes(file))
                    if file.name.endswith(".gz")
                    else file.open("rb")
                )
                with opened as handle:
                    number = 0
                    while raw := handle.readline(MAX_LINE_BYTES + 1):
                        number += 1
                        if len(raw) > MAX_LINE_BYTES:
                            raise AuditReadError(
                                f"{file}:{number}: a line longer than {MAX_LINE_BYTES:,} bytes: "
                                "not an audit log line"
                            )
                        entry = self._entry(raw, file, number)
                        if entry is not None:
                            yield entry
            except FileNotFoundError:
                if not self.missing_ok:
                    raise AuditReadError(f"no audit log at {file}") from None
            except OSError as exc:
                raise AuditReadError(f"cannot read the audit log {file}: {exc}") from None

    def _entry(self, raw: bytes, file: Path, number: int) -> dict[str, Any] | None:
        if not raw.strip():
            return None
        if _depth(raw) > MAX_DEPTH:
            raise AuditReadError(
                f"{file}:{number}: nested deeper than {MAX_DEPTH} levels: not an audit log line"
            )
        try:
            entry = orjson.loads(raw)
        except orjson.JSONDecodeError:
            # What orjson refuses that the standard reader takes (NaN, huge integers);
            # text that is not UTF-8 makes the log unreadable, as it always has.
            try:
                entry = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise AuditReadError(f"cannot read the audit log {file}: {exc}") from None
            except json.JSONDecodeError:
                entry = None
        if not isinstance(entry, dict):
            self.skipped += 1
            return None
        if not isinstance(entry.get("address"), str):
            # A line about no single object (listen's summary of a learner it
            # reconciled) is certops' own, not damage: nothing to count.
            if not isinstance(entry.get("kind"), str):
                self.skipped += 1
            return None
        entry["log"] = str(file)
        return entry


def read_logs(paths: Sequence[str | Path], *, missing_ok: bool = False) -> AuditLines:
    """Every line of the audit logs at ``paths`` (see ``LogLines``), held."""
    reader = LogLines(paths, missing_ok=missing_ok)
    lines = tuple(reader)
    return AuditLines(lines, reader.skipped)


def _instant(entry: Mapping[str, Any], key: str) -> datetime | None:
    value = entry.get(key)
    if not isinstance(value, str):
        return None
    try:
        return parse_iso_utc(value)
    except ValueError:
        return None


def _object(entry: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The JSON object under ``key``; empty when absent or not an object (older lines)."""
    value = entry.get(key)
    return value if isinstance(value, dict) else {}


def known_digest(known: LastApply | None, at: datetime) -> str:
    """The digest already recorded for the same instant, if any."""
    return known.config_digest if known is not None and known.at == at else ""


def _fold(
    latest: dict[str, dict[str, tuple[tuple[datetime, str, int], Any]]],
    address: str,
    order: tuple[datetime, str, int],
    after: Mapping[str, Any],
) -> None:
    """Keep, per field of ``address``, the value of the latest write."""
    fields = latest.setdefault(address, {})
    for name, value in after.items():
        held = fields.get(name)
        if held is None or order > held[0]:
            fields[name] = (order, value)


def applied_record(
    logs: AuditLines | Iterable[Mapping[str, Any]],
    same_lms: Callable[[str], bool] | None = None,
) -> AppliedRecord:
    """What certops last did according to ``logs`` (held lines, or ``LogLines`` read as
    they come): per product, the latest instant an apply evaluated (lines without ``at``
    say nothing about it) with its configuration digest, and per address the last value
    written to each field (lines that record a success only, in ``at`` then wall-time
    order, so several logs merge correctly). With ``same_lms``, only lines about an LMS it
    accepts (and lines that name none) count: a log may hold a rehearsal on a sandbox
    beside the tenant's runs."""
    last: dict[str | None, LastApply] = {}
    # Per address and field, the latest write so far: its (at, wall time, line) order and
    # value. Folded line by line, so only the newest value of each field is held.
    latest: dict[str, dict[str, tuple[tuple[datetime, str, int], Any]]] = {}
    instants: dict[str, datetime | None] = {}  # every line of an apply shares its ``at``
    # Successful writes by their line id, folded in at the end: a later ``failed`` line
    # of the same id (the LMS did not keep it) takes one back.
    pending: dict[str, tuple[tuple[datetime, str, int], str, dict[str, Any]]] = {}
    lms_seen: dict[str, bool] = {}
    for index, entry in enumerate(logs.lines if isinstance(logs, AuditLines) else logs):
        lms = entry.get("lms")
        if same_lms is not None and isinstance(lms, str) and lms:
            if lms not in lms_seen:
                lms_seen[lms] = same_lms(lms)
            if not lms_seen[lms]:
                continue  # what certops did to another LMS
        raw_at = entry.get("at")
        if isinstance(raw_at, str) and raw_at in instants:
            at = instants[raw_at]
        else:
            at = _instant(entry, "at")
            if isinstance(raw_at, str):
                instants[raw_at] = at
        if at is None:
            continue
        product = entry.get("product") if isinstance(entry.get("product"), str) else None
        config = _object(entry, "config")
        digest = config.get("digest") if isinstance(config.get("digest"), str) else ""
        known = last.get(product)
        # The latest instant wins; at the same instant, a line that names its digest.
        # ``listen`` reconciles one learner at a time: its writes count as values certops
        # wrote, but it is no apply of the whole product (a plan at its instant would
        # hold every other learner's changes, which listen never made).
        if entry.get("plan_digest") == LISTEN_DIGEST:
            pass
        elif known is None or at > known.at or (at == known.at and digest):
            last[product] = LastApply(at=at, config_digest=digest or known_digest(known, at))
        after = entry.get("after")
        line_id = entry.get("id") if isinstance(entry.get("id"), str) else ""
        if entry.get("result") in WRITTEN and isinstance(after, dict):
            order = (at, str(entry.get("time", "")), index)
            if line_id:
                pending[line_id] = (order, entry["address"], after)
            else:
                _fold(latest, entry["address"], order, after)
        elif line_id and entry.get("result") == "failed":
            # Accepted, then found not kept (a read-back): certops did not write it.
            pending.pop(line_id, None)
    for order, address, after in pending.values():
        _fold(latest, address, order, after)
    written = {
        address: {name: value for name, (_, value) in fields.items()}
        for address, fields in latest.items()
    }
    return AppliedRecord(last=last, written=written)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One thing certops did (or tried) to a learner, as ``certops history`` shows it."""

    time: str  # wall time of the write
    at: str  # the instant the plan evaluated ("" in old lines)
    product: str | None
    course: str
    action: str
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    result: str
    reason: str
    change_class: str
    actor: str
    plan_digest: str
    commit: str | None
    dirty: bool | None
    log: str
    message: str = ""
    # listen's writes: the webhook messages that asked for them.
    messages: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form ``history --format json`` prints."""
        return {
            "time": self.time,
            "at": self.at,
            "product": self.product,
            "course": self.course,
            "action": self.action,
            "before": dict(self.before),
            "after": dict(self.after),
            "result": self.result,
            "reason": self.reason,
            "class": self.change_class,
            "actor": self.actor,
            "plan_digest": self.plan_digest,
            "config": {"commit": self.commit, "dirty": self.dirty},
            "log": self.log,
            **({"message": self.message} if self.message else {}),
            **({"messages": list(self.messages)} if self.messages else {}),
        }


def learner_history(
    logs: AuditLines, user: str, products: Iterable[str] = ()
) -> tuple[HistoryEntry, ...]:
    """Every enrollment line of ``user`` (optionally of ``products`` only), oldest first
    (by the instant evaluated, then wall time; lines without ``at`` by wall time)."""
    wanted = set(products)
    found = []
    for index, entry in enumerate(logs.lines):
        address = entry["address"]
        # Lines without a result announce a write (a write-ahead log's intents); the
        # line with its outcome says what became of it.
        if not address.startswith("enrollment.") or not entry.get("result"):
            continue
        if "user" in entry:
            if entry["user"] != user:
                continue
            course = str(entry.get("course", ""))
        elif address.endswith("." + user):
            # Older lines name no user: the username is the end of the address.
            course = address.removeprefix("enrollment.")[: -len(user) - 1]
        else:
            continue
        product = entry.get("product") if isinstance(entry.get("product"), str) else None
        if wanted and product not in wanted:
            continue
        config = _object(entry, "config")
        item = HistoryEntry(
            time=str(entry.get("time", "")),
            at=str(entry.get("at", "")),
            product=product,
            course=course,
            action=str(entry.get("action", "")),
            before=_object(entry, "before"),
            after=_object(entry, "after"),
            result=str(entry.get("result", "")),
            reason=str(entry.get("reason", "")),
            change_class=str(entry.get("class") or ""),
            actor=str(entry.get("actor", "")),
            plan_digest=str(entry.get("plan_digest", "")),
            commit=config.get("commit") if isinstance(config.get("commit"), str) else None,
            dirty=config.get("dirty") if isinstance(config.get("dirty"), bool) else None,
            log=str(entry.get("log", "")),
            message=str(entry.get("message", "")),
            messages=tuple(str(m) for m in _object(entry, "listen").get("message_ids", ()) if m),
        )
        found.append(((item.at or item.time), item.time, index, item))
    found.sort(key=lambda f: f[:3])
    return tuple(item for *_, item in found)


@dataclass(frozen=True, slots=True)
class StatusWrite:
    """The last enrollment status certops wrote to one learner's enrollment in one course:
    the ``status`` it set, the instant its plan evaluated (``at``) and the plan's reason."""

    user: str
    course: str
    status: str
    at: datetime
    reason: str


def last_status_writes(logs: AuditLines) -> tuple[StatusWrite, ...]:
    """For every enrollment whose status certops wrote (and the LMS took), the last such
    write: what ``certops import`` reads to keep the decisions certops carried out (a
    revocation, a reinstatement) whose reasons no LMS holds. Lines without ``user``,
    ``course`` or ``at`` (older logs) are skipped."""
    latest: dict[tuple[str, str], tuple[tuple[datetime, str, int], StatusWrite]] = {}
    for index, entry in enumerate(logs.lines):
        after = entry.get("after")
        user, course, at = entry.get("user"), entry.get("course"), _instant(entry, "at")
        if entry.get("result") not in WRITTEN or not isinstance(after, dict):
            continue
        status = after.get("status")
        if not (isinstance(status, str) and isinstance(user, str) and isinstance(course, str)):
            continue
        if at is None:
            continue
        order = (at, str(entry.get("time", "")), index)
        write = StatusWrite(user, course, status, at, str(entry.get("reason", "")))
        held = latest.get((course, user))
        if held is None or order > held[0]:
            latest[(course, user)] = (order, write)
    return tuple(write for _, write in sorted(latest.values(), key=lambda item: item[0]))
