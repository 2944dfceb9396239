"""certops report at scale: API calls against the plan's reads, wall time, peak memory.

For each size it builds the same demo sandbox and three-product configuration as
``plan_scale.py`` (``init_sandbox(..., demo=True, learners=N, seed=S)``), serves it with
``certops sandbox serve --latency-ms L`` in a subprocess, and runs in this process, through
the CLI entry point exactly as a user would type them:

1. ``certops plan CONFIG`` (the reads ``report`` must not exceed);
2. ``certops report CONFIG --format csv --out report.csv``;
3. ``certops report CONFIG --format json --out report.json``;
4. ``certops report CONFIG --format html --out report.html`` (only up to ``--html-max``
   learners: it evaluates every learner at ~37 instants for its charts).

It prints, per size and phase: API calls, the plan's calls and the lower bound of
``plan_scale.lower_bound_reads``, rows written, wall time, certops CPU time, and the peak
resident memory of this process during the phase.

    python benchmarks/report_scale.py --sizes 1000,100000 [--latency-ms 50] [--html-max 10000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import plan_scale
from plan_scale import (
    CONFIG_YAML,
    DEFAULT_AT,
    BenchmarkError,
    Server,
    lower_bound_reads,
    peak_memory_mb,
    read_holdings,
    run_in_process,
    served,
)

from certops.sandbox import init_sandbox, read_credentials


@dataclass(slots=True)
class Phase:
    name: str
    calls: int
    wall_s: float
    cpu_s: float
    peak_mb: float
    rows: int | None = None
    size_mb: float | None = None


@dataclass(slots=True)
class SizeResult:
    learners: int
    users: int
    enrollments: int
    bound: int
    phases: list[Phase] = field(default_factory=list)


def run_phase(name: str, args: list[str], log: Path, result: Path | None = None) -> Phase:
    """Runs ``certops ARGS`` in this process and measures it."""
    code, wall, cpu, opened = run_in_process(args, log)
    if code not in (0, 3):
        tail = log.read_text(encoding="utf-8").strip().splitlines()[-3:]
        raise BenchmarkError(f"certops {name} exited {code}: " + (" | ".join(tail) or "-"))
    calls: Counter[str] = Counter()
    for connection in opened:
        calls.update(connection.call_counts)
    rows = size = None
    if result is not None:
        size = result.stat().st_size / (1024 * 1024)
        if result.suffix == ".csv":
            with result.open(encoding="utf-8") as lines:
                rows = sum(1 for _ in lines) - 1
    phase = Phase(name, sum(calls.values()), wall, cpu, peak_memory_mb(), rows, size)
    print(
        f"  {name}: {phase.calls} calls, {wall:.1f} s wall, {cpu:.1f} s CPU, "
        f"{phase.peak_mb:.0f} MB peak",
        file=sys.stderr,
        flush=True,
    )
    return phase


def run_size(learners: int, work: Path, *, latency_ms: int, seed: int, at: str,
             html_max: int) -> SizeResult:  # fmt: skip
    """Builds, serves and measures one sandbox size."""
    folder = work / f"n{learners}"
    config = folder / "certops"
    config.mkdir(parents=True, exist_ok=True)
    (config / "products.yaml").write_text(CONFIG_YAML, encoding="utf-8")
    db = folder / "sandbox.db"
    init_sandbox(db, demo=True, learners=learners, seed=seed, overwrite=True)
    stored = read_credentials(db)
    os.environ["DOCEBO_CLIENT_ID"] = stored.client_id
    os.environ["DOCEBO_CLIENT_SECRET"] = stored.client_secret
    for name in ("DOCEBO_USERNAME", "DOCEBO_PASSWORD", "CERTOPS_LMS", "CERTOPS_AT"):
        os.environ.pop(name, None)
    credentials = {"client_id": stored.client_id, "client_secret": stored.client_secret}
    with served(db, latency_ms, folder / "server.log") as server:
        return _measure(learners, folder, config, server, credentials, at, html_max)


def _measure(
    learners: int,
    folder: Path,
    config: Path,
    server: Server,
    credentials: dict[str, str],
    at: str,
    html_max: int,
) -> SizeResult:
    holdings = read_holdings(server.url, credentials, 0)
    bound = sum(lower_bound_reads(holdings).values())
    result = SizeResult(learners, holdings.users, holdings.enrollments, bound)
    common = [str(config), "--lms", server.url, "--at", at]
    result.phases.append(
        run_phase("plan", ["plan", *common, "--no-color", "--format", "json"], folder / "plan.out")
    )
    for fmt in ("csv", "json", "html"):
        if fmt == "html" and learners > html_max:
            continue
        out = folder / f"report.{fmt}"
        args = ["report", *common, "--format", fmt, "--out", str(out)]
        result.phases.append(run_phase(f"report {fmt}", args, folder / f"report-{fmt}.log", out))
    return result


def render(results: list[SizeResult], latency_ms: int) -> str:
    """The summary table; report calls are checked against the plan's at each size."""
    lines = [f"certops report_scale: latency {latency_ms} ms per call", ""]
    head = (
        f"{'learners':>9} {'phase':<12} {'calls':>6} {'plan':>5} {'bound':>6} {'rows':>9} "
        f"{'out MB':>7} {'wall s':>7} {'CPU s':>7} {'peak MB':>8}"
    )
    lines += [head, "-" * len(head)]
    verdicts = []
    for r in results:
        plan_calls = next(p.calls for p in r.phases if p.name == "plan")
        for p in r.phases:
            lines.append(
                f"{r.learners:>9,} {p.name:<12} {p.calls:>6,} {plan_calls:>5,} {r.bound:>6,} "
                f"{'-' if p.rows is None else f'{p.rows:,}':>9} "
                f"{'-' if p.size_mb is None else f'{p.size_mb:.1f}':>7} "
                f"{p.wall_s:>7.1f} {p.cpu_s:>7.1f} {p.peak_mb:>8.0f}"
            )
            if p.name.startswith("report"):
                same = p.calls == plan_calls
                verdicts.append(
                    f"{'PASS' if same else 'FAIL'} {p.name} at {r.learners:,}: {p.calls} calls, "
                    f"the plan's {plan_calls}"
                )
        lines.append(
            f"{'':>9} ({r.users:,} users, {r.enrollments:,} enrollments in the named courses)"
        )
    return "\n".join([*lines, "", *verdicts])


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; 0 when every report made exactly the plan's calls."""
    parser = argparse.ArgumentParser(description="Measure certops report at scale.")
    parser.add_argument("--sizes", type=plan_scale._sizes, default=[1000, 100_000])
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--at", default=DEFAULT_AT)
    parser.add_argument("--html-max", type=int, default=10_000,
                        help="largest size that also gets an HTML report")  # fmt: skip
    parser.add_argument("--work", type=Path, help="keep sandboxes and outputs here")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="certops-report-"))
    results = []
    try:
        for n in args.sizes:
            print(f"report_scale: {n:,} learners ...", file=sys.stderr, flush=True)
            results.append(
                run_size(
                    n,
                    work,
                    latency_ms=args.latency_ms,
                    seed=args.seed,
                    at=args.at,
                    html_max=args.html_max,
                )
            )
    except BenchmarkError as exc:
        print(f"error: {exc} (outputs in {work})", file=sys.stderr)
        return 1
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    text = render(results, args.latency_ms)
    print(text)
    return 0 if "FAIL" not in text else 1


if __name__ == "__main__":
    sys.exit(main())
