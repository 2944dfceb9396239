"""The audit log: a write-ahead log of every change certops sends to the LMS.

Before each write, one ``intent`` line per change says what is about to be sent; after
it, one outcome line per change says what came of it (``done``, ``failed``, or ``unknown``
when the run was interrupted or lost the LMS while the write was in flight). Every batch
of lines is flushed and fsynced before certops goes on, so a run killed at any instant
(``kill -9``, a crashed runner) leaves each write that may have reached the LMS with at
least its intent on disk. At the start of every apply, intents without a settled outcome
are resolved against what the LMS now holds (read by that apply) and a ``resolved`` line
records the answer; so after any crash and one more apply, the log names every change
that reached the LMS. The format is documented in ``docs/audit-log.md``.

The log is one JSON-lines file (``--audit-log``), or a folder of per-run files
(``--audit-dir``, see ``run_file``): each run appends to a file of its own, every batch of
lines as one complete gzip member, so the folder stays a few MB at 20,000 learners and a
file, once its run ended, never changes (a git branch or a bucket keeps it as is).

The log never holds secrets: changes carry none, and LMS messages are redacted by the
client before they become outcome messages.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from certops.errors import CertopsError
from certops.history import AuditContext, read_log_bytes
from certops.instants import format_instant_seconds
from certops.plan.jsonio import display
from certops.plan.model import Change, Plan, Target, TargetKind, enrollment_target

FORMAT = 2  # 1: outcome lines only (before the write-ahead log)

INTENT = "intent"
DONE = "done"
FAILED = "failed"
UNKNOWN = "unknown"  # the write was in flight when the run stopped: resolved next time
RESOLVED = "resolved"

# Outcomes that settle an intent; an intent with none of them is resolved by the next apply.
SETTLED = (DONE, FAILED, RESOLVED)

_ID = re.compile(rb'"id": "([^"\\]*)"')
_KIND = re.compile(rb'"kind": "([a-z_]+)"')


class AuditLogError(CertopsError):
    """The audit log cannot be written; raised before anything is applied."""


COMPRESSED_SUFFIX = ".jsonl.gz"


def run_file(folder: Path, started: datetime, run: str, kind: str = "") -> Path:
    """The file of one run in an audit folder: ``20270102T051700Z-3f2a9c0e41b7.jsonl.gz``
    (``kind`` adds a word, e.g. ``listen``). The UTC start first, so that names sort in
    time order; the run id keeps two runs of one second apart."""
    stamp = started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    word = f"-{kind}" if kind else ""
    return folder / f"{stamp}{word}-{run}{COMPRESSED_SUFFIX}"


def audit_files(folder: Path) -> tuple[Path, ...]:
    """The log files of an audit folder (per-run ``*.jsonl.gz`` and any plain ``*.jsonl``),
    in name order; none when it does not exist yet. A folder that is no folder is refused."""
    try:
        mode = folder.stat().st_mode
    except FileNotFoundError:
        return ()
    except OSError as exc:
        raise AuditLogError(
            f"cannot read the audit folder {folder}: {exc.strerror or exc}"
        ) from None
    if not stat.S_ISDIR(mode):
        raise AuditLogError(
            f"the audit folder {folder} is not a folder (give --audit-dir a folder; "
            "--audit-log names a single file)"
        )
    return tuple(
        sorted(p for p in folder.iterdir() if p.name.endswith((".jsonl", COMPRESSED_SUFFIX)))
    )


def new_run_id() -> str:
    """A random id for one run (12 hex digits)."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True, slots=True)
class Pending:
    """An intent of an earlier run whose outcome is not known."""

    id: str
    target: Target
    action: str
    after: dict[str, Any]
    line: dict[str, Any]

    @property
    def address(self) -> str:
        return self.target.address


def line_target(line: Mapping[str, Any]) -> Target:
    """The target an audit line names. An enrollment's line carries its ``course`` and
    ``user`` (see ``certops.history``); any other line is known by its address alone (a
    ``saved`` target, matched whole). Nothing is parsed out of the address, and parts that
    do not give the line's address are not believed.

    Lines hold no nested target: the log is scanned for each line's own ``kind`` key
    without decoding it, and a target's kind would be mistaken for it."""
    address = str(line.get("address", ""))
    saved = Target(TargetKind.SAVED, label=address)
    course, user = line.get("course"), line.get("user")
    if isinstance(course, str) and isinstance(user, str):
        target = enrollment_target(course, user)
        return target if target.address == address else saved
    return saved


def check_regular(path: Path, error: type[CertopsError], verb: str) -> None:
    """Raises ``error`` when ``path`` exists and is not a regular file (a folder, a FIFO
    that would block, a device such as /dev/zero that never ends)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise error(f"cannot {verb} the audit log {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise error(
            f"cannot {verb} the audit log {path}: it is not a regular file; nothing was "
            "applied (give --audit-log a file path)"
        )


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as stream:
        stream.seek(-1, os.SEEK_END)
        return stream.read(1)


def _now() -> str:
    return format_instant_seconds(datetime.now(UTC))


class AuditLog:
    """Appends JSON lines to the log at ``path`` for one apply run (see the module doc)."""

    def __init__(
        self,
        path: Path,
        digest: str,
        actor: str,
        lms: str = "",
        *,
        context: AuditContext | None = None,
        sources: Sequence[Path] | None = None,
        run: str | None = None,
    ) -> None:
        self.path = path
        # The files earlier runs wrote, read to settle their writes left in doubt (the log
        # itself, or every file of an audit folder).
        self.sources = tuple(sources) if sources is not None else (path,)
        # A ``.gz`` file takes each batch of lines as one complete gzip member.
        self.compressed = path.name.endswith(".gz")
        self.digest = digest
        self.actor = actor
        self.lms = lms
        # The instant evaluated, reason, class, product and config revision of each line.
        self.context = context
        # One id per run; each intent adds a sequence number, and its outcome repeats it.
        self.run = run or new_run_id()
        self._seq = 0
        self._ids: dict[int, str] = {}  # id(change) -> intent id, for the outcome line
        self._handle: BinaryIO | None = None
        # Why the log stopped taking lines (a write failed): every later append refuses.
        self._broken = ""

    def check_writable(self) -> None:
        """Creates the log's folder and opens it for appending, so a log that cannot be
        written stops the run before any change (raises ``AuditLogError``). The log must
        be a regular file, or not exist yet."""
        check_regular(self.path, AuditLogError, "write")
        try:
            self._open()
        except OSError as exc:
            raise AuditLogError(
                f"cannot write the audit log {self.path}: {exc.strerror or exc}; nothing was "
                "applied (choose another file with --audit-log PATH)"
            ) from None

    def _open(self) -> BinaryIO:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Unbuffered binary appends: each batch of lines is one write, then fsync.
            handle = open(self.path, "ab", buffering=0)  # noqa: SIM115 - held open
            if not self.compressed and handle.tell() and _last_byte(self.path) != b"\n":
                # A run killed mid-line left a cut line: start ours on a line of their own.
                handle.write(b"\n")
            self._handle = handle
        return self._handle

    def _append(self, entries: Iterable[dict[str, Any]]) -> None:
        """Appends ``entries`` as lines, whole and on disk before it returns; raises
        ``AuditLogError`` when they cannot all be written and synced (a full disk, a file
        size limit, a failing device), and refuses every later append: a write-ahead log
        that might miss a line is worse than a stopped run."""
        lines = [json.dumps(e, sort_keys=True, ensure_ascii=False) for e in entries]
        if not lines:
            return
        if self._broken:
            raise AuditLogError(self._broken)
        raw = ("\n".join(lines) + "\n").encode("utf-8")
        if self.compressed:
            # One whole gzip member per batch: a member cut short by a crash is dropped
            # by readers like a cut line (its write had not been sent).
            packer = zlib.compressobj(6, zlib.DEFLATED, 31)
            raw = packer.compress(raw) + packer.flush()
        data = memoryview(raw)
        try:
            handle = self._open()
            while data:
                written = handle.write(data)
                if not written:  # nothing taken and no error: treat as a full device
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                data = data[written:]
            # On disk before certops goes on: the point of a write-ahead log.
            os.fsync(handle.fileno())
        except OSError as exc:
            self._broken = (
                f"cannot write the audit log {self.path}: {exc.strerror or exc}; certops "
                "stopped before sending anything it could not log"
            )
            raise AuditLogError(self._broken) from None

    def _base(self, change: Change) -> dict[str, Any]:
        return {
            "time": _now(),
            "actor": self.actor,
            "plan_digest": self.digest,
            "lms": self.lms,
            "address": change.address,
            "action": change.action.value,
            "before": display(change.before),
            "after": display(change.after),
            **(self.context.fields(change) if self.context is not None else {}),
        }

    def intend(self, changes: Sequence[Change]) -> None:
        """Records, durably, that ``changes`` are about to be sent (one line each)."""
        entries = []
        for change in changes:
            self._seq += 1
            entry_id = f"{self.run}-{self._seq}"
            self._ids[id(change)] = entry_id
            entries.append({"kind": INTENT, "id": entry_id, **self._base(change)})
        self._append(entries)

    def settle(self, change: Change, kind: str, message: str = "") -> None:
        """Records the outcome of one change (``DONE``, ``FAILED`` or ``UNKNOWN``)."""
        self.settle_many([(change, kind, message)])

    def settle_many(self, outcomes: Iterable[tuple[Change, str, str]]) -> None:
        """Records several outcomes with one fsync (a batch's rows)."""
        entries = []
        for change, kind, message in outcomes:
            entry = {"kind": kind, "id": self._ids.get(id(change), ""), **self._base(change)}
            entry["result"] = "applied" if kind == DONE else kind
            if message:
                entry["message"] = message
            entries.append(entry)
        self._append(entries)

    def record(self, kind: str, fields: dict[str, Any]) -> None:
        """Appends one line of another ``kind`` (``listen``: a learner reconciled because
        of webhook events), durably; it settles nothing and needs no settling."""
        self._append([{"kind": kind, "time": _now(), "actor": self.actor, "lms": self.lms,
                       **fields}])  # fmt: skip

    def close(self) -> None:
        """Close the log file (every written line is already on disk); a run file of an
        audit folder that got no line is removed."""
        if self._handle is not None:
            empty = self._handle.tell() == 0
            self._handle.close()
            self._handle = None
            if empty and self.compressed:
                self.path.unlink(missing_ok=True)

    # --- recovery ---------------------------------------------------------------------

    def pending(self) -> list[Pending]:
        """Intents for this log's LMS (of any earlier run) that no line settles, oldest
        first. Intents for another LMS wait for an apply to that one: only it can tell.

        A line cut short by a crash (no newline, not JSON) is skipped: it was never a
        complete intent, so the write it announced was never sent."""
        chunks = []
        for source in self.sources:
            try:
                check_regular(source, AuditLogError, "read")
                chunks.append(read_log_bytes(source))
            except FileNotFoundError:
                continue
            except OSError as exc:
                if source == self.path:
                    self.check_writable()  # says so in its words when it is no file at all
                raise AuditLogError(
                    f"cannot read the audit log {source}: {exc.strerror or exc}; nothing "
                    "was applied (an earlier run's unsettled writes must be checked first)"
                ) from None
        data = b"\n".join(chunks)
        # The log grows with every run and is read at the start of each: find each line's
        # id and kind without decoding it (a million lines in about a second less), and
        # decode only the intents left unsettled. Lines are written with sorted keys, so
        # the last unescaped "id" and "kind" keys of a line are its own (later keys all
        # hold strings, where quotes are escaped).
        intents: dict[str, bytes] = {}
        settled: set[str] = set()
        for raw in data.split(b"\n"):
            ids = _ID.findall(raw)
            kinds = _KIND.findall(raw)
            if not ids or not kinds:
                continue  # a line of the first format (no id), or a cut one
            key, kind = ids[-1].decode(), kinds[-1].decode()
            if kind == INTENT:
                intents[key] = raw
            elif kind in SETTLED:
                settled.add(key)
        found = []
        for key, raw in intents.items():
            if key in settled:
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                continue  # cut short by a crash: never a complete intent, never sent
            if not isinstance(line, dict) or line.get("lms", "") != self.lms:
                continue
            after = line.get("after")
            found.append(
                Pending(
                    id=key,
                    target=line_target(line),
                    action=str(line.get("action", "")),
                    after=after if isinstance(after, dict) else {},
                    line=line,
                )
            )
        return found

    def resolve(
        self, pending: Sequence[Pending], fresh: Plan, manages: Callable[[Target], bool]
    ) -> list[str]:
        """Records, for each pending intent, whether the LMS now holds what it would have
        sent, judged by ``fresh`` (a plan just made from the LMS): no change left at its
        address means it is there (``applied``); the same change still to make means it
        never arrived (``not_applied``). ``manages`` says whether this configuration
        manages an address: about others (the plan cannot tell), and when the LMS matches
        neither, the answer is ``undetermined``. Returns one text line per resolution."""
        # Manual steps are never written (and may share an address with a write).
        to_make = {c.address: c for c in fresh.changes if c.action.value != "manual"}
        entries, said = [], []
        for item in pending:
            change = to_make.get(item.address)
            if not manages(item.target):
                result = "undetermined"
                why = "this configuration no longer manages it; check it in the LMS"
            elif change is None:
                result = "applied"
                why = "the LMS holds what it would have sent"
            elif change.action.value == item.action and display(change.after) == item.after:
                result = "not_applied"
                why = "the LMS does not hold it; this apply's plan makes it again"
            else:
                result = "undetermined"
                why = "the LMS holds neither the old nor the intended values; check it"
            entries.append(
                {
                    "kind": RESOLVED,
                    "id": item.id,
                    "time": _now(),
                    "actor": self.actor,
                    "plan_digest": item.line.get("plan_digest", ""),
                    "lms": self.lms,
                    "address": item.address,
                    "action": item.action,
                    "before": item.line.get("before", {}),
                    "after": item.after,
                    "result": result,
                    "message": f"resolved at the start of a later apply: {why}",
                }
            )
            said.append(f"{item.address} ({item.action}): {result}")
        self._append(entries)
        return said
