"""certops at scale: API calls against their lower bound, wall and CPU time, peak memory.

For each size it builds a demo sandbox (``init_sandbox(..., demo=True, learners=N, seed=S)``),
serves it with ``certops sandbox serve --latency-ms L`` in a subprocess (a real socket, and
a server whose CPU is not certops'), and runs in this process, through the CLI entry point
exactly as a user would type them:

1. a naive baseline on a sample of learners: one user read plus one enrollment read per
   course, per learner, as a hand-written script would (extrapolated to every user);
2. ``certops plan CONFIG --out plan.json`` on the fresh sandbox (the full plan);
3. ``certops apply CONFIG --yes --force`` (reads again, then writes);
4. ``certops plan CONFIG`` again: the no-op plan, which must show no API change.

It prints, per size and phase: API calls by endpoint, the lower bound (see
``lower_bound_reads`` and ``lower_bound_writes``), calls / lower bound, wall time, the
latency-bound ideal wall time of the phase's own calls (``Phase.ideal_s``: reads as many in
flight as allowed, writes one at a time, each call exactly the latency) and wall / ideal,
certops CPU time (``time.process_time`` of this process: the server runs elsewhere) in all
and per learner, the server's CPU time, and the peak resident memory of this process
during the phase.

    python benchmarks/plan_scale.py --sizes 1000,10000 [--latency-ms 50] [--seed 0] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import itertools
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from certops.address import parse_address
from certops.cli.main import main as certops_main
from certops.connection import connect_reader
from certops.errors import CertopsError, ConfigError
from certops.lms import paths
from certops.lms.connect import Connection
from certops.sandbox import init_sandbox, read_credentials

# Three products with two periods each, over the demo dataset's courses. Safety limits
# stay at their defaults: apply runs with --force, as a rollover after review would.
CONFIG_YAML = """\
version: 1
products:
  - id: widget-pro
    name: Widget Pro
    group: {name: "Certified: Widget Pro"}
    initial_paths:
      - {name: classic, all_of: [WP-101, WP-102]}
      - {name: exam, all_of: [WP-EXAM]}
    certified_course:
      code: CERT-WP
      name: "Certified: Widget Pro"
      description: "Your Widget Pro certification status."
      salesforce_sync: true
    maintenance:
      new_learner_grace_days: 90
      late_completion: reinstate
      periods:
        - id: "2026"
          course: {code: MOC-WP-2026, name: "Widget Pro: Maintenance of Certification 2026"}
          opens: 2026-01-01
          due: 2026-12-31
        - id: "2027"
          course: {code: MOC-WP-2027, name: "Widget Pro: Maintenance of Certification 2027"}
          opens: 2027-01-01
          due: 2027-12-31
    enrollment_rule: {name: "Certified: Widget Pro courses"}
  - id: gadget-max
    name: Gadget Max
    group: {name: "Certified: Gadget Max"}
    initial_paths:
      - {name: core, all_of: [GM-101]}
    certified_course: {code: CERT-GM, name: "Certified: Gadget Max"}
    maintenance:
      late_completion: manual
      periods:
        - id: "2026"
          course: {code: MOC-GM-2026, name: "Gadget Max: Maintenance of Certification 2026"}
          opens: 2026-01-01
          due: 2026-12-31
        - id: "2027"
          course: {code: MOC-GM-2027, name: "Gadget Max: Maintenance of Certification 2027"}
          opens: 2027-01-01
          due: 2027-12-31
    extensions:
      - {user: jdoe, period: "2026", until: 2027-01-31, reason: "parental leave"}
    reinstatements:
      - {user: asmith, at: 2027-02-10T00:00:00Z, reason: "fee paid"}
    revocations:
      - {user: bcole, at: 2026-06-01T00:00:00Z, reason: "misconduct"}
  - id: sprocket
    name: Sprocket
    group: {name: "Certified: Sprocket"}
    initial_paths:
      - {name: basics, all_of: [SP-101]}
    certified_course: {code: CERT-SP, name: "Certified: Sprocket"}
    maintenance:
      periods:
        - id: "2026"
          course: {code: MOC-SP-2026, name: "Sprocket: Maintenance of Certification 2026"}
          opens: 2026-01-01
          due: 2026-12-31
        - id: "2027"
          course: {code: MOC-SP-2027, name: "Sprocket: Maintenance of Certification 2027"}
          opens: 2027-01-01
          due: 2027-12-31
settings:
  salesforce_catalog: {code: SF-SYNC, name: "Salesforce Sync"}
"""
INITIAL_CODES = ("WP-101", "WP-102", "WP-EXAM", "GM-101", "SP-101")
MANAGED_CODES = (
    "CERT-WP", "MOC-WP-2026", "MOC-WP-2027",
    "CERT-GM", "MOC-GM-2026", "MOC-GM-2027",
    "CERT-SP", "MOC-SP-2026", "MOC-SP-2027",
)  # fmt: skip
NAMED_CODES = INITIAL_CODES + MANAGED_CODES
GROUP_NAMES = ("Certified: Widget Pro", "Certified: Gadget Max", "Certified: Sprocket")
CATALOG_CODE = "SF-SYNC"
# A week after the 2026 deadline: the heaviest instant (certified, suspended, two periods).
DEFAULT_AT = "2027-01-08T00:00:00Z"

# The targets this benchmark checks.
TARGET_RATIO = 1.1
TARGET_NOOP_WALL_S = 60.0
TARGET_NOOP_SIZE = 100_000
TARGET_PEAK_MB = 1024.0
LINEAR_SLACK = 1.5  # CPU per learner may grow at most this much from one size to the next
# The no-op plan's wall time within this factor of its latency-bound ideal, at these sizes.
TARGET_WALL_PER_IDEAL = 1.3
TARGET_WALL_SIZES = (10_000, 100_000)
# The no-op plan's CPU per learner at 100,000 learners: at most half of what it was before
# the work on speed (172 µs on the machine where that target was set). CPU time depends on
# the machine: ``--baseline-noop-us`` gives the figure measured on this one.
BASELINE_NOOP_CPU_US = 172.0
# certops' default requests in flight (``--max-in-flight``).
DEFAULT_IN_FLIGHT = 4


class BenchmarkError(Exception):
    """Something the benchmark cannot work around; the message says what and why."""


# --- memory and CPU ------------------------------------------------------------------------


def _status_kb(name: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    found = re.search(rf"^{name}:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) if found else None


def reset_peak_memory() -> bool:
    """Resets this process's resident high-water mark (Linux); returns whether it could.

    The phases share this process, so what an earlier phase freed is first collected and
    handed back to the system (glibc's ``malloc_trim``): otherwise a phase's peak would
    start from the memory the previous one held, not from what is still live."""
    gc.collect()
    _malloc_trim()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _malloc_trim() -> None:
    # Not glibc: nothing to call, and the peak includes what the allocator kept.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def peak_memory_mb() -> float:
    """The peak resident memory of this process since the last reset, in MiB.

    Without ``/proc`` (not Linux) it is the peak of the whole run so far (``ru_maxrss``)."""
    hwm = _status_kb("VmHWM")
    if hwm is not None:
        return hwm / 1024
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def process_cpu_s(pid: int) -> float | None:
    """User plus system CPU seconds of process ``pid`` (Linux), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the served sandbox ---------------------------------------------------------------------

# The certops CLI in a fresh interpreter (the same installation as this process).
SERVE_COMMAND = [sys.executable, "-c", "from certops.cli.main import main; main()"]


@dataclass(slots=True)
class Server:
    url: str
    process: subprocess.Popen[str]

    def cpu_s(self) -> float | None:
        """CPU seconds the server process has used so far."""
        return process_cpu_s(self.process.pid)


@contextlib.contextmanager
def served(db: Path, latency_ms: int, log: Path) -> Iterator[Server]:
    """``certops sandbox serve`` on a free port of 127.0.0.1, stopped on exit."""
    command = [
        *SERVE_COMMAND,
        "sandbox",
        "serve",
        "--db",
        str(db),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--latency-ms",
        str(latency_ms),
    ]
    errors = log.open("w", encoding="utf-8")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True, bufsize=1)
    try:
        url = _served_url(process, log)
        yield Server(url=url, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        errors.close()


def _served_url(process: subprocess.Popen[str], log: Path) -> str:
    """The URL the server prints on start (it prints its credentials too: never echoed)."""
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            match = re.search(r"serving at (http://\S+)", line)
            if match and not found:
                found.append(match.group(1))
        # Keep draining so the server never blocks on a full pipe.

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 30
    while not found:
        if process.poll() is not None or time.monotonic() > deadline:
            detail = log.read_text(encoding="utf-8").strip().splitlines()[-1:] or ["no output"]
            raise BenchmarkError(f"certops sandbox serve did not start: {detail[0]}")
        time.sleep(0.05)
    return found[0]


# --- what the LMS holds (for the lower bound), read around certops ----------------------------


@dataclass(frozen=True, slots=True)
class Holdings:
    """Counts of what the tenant holds that certops must read, from the public API."""

    users: int
    courses: int
    named_courses: int  # the courses of the configuration that exist
    managed_courses: int  # of which certops manages (reads their detail)
    enrollments: int  # in the named courses
    catalogs: int
    catalog_items: int  # in the Salesforce catalog (0 when it does not exist)
    catalog_exists: bool
    groups: int
    named_groups: int  # the configuration's groups that exist (read in detail)
    sample_usernames: tuple[str, ...] = ()


def read_holdings(url: str, credentials: dict[str, str], sample: int) -> Holdings:
    """Counts via ``get_total_count`` (a few calls, not part of any measured phase)."""
    with httpx.Client(base_url=url, timeout=120) as http:
        token = http.post(
            paths.TOKEN,
            data={
                "grant_type": "client_credentials",
                "client_id": credentials["client_id"],
                "client_secret": credentials["client_secret"],
                "scope": "api",
            },
        )
        token.raise_for_status()
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

        def data(path: str, **params: Any) -> dict[str, Any]:
            response = http.get(path, params={"get_total_count": 1, **params})
            response.raise_for_status()
            return response.json()["data"]

        users = data(paths.USERS, page_size=max(1, min(sample, 200)), sort_attr="username")
        courses = data(paths.COURSES, page_size=200)
        if courses["total_count"] > 200:
            raise BenchmarkError("more than 200 courses: the benchmark reads one page only")
        ids = {c["code"]: int(c["id_course"]) for c in courses["items"]}
        named = [ids[code] for code in NAMED_CODES if code in ids]
        enrollments = (
            data(paths.ENROLLMENTS_READ, page_size=1, **{"course_id[]": named})["total_count"]
            if named
            else 0
        )
        catalogs = data(paths.CATALOGS, page_size=200)
        catalog = next((c for c in catalogs["items"] if c["catalogue_code"] == CATALOG_CODE), None)
        items = (
            data(paths.catalog_path(int(catalog["catalogue_id"])), page_size=1)["total_count"]
            if catalog
            else 0
        )
        groups = data(paths.AUDIENCES, page_size=200)
        if groups["total_count"] > 200:
            raise BenchmarkError("more than 200 groups: the benchmark reads one page only")
        return Holdings(
            users=users["total_count"],
            courses=courses["total_count"],
            named_courses=len(named),
            managed_courses=sum(1 for code in MANAGED_CODES if code in ids),
            enrollments=enrollments,
            catalogs=catalogs["total_count"],
            catalog_items=items,
            catalog_exists=catalog is not None,
            groups=groups["total_count"],
            named_groups=sum(1 for g in groups["items"] if g["name"] in GROUP_NAMES),
            sample_usernames=tuple(u["username"] for u in users["items"][:sample]),
        )


# --- the lower bound ---------------------------------------------------------------------------


def pages(count: int, size: int = paths.DEFAULT_PAGE_SIZE) -> int:
    """List calls needed for ``count`` items at ``size`` per page (an empty list is 1 call)."""
    return max(1, math.ceil(count / size))


def lower_bound_reads(h: Holdings) -> dict[str, int]:
    """The reads no client can avoid to plan this configuration, by what they read.

    One token; the course list (codes to ids); the detail of each managed course that
    exists (the list view lacks settings); the catalog list and the Salesforce catalog's
    items; the group list and each named group's detail (rules are only in the detail);
    every user (usernames: the enrollment list gives ids only, and the user list has no id
    filter); and every enrollment in the named courses, in one combined course filter.
    All lists at the largest page size.
    """
    reads = {
        "token": 1,
        "course list": pages(h.courses),
        "course detail": h.managed_courses,
        "catalog list": pages(h.catalogs),
        "catalog items": pages(h.catalog_items) if h.catalog_exists else 0,
        "group list": pages(h.groups),
        "group detail": h.named_groups,
        "users": pages(h.users),
        "enrollments": pages(h.enrollments) if h.named_courses else 0,
    }
    return reads


def _course_of(address: str) -> str:
    rest = address.removeprefix("enrollment.")
    return max((c for c in NAMED_CODES if rest.startswith(c + ".")), key=len, default="")


def lower_bound_writes(changes: list[dict[str, Any]]) -> dict[str, int]:
    """The writes no client can avoid to carry out a plan's changes, by kind.

    One call per course created or updated and per group created or updated (no batch
    API); catalogs and catalog items through their batch endpoints; new enrollments in
    batches of the client's chunk size (a batch may mix courses); enrollment updates in
    bulk, one call per course and identical set of fields per chunk of the client's size.
    Manual changes cost nothing.
    """
    kinds: Counter[str] = Counter()
    creates = 0
    updates: Counter[tuple[str, str]] = Counter()
    for change in changes:
        kind, action = change["type"], change["action"]
        if action == "manual":
            continue
        if kind == "enrollment":
            if action == "create":
                creates += 1
            else:
                fields = json.dumps(change.get("after", {}), sort_keys=True)
                updates[(_course_of(change["address"]), fields)] += 1
        else:
            kinds[f"{kind} {action}"] += 1
    writes = {
        name: (pages(n, paths.ENROLL_CHUNK) if name.startswith("catalog") else n)
        for name, n in sorted(kinds.items())
    }
    if creates:
        writes["enrollment batches"] = pages(creates, paths.ENROLL_CHUNK)
    if updates:
        writes["enrollment updates"] = sum(pages(n, paths.UPDATE_CHUNK) for n in updates.values())
    # Proving every write took (certops/readback.py): a tenant may answer success and
    # ignore a field, so a client that must be right reads back what it wrote: one detail
    # read per course or group written, the catalog list and its items per catalog item,
    # and the first row of each enrollment batch.
    readback = sum(n for name, n in kinds.items() if name.startswith(("course", "group")))
    readback += 2 * sum(n for name, n in kinds.items() if name.startswith("catalog_item"))
    readback += writes.get("enrollment batches", 0)
    if readback:
        writes["read-back"] = readback
    # One writer at a time cannot be enforced across machines, so right before each create
    # of a course, group or catalog one narrow read checks another writer has not made it
    # since the plan was read (a search by code or name, or the catalog list).
    checks = sum(n for name, n in kinds.items() if name in CHECKED_CREATES)
    if checks:
        writes["create checks"] = checks
    return writes


CHECKED_CREATES = ("course create", "group create", "catalog create")


# --- running certops ----------------------------------------------------------------------------


@dataclass(slots=True)
class Phase:
    name: str
    calls: dict[str, int]
    lower_bound: dict[str, int]
    wall_s: float
    cpu_s: float
    server_cpu_s: float | None
    peak_mb: float
    exit_code: int
    changes: int | None = None  # non-manual changes in the plan
    note: str = ""
    latency_ms: int = 0  # the served sandbox's latency per call
    in_flight: int = 0  # requests certops may have in flight (1 for the naive script)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def total_bound(self) -> int:
        return sum(self.lower_bound.values())

    @property
    def ratio(self) -> float:
        return self.total_calls / self.total_bound if self.total_bound else math.nan

    @property
    def ideal(self) -> float:
        """``ideal_s`` at this phase's own latency and requests in flight."""
        return self.ideal_s(self.latency_ms, self.in_flight)

    @property
    def wall_per_ideal(self) -> float:
        return self.wall_s / self.ideal if self.ideal > 0 else math.nan

    def ideal_s(self, latency_ms: int, in_flight: int) -> float:
        """The latency-bound wall time of this phase's own calls: reads (and the token)
        ``in_flight`` at a time, writes one at a time (certops serialises every write, as
        Docebo asks of its batch APIs); each call costs exactly the server's latency."""
        reads = sum(n for k, n in self.calls.items() if k.startswith("GET ") or "oauth2" in k)
        writes = self.total_calls - reads
        return latency_ms / 1000 * (reads / in_flight + writes)


@contextlib.contextmanager
def recorded_connections() -> Iterator[list[Any]]:
    """Every connection certops opens while inside (whichever module opens it), to read
    its call counts afterwards."""
    opened: list[Any] = []
    original = Connection.open

    async def recording(self: Connection[Any]) -> Any:
        opened.append(self)
        return await original(self)

    Connection.open = recording  # type: ignore[method-assign]
    try:
        yield opened
    finally:
        Connection.open = original  # type: ignore[method-assign]


def run_in_process(args: list[str], output: Path) -> tuple[int, float, float, list[Any]]:
    """Runs ``certops ARGS`` in this process, its stdout and stderr to ``output``; returns
    (exit code, wall s, CPU s, the connections it opened, for their call counts)."""
    reset_peak_memory()
    saved_argv = sys.argv
    sys.argv = ["certops", *args]
    code = 0
    with (
        recorded_connections() as opened,
        output.open("w", encoding="utf-8") as sink,
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            certops_main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.argv = saved_argv
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return code, wall, cpu, opened


def run_certops(args: list[str], output: Path, server: Server) -> tuple[dict[str, int], dict]:
    """Runs ``certops ARGS`` in this process; returns its API calls and measurements."""
    server_before = server.cpu_s()
    code, wall, cpu, opened = run_in_process(args, output)
    server_after = server.cpu_s()
    calls: Counter[str] = Counter()
    for connection in opened:
        calls.update(connection.call_counts)
    measured = {
        "wall_s": wall,
        "cpu_s": cpu,
        "server_cpu_s": (
            server_after - server_before
            if server_after is not None and server_before is not None
            else None
        ),
        "peak_mb": peak_memory_mb(),
        "exit_code": code,
    }
    return dict(calls), measured


def plan_changes(path: Path) -> list[dict[str, Any]]:
    """The changes of a saved plan (``plan --out``)."""
    try:
        return list(json.loads(path.read_text(encoding="utf-8"))["changes"])
    except (OSError, ValueError, KeyError) as exc:
        raise BenchmarkError(
            f"certops plan did not save a readable plan at {path}: {exc}"
        ) from None


def _api_changes(changes: list[dict[str, Any]]) -> int:
    return sum(1 for c in changes if c["action"] != "manual")


def _check_exit(phase: str, code: int, allowed: tuple[int, ...], output: Path) -> None:
    if code not in allowed:
        tail = output.read_text(encoding="utf-8").strip().splitlines()[-3:]
        raise BenchmarkError(
            f"certops {phase} exited {code} (expected {' or '.join(map(str, allowed))}): "
            + (" | ".join(tail) or "no output")
        )


def naive_baseline(server: Server, h: Holdings, log: Path) -> Phase:
    """One learner at a time, as a hand-written script would, on a sample of learners.

    Per learner: find the user by username, then read their enrollment in each named course
    (one call per course); plus a token and the course list once. Calls and wall time are
    measured on the sample and extrapolated to every user (the script cannot know in advance
    who has enrollments). One call at a time, as such scripts do."""
    sample = list(h.sample_usernames)
    if not sample:
        raise BenchmarkError("the sandbox has no users to sample for the naive baseline")

    async def run() -> tuple[dict[str, int], int]:
        async with connect_reader(parse_address(server.url), max_in_flight=1) as reader:
            courses = {c.code: c.id for c in await reader.list_courses()}
            ids = [courses[code] for code in NAMED_CODES if code in courses]
            fixed = sum(reader.call_counts.values())
            for username in sample:
                user = await reader.find_user(username)
                if user is None:
                    raise BenchmarkError(f"naive baseline: user {username} not found")
                for course_id in ids:
                    await reader.list_enrollments([course_id], [user.id])
            return reader.call_counts, fixed

    wall, cpu = time.perf_counter(), time.process_time()
    with log.open("w", encoding="utf-8") as sink, contextlib.redirect_stderr(sink):
        calls, fixed = asyncio.run(run())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    per_learner = (sum(calls.values()) - fixed) / len(sample)
    scale = h.users / len(sample)
    extrapolated = {
        endpoint: round(n * scale) if "enrollments" in endpoint or endpoint.endswith("user") else n
        for endpoint, n in calls.items()
    }
    return Phase(
        name="naive",
        calls=extrapolated,
        lower_bound=lower_bound_reads(h),
        wall_s=wall * scale,
        cpu_s=cpu * scale,
        server_cpu_s=None,
        peak_mb=math.nan,
        exit_code=0,
        note=f"extrapolated from {len(sample)} learners ({per_learner:.0f} calls each)",
        in_flight=1,
    )


def _report(phase: Phase, latency_ms: int, in_flight: int) -> Phase:
    """Notes a finished phase on stderr (long runs show progress); returns it."""
    phase.latency_ms = latency_ms
    phase.in_flight = phase.in_flight or in_flight
    print(
        f"  {phase.name}: {phase.total_calls:,} calls (bound {phase.total_bound:,}), "
        f"{phase.wall_s:.1f} s wall (latency-bound ideal {phase.ideal:.1f} s, "
        f"{phase.wall_per_ideal:.2f}x), {phase.cpu_s:.2f} s CPU",
        file=sys.stderr,
        flush=True,
    )
    return phase


@dataclass(slots=True)
class SizeResult:
    learners: int
    users: int
    enrollments_before: int
    enrollments_after: int
    build_s: float
    phases: list[Phase] = field(default_factory=list)


def run_size(
    learners: int,
    work: Path,
    *,
    latency_ms: int,
    seed: int,
    at: str,
    sample: int,
    max_in_flight: int | None = None,
) -> SizeResult:
    """Builds, serves and measures one sandbox size."""
    folder = work / f"n{learners}"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "certops"
    config.mkdir(exist_ok=True)
    (config / "products.yaml").write_text(CONFIG_YAML, encoding="utf-8")
    db = folder / "sandbox.db"
    started = time.perf_counter()
    try:
        init_sandbox(db, demo=True, learners=learners, seed=seed, overwrite=True)
    except ConfigError as exc:
        first = exc.problems[0] if exc.problems else exc
        raise BenchmarkError(
            f"the demo dataset for {learners:,} learners (seed {seed}) does not load: "
            f"{len(exc.problems)} problem(s), first: {first}"
        ) from None
    build_s = time.perf_counter() - started
    stored = read_credentials(db)
    credentials = {"client_id": stored.client_id, "client_secret": stored.client_secret}
    # The CLI reads credentials from the environment only, as it would against a tenant.
    os.environ["DOCEBO_CLIENT_ID"] = stored.client_id
    os.environ["DOCEBO_CLIENT_SECRET"] = stored.client_secret
    for name in ("DOCEBO_USERNAME", "DOCEBO_PASSWORD", "CERTOPS_LMS", "CERTOPS_AT"):
        os.environ.pop(name, None)

    with served(db, latency_ms, folder / "server.log") as server:
        fresh = read_holdings(server.url, credentials, sample)
        result = SizeResult(learners, fresh.users, fresh.enrollments, 0, build_s)
        pace = (latency_ms, max_in_flight or DEFAULT_IN_FLIGHT)
        common = [str(config), "--lms", server.url, "--at", at, "--no-color"]
        if max_in_flight is not None:
            common += ["--max-in-flight", str(max_in_flight)]
        if sample:
            result.phases.append(
                _report(naive_baseline(server, fresh, folder / "naive.log"), *pace)
            )

        plan_file = folder / "plan.json"
        out = folder / "plan.out"
        calls, m = run_certops(["plan", *common, "--out", str(plan_file)], out, server)
        _check_exit("plan", m["exit_code"], (0, 3), out)
        changes = plan_changes(plan_file)
        reads = lower_bound_reads(fresh)
        planned = _api_changes(changes)
        writes = lower_bound_writes(changes)
        # The saved plan's changes (176,000 dicts at 100,000 learners) are the benchmark's
        # own memory, not certops': dropped before the phases whose peak is measured.
        del changes
        result.phases.append(_report(Phase("plan", calls, reads, changes=planned, **m), *pace))

        out = folder / "apply.out"
        audit = str(folder / "audit.jsonl")
        args = ["apply", *common, "--yes", "--force", "--audit-log", audit]
        calls, m = run_certops(args, out, server)
        _check_exit("apply", m["exit_code"], (0,), out)
        bound = {**reads, **writes}
        result.phases.append(_report(Phase("apply", calls, bound, changes=planned, **m), *pace))

        after = read_holdings(server.url, credentials, 0)
        result.enrollments_after = after.enrollments
        plan_file = folder / "noop.json"
        out = folder / "noop.out"
        calls, m = run_certops(["plan", *common, "--out", str(plan_file)], out, server)
        _check_exit("no-op plan", m["exit_code"], (0, 3), out)
        left = _api_changes(plan_changes(plan_file))
        note = "" if left == 0 else f"NOT A NO-OP: {left} API changes left after apply"
        phase = Phase("no-op plan", calls, lower_bound_reads(after), changes=left, note=note, **m)
        result.phases.append(_report(phase, *pace))
    return result


# --- output -----------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def render_table(
    results: list[SizeResult], latency_ms: int, baseline_noop_us: float = BASELINE_NOOP_CPU_US
) -> str:
    """The summary table, the calls by endpoint, and the targets with PASS/FAIL."""
    lines = [
        f"certops plan_scale: latency {latency_ms} ms per call, page size "
        f"{paths.DEFAULT_PAGE_SIZE}, enrollment batch {paths.ENROLL_CHUNK}, update chunk "
        f"{paths.UPDATE_CHUNK}",
        "",
    ]
    head = (
        f"{'learners':>9} {'phase':<11} {'calls':>10} {'bound':>7} {'ratio':>6} "
        f"{'wall s':>9} {'ideal s':>8} {'w/ideal':>7} {'CPU s':>7} {'µs/lrn':>7} "
        f"{'srv CPU':>7} {'peak MB':>7} {'changes':>8}  note"
    )
    lines += [head, "-" * len(head)]
    for r in results:
        for p in r.phases:
            lines.append(
                f"{r.learners:>9,} {p.name:<11} {p.total_calls:>10,} {p.total_bound:>7,} "
                f"{_num(p.ratio, 2):>6} {_num(p.wall_s):>9} {_num(p.ideal):>8} "
                f"{_num(p.wall_per_ideal, 2):>7} {_num(p.cpu_s, 2):>7} "
                f"{_num(p.cpu_s / r.learners * 1e6, 0):>7} "
                f"{_num(p.server_cpu_s):>7} {_num(p.peak_mb, 0):>7} "
                f"{'-' if p.changes is None else f'{p.changes:,}':>8}  {p.note}"
            )
    lines.append(
        "(ideal: every call takes exactly the latency, reads "
        "in flight as allowed, writes one at a time; w/ideal = wall / ideal; "
        "µs/lrn = certops CPU per learner)"
    )
    lines.append("")
    for r in results:
        lines.append(
            f"{r.learners:,} learners: {r.users:,} users, {r.enrollments_before:,} enrollments "
            f"in the named courses before apply, {r.enrollments_after:,} after; sandbox built "
            f"in {r.build_s:.1f} s"
        )
        for p in r.phases:
            if p.name == "naive":
                continue
            calls = ", ".join(f"{k} {v:,}" for k, v in sorted(p.calls.items()))
            bound = ", ".join(f"{k} {v:,}" for k, v in p.lower_bound.items() if v)
            lines.append(f"  {p.name}: calls: {calls}")
            lines.append(f"  {' ' * len(p.name)}  bound: {bound}")
    lines += ["", "Targets:"]
    lines += [f"  {line}" for line in check_targets(results, baseline_noop_us)]
    return "\n".join(lines)


def check_targets(
    results: list[SizeResult], baseline_noop_us: float = BASELINE_NOOP_CPU_US
) -> list[str]:
    """One line per target: PASS, FAIL, or not measured. ``baseline_noop_us`` is the no-op
    plan's CPU per learner at 100,000 learners before the work on speed."""
    target_noop_us = baseline_noop_us / 2
    out = []
    ratios = [
        (r.learners, p.name, p.ratio)
        for r in results
        for p in r.phases
        if p.name in ("plan", "apply")
    ]
    worst = max(ratios, key=lambda x: x[2], default=None)
    if worst:
        verdict = "PASS" if worst[2] <= TARGET_RATIO else "FAIL"
        out.append(
            f"{verdict} calls / lower bound <= {TARGET_RATIO} for plan and apply "
            f"(worst {worst[2]:.3f}: {worst[1]} at {worst[0]:,})"
        )
    noop = [
        p for r in results if r.learners >= TARGET_NOOP_SIZE for p in r.phases
        if p.name == "no-op plan"
    ]  # fmt: skip
    if noop:
        verdict = "PASS" if noop[0].wall_s < TARGET_NOOP_WALL_S else "FAIL"
        out.append(
            f"{verdict} no-op plan at {TARGET_NOOP_SIZE:,} learners under "
            f"{TARGET_NOOP_WALL_S:.0f} s wall ({noop[0].wall_s:.1f} s)"
        )
    else:
        out.append(f"---- no-op plan at {TARGET_NOOP_SIZE:,} learners: not run (add the size)")
    for r in results:
        if r.learners not in TARGET_WALL_SIZES:
            continue
        for p in r.phases:
            if p.name == "no-op plan":
                verdict = "PASS" if p.wall_per_ideal <= TARGET_WALL_PER_IDEAL else "FAIL"
                out.append(
                    f"{verdict} no-op plan at {r.learners:,} learners within "
                    f"{TARGET_WALL_PER_IDEAL}x its latency-bound ideal ({p.wall_s:.1f} s / "
                    f"{p.ideal:.1f} s = {p.wall_per_ideal:.2f}x)"
                )
    for r in results:
        for p in r.phases:
            if r.learners >= TARGET_NOOP_SIZE and p.name == "no-op plan":
                per_learner = p.cpu_s / r.learners * 1e6
                verdict = "PASS" if per_learner <= target_noop_us else "FAIL"
                out.append(
                    f"{verdict} no-op plan CPU at {r.learners:,} learners at most "
                    f"{target_noop_us:.0f} µs per learner, half the {baseline_noop_us:.0f} "
                    f"µs before ({per_learner:.0f} µs, {per_learner / baseline_noop_us:.2f}x)"
                )
    for name in ("plan", "apply", "no-op plan"):
        per = [
            (r.learners, p.cpu_s / r.learners) for r in results for p in r.phases if p.name == name
        ]
        steps = [b[1] / a[1] for a, b in itertools.pairwise(per) if a[1] > 0]
        if not steps:
            continue
        verdict = "PASS" if max(steps) <= LINEAR_SLACK else "FAIL"
        shown = ", ".join(f"{n:,}: {v * 1e6:.0f}" for n, v in per)
        out.append(
            f"{verdict} {name} CPU linear in learners (µs per learner {shown}; "
            f"growth allowed {LINEAR_SLACK}x per step)"
        )
    peaks = [(r.learners, p.peak_mb) for r in results for p in r.phases if p.name != "naive"]
    if results and max(r.learners for r in results) >= TARGET_NOOP_SIZE:
        worst_peak = max(peaks, key=lambda x: x[1])
        verdict = "PASS" if worst_peak[1] < TARGET_PEAK_MB else "FAIL"
        out.append(
            f"{verdict} peak memory under {TARGET_PEAK_MB:.0f} MB at {TARGET_NOOP_SIZE:,} "
            f"learners (worst {worst_peak[1]:.0f} MB)"
        )
    elif peaks:
        worst_peak = max(peaks, key=lambda x: x[1])
        out.append(
            f"---- peak memory at {TARGET_NOOP_SIZE:,}: not run (worst so far "
            f"{worst_peak[1]:.0f} MB at {worst_peak[0]:,})"
        )
    return out


# --- command line -------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected learner counts separated by commas, e.g. 1000,10000"
        ) from None
    if not sizes or any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"{text!r}: every size must be 1 or more")
    return sorted(set(sizes))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Measure certops plan/apply at scale against a served sandbox."
    )
    parser.add_argument("--sizes", type=_sizes, default=[1000, 10_000, 100_000],
                        help="learner counts (default 1000,10000,100000)")  # fmt: skip
    parser.add_argument("--latency-ms", type=int, default=50, help="server latency per call")
    parser.add_argument("--seed", type=int, default=0, help="demo dataset seed")
    parser.add_argument("--at", default=DEFAULT_AT, help=f"plan instant (default {DEFAULT_AT})")
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=20,
        help="learners read one at a time for the naive baseline (0: skip)",
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=None,
        help="pass --max-in-flight to certops (default: certops' own default)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the sandboxes and outputs")
    parser.add_argument("--work", type=Path, help="folder for sandboxes (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--baseline-noop-us",
        type=float,
        default=BASELINE_NOOP_CPU_US,
        help="the no-op plan's CPU per learner at 100,000 learners before the speed work, "
        f"measured on this machine (default {BASELINE_NOOP_CPU_US:.0f}, the reference "
        "machine's); the target is half of it",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; returns 0 when every measured target holds, 1 otherwise."""
    args = _parser().parse_args(argv)
    if args.latency_ms < 0 or args.naive_sample < 0:
        print("error: --latency-ms and --naive-sample must be 0 or more", file=sys.stderr)
        return 2
    if args.max_in_flight is not None and not 1 <= args.max_in_flight <= 32:
        print("error: --max-in-flight must be between 1 and 32", file=sys.stderr)
        return 2
    try:
        datetime.fromisoformat(args.at.replace("Z", "+00:00"))
    except ValueError:
        print(f"error: --at {args.at!r}: expected ISO 8601, e.g. {DEFAULT_AT}", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="certops-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    results: list[SizeResult] = []
    try:
        for n in args.sizes:
            print(f"plan_scale: {n:,} learners ...", file=sys.stderr, flush=True)
            result = run_size(
                n,
                work,
                latency_ms=args.latency_ms,
                seed=args.seed,
                at=args.at,
                sample=args.naive_sample,
                max_in_flight=args.max_in_flight,
            )
            results.append(result)
    except (BenchmarkError, CertopsError, httpx.HTTPError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if results:
            print(render_table(results, args.latency_ms, args.baseline_noop_us))
        print(f"(sandboxes and outputs kept in {work})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    table = render_table(results, args.latency_ms, args.baseline_noop_us)
    print(table)
    if args.json:
        args.json.write_text(
            json.dumps([asdict(r) for r in results], indent=2, default=str) + "\n",
            encoding="utf-8",
        )
    if args.keep or args.work:
        print(f"(sandboxes and outputs kept in {work})", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
    verdicts = check_targets(results, args.baseline_noop_us)
    return 0 if all(line.startswith(("PASS", "----")) for line in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
