"""One writer at a time: an advisory lock file that ``apply`` (and anything else that
writes an LMS) holds for its whole run.

The lock is ``flock`` on a file every folder of this machine sees: ``PATH.lock`` next to
the sandbox file for ``sandbox:PATH``, or, for a tenant, ``HOST.lock`` in the lock folder
(``CERTOPS_LOCK_DIR``, else the user's state folder, ``$XDG_STATE_HOME/certops/locks`` or
``~/.local/state/certops/locks``). It is keyed on the LMS, not on how its address is
spelled (``LMSAddress.identity``): ``sandbox:./x.db`` and ``sandbox:x.db``, or
``https://ACME.docebosaas.com:443`` and ``https://acme.docebosaas.com``, share one lock,
whichever folder each run starts in. The kernel releases it when the holder exits in any
way, ``kill -9`` included, so a crashed run never leaves a stale lock. A second writer
waits for it up to ``--lock-timeout`` seconds, saying who holds it, then fails with a
message; it reads the LMS only once it holds the lock, so its plan already sees the first
writer's changes.

The default lock folder is per user: runs of one tenant under two accounts of one machine
share a lock only when both set ``CERTOPS_LOCK_DIR`` to one folder they can both write. A
lock file on one machine cannot serialize runs on different machines (two CI runners
applying to one tenant): CI must run applies one at a time (the shipped workflows use a
concurrency group), and apply checks right before each create that the object still does
not exist, counting one a concurrent writer made as wanted as done.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from certops.address import DEFAULT_PORTS, LMSAddress
from certops.errors import CertopsError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: msvcrt locks a byte range instead
    fcntl = None  # type: ignore[assignment]
    import msvcrt

DEFAULT_LOCK_TIMEOUT = 300.0  # seconds: longer than a typical apply, short enough for CI
POLL = 0.1  # seconds between tries while another writer holds the lock
LOCK_DIR_VARIABLE = "CERTOPS_LOCK_DIR"


class LockTimeoutError(CertopsError):
    """Another writer held the lock for longer than this run would wait."""


def lock_dir() -> Path:
    """The folder of tenant locks on this machine: ``CERTOPS_LOCK_DIR`` when set, else the
    user's state folder (``$XDG_STATE_HOME/certops/locks``, ``~/.local/state/...``), else,
    for an account without a home, a per-user folder in the system's temporary folder."""
    if chosen := os.environ.get(LOCK_DIR_VARIABLE, "").strip():
        return Path(chosen).expanduser()
    state = os.environ.get("XDG_STATE_HOME", "")
    if os.path.isabs(state):
        return Path(state) / "certops" / "locks"
    try:
        return Path.home() / ".local" / "state" / "certops" / "locks"
    except RuntimeError:  # no HOME and no password entry (a bare container)
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
        return Path(tempfile.gettempdir()) / f"certops-{user}" / "locks"


def lock_path(lms: LMSAddress, directory: Path | None = None) -> Path:
    """Where the writer lock of ``lms`` lives: next to the sandbox file (its real path),
    else ``HOST.lock`` (``HOST_PORT.lock`` on a port other than the scheme's) in
    ``directory``, by default ``lock_dir()``."""
    identity = lms.identity
    if isinstance(identity, Path):
        return identity.with_name(identity.name + ".lock")
    name = identity.host or "lms"
    if identity.port != DEFAULT_PORTS[identity.scheme]:
        name += f"_{identity.port}"
    safe = "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in name)
    return (directory or lock_dir()) / f"{safe}.lock"


class WriterLock:
    """``with WriterLock(path, timeout):`` holds the lock for the block (see module doc)."""

    def __init__(
        self,
        path: Path,
        timeout: float = DEFAULT_LOCK_TIMEOUT,
        *,
        what: str = "certops apply",
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path
        self.timeout = timeout
        self.what = what
        self._say = progress or (lambda _m: None)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Takes the lock, waiting up to ``timeout`` seconds; raises ``LockTimeoutError``."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LockTimeoutError(
                f"cannot create the writer lock {self.path}: {exc.strerror or exc}; nothing "
                f"was changed (make its folder writable, or set {LOCK_DIR_VARIABLE} to a "
                "folder every run of this tenant on this machine can write)"
            ) from None
        deadline = time.monotonic() + self.timeout
        told = False
        while True:
            try:
                _lock(fd)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    holder = _holder(fd)
                    os.close(fd)
                    raise LockTimeoutError(
                        f"another writer{holder} still holds {self.path} after "
                        f"{self.timeout:g} s; nothing was changed. Let it finish and run "
                        "again, or wait longer with --lock-timeout SECONDS"
                    ) from None
                if not told:
                    self._say(
                        f"waiting for another writer{_holder(fd)} to finish (lock {self.path}; "
                        f"up to {self.timeout:g} s, see --lock-timeout)"
                    )
                    told = True
                time.sleep(POLL)
        # Who holds it, for the message a waiting writer shows (never anything secret).
        since = time.strftime("%H:%M:%SZ", time.gmtime())
        info = {"pid": os.getpid(), "what": self.what, "since": since}
        _write_holder(fd, json.dumps(info).encode() + b"\n")
        self._fd = fd

    def release(self) -> None:
        """Releases the lock (the file stays: removing it would race with a waiter)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            _write_holder(fd, b"")
            _unlock(fd)
            os.close(fd)

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _lock(fd: int) -> None:
    """Takes the lock without waiting; raises ``OSError`` when another process holds it."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:  # pragma: no cover - Windows: a lock on one byte far past the holder's note
        os.lseek(fd, _WINDOWS_BYTE, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    else:  # pragma: no cover - Windows
        os.lseek(fd, _WINDOWS_BYTE, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


_WINDOWS_BYTE = 1 << 20


def _write_holder(fd: int, data: bytes) -> None:
    """Replaces the note of who holds the lock (empty when released)."""
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096) or b"{}")
        return f" ({info['what']}, pid {info['pid']}, since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""
