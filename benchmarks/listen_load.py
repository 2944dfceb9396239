"""Load test of ``certops listen``: Docebo-style webhooks at a steady rate, with faults.

Run: ``python benchmarks/listen_load.py`` (options: ``--learners`` 1000, ``--events``
5000, ``--rate`` events/s 100, ``--duplicates`` 0.1, ``--delay-ms`` 300, ``--group-size``
1, ``--keep DIR``, ``--json FILE``). Everything runs over real loopback sockets:

1. A sandbox with ``--learners`` learners, each enrolled (not started) in the
   ``events / learners`` courses of one initial path, served by ``certops sandbox serve``;
   a first ``certops apply`` creates the certified course, this year's maintenance course
   and the audience.
2. ``certops listen`` starts; a webhook is registered in the sandbox for the three
   enrollment events with Basic credentials and the faults: ``--duplicates`` of the
   deliveries are sent twice (same message_id), every event waits a random 0..``--delay-ms``
   and each batch is shuffled (out of order).
3. The driver completes the learners' courses through ``/_sandbox/progress`` at
   ``--rate`` per second, in a shuffled order (learners finish at different times). Half
   way through, while the completions go on, ``listen`` is killed (SIGKILL) and started
   again on the same port a second later; the sandbox's deliveries fail meanwhile and
   are retried with back-off (0.5 s doubling to 5 s).
4. When the sandbox has nothing left to deliver and listen's queue is empty, it checks:
   - **zero lost**: every message the sandbox delivered is in listen's queue file;
     every learner is certified;
   - **zero duplicate writes**: per learner, the certified course and the maintenance
     course were each created exactly once (the sandbox fires one ``created`` event per
     enrollment it stores, and the data holds one row each), no certified enrollment
     was updated, and the audit log has one ``done`` line per address and no failure;
   - **same end state as a full apply**: ``certops plan`` afterwards has no enrollment
     change.

Reported: how long listen takes to answer a delivery (200 more sent directly at the
end, one at a time: queued durably, then 2xx), completions per second driven,
deliveries per second listen received (duplicates and listen's own echoes included),
and the time from a learner's last completion to their certification (both instants
are when the sandbox committed the change, so the figure includes delivery, queueing,
the round, the reads and the write).
Exit 0 when every check holds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from certops.sandbox import init_sandbox, load_dataset

ROOT = Path(__file__).resolve().parents[1]
CERTOPS = [sys.executable, "-c", "from certops.cli.main import main; main()"]
SANDBOX_ENV = {"DOCEBO_CLIENT_ID": "certops-sandbox", "DOCEBO_CLIENT_SECRET": "sandbox-secret"}
HOOK_USER, HOOK_PASSWORD = "docebo", "load-test-password"
EVENTS = ["course.enrollment.created", "course.enrollment.updated", "course.enrollment.completed"]


def config_yaml(courses: list[str], year: int) -> str:
    return f"""version: 1
products:
  - id: load
    name: Load
    group: {{name: "Certified: Load"}}
    initial_paths:
      - {{name: all, all_of: [{", ".join(courses)}]}}
    certified_course: {{code: CERT-LD, name: "Certified: Load"}}
    maintenance:
      new_learner_grace_days: 0
      late_completion: reinstate
      periods:
        - id: "{year}"
          course: {{code: MOC-LD-{year}, name: "Load maintenance {year}"}}
          opens: {year}-01-01
          due: {year}-12-31
"""


class Proc:
    """A certops subprocess that prints ``serving at URL`` first."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        self.log = log.open("a")
        self.popen = subprocess.Popen(
            [*CERTOPS, *args],
            cwd=cwd,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.popen.stdout is not None
        first = self.popen.stdout.readline()
        if "serving at http://" not in first:
            self.popen.kill()
            raise SystemExit(f"certops {args[0]} did not start; see {log}")
        self.url = first.split("serving at ", 1)[1].split()[0]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            self.popen.wait(timeout=60)
        self.log.close()


def run_certops(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CERTOPS, *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **SANDBOX_ENV},
        capture_output=True,
        text=True,
        check=False,
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ack_times(url: str, count: int) -> list[float]:
    """How long listen takes to answer deliveries (durably queued, then 2xx): ``count``
    single deliveries for a course no product names (queued, then dropped)."""
    times = []
    auth = httpx.BasicAuth(HOOK_USER, HOOK_PASSWORD)
    with httpx.Client(base_url=url, timeout=30, auth=auth) as client:
        for n in range(count):
            body = {
                "message_id": f"ack-{n}-{time.time_ns()}",
                "event": EVENTS[2],
                "payload": {"user_id": n + 1, "username": "x", "course_id": 999_999_999},
            }
            begin = time.perf_counter()
            answer = client.post("/webhook", json=body)
            times.append(time.perf_counter() - begin)
            assert answer.status_code == 200, answer.text
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=100.0, help="completions per second")
    parser.add_argument("--duplicates", type=float, default=0.1)
    parser.add_argument("--delay-ms", type=int, default=300)
    parser.add_argument("--group-size", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    options = parser.parse_args()
    per_learner = max(1, options.events // options.learners)
    work = Path(options.keep or tempfile.mkdtemp(prefix="listen-load-"))
    work.mkdir(parents=True, exist_ok=True)
    year = datetime.now(UTC).year
    courses = [f"LD-{n}" for n in range(1, per_learner + 1)]
    (work / "config").mkdir(exist_ok=True)
    (work / "config" / "load.yaml").write_text(config_yaml(courses, year))
    names = [f"u{n:05d}" for n in range(1, options.learners + 1)]
    dataset = {
        "users": [{"username": n, "email": f"{n}@example.com"} for n in names],
        "courses": [{"code": c, "name": f"Load course {c}"} for c in courses],
        "enrollments": [{"user": n, "course": c} for n in names for c in courses],
    }
    (work / "data.json").write_text(json.dumps(dataset))
    db = work / "sandbox.db"
    init_sandbox(db, overwrite=True)
    load_dataset(db, work / "data.json")

    sandbox = Proc(["sandbox", "serve", "--db", str(db), "--port", "0"], work, {},
                   work / "sandbox.log")  # fmt: skip
    listen: Proc | None = None
    try:
        applied = run_certops(["apply", "config", "--lms", sandbox.url, "--yes"], work)
        if applied.returncode:
            raise SystemExit(f"the first apply failed:\n{applied.stdout}\n{applied.stderr}")
        admin = httpx.Client(base_url=sandbox.url, timeout=60)
        listen_env = {**SANDBOX_ENV, "CERTOPS_WEBHOOK_USER": HOOK_USER,
                      "CERTOPS_WEBHOOK_PASSWORD": HOOK_PASSWORD}  # fmt: skip
        listen_args = ["listen", "config", "--lms", sandbox.url, "--retry-base", "0.2"]
        listen = Proc([*listen_args, "--port", "0"], work, listen_env, work / "listen.log")
        port = listen.url.rsplit(":", 1)[1]
        hook = admin.post(
            "/_sandbox/webhooks",
            json={
                "url": listen.url + "/webhook",
                "events": EVENTS,
                "username": HOOK_USER,
                "password": HOOK_PASSWORD,
                "group_size": options.group_size,
                "faults": {
                    "duplicate_share": options.duplicates,
                    "delay_ms": options.delay_ms,
                    "out_of_order": True,
                    "seed": options.seed,
                },
            },
        )
        assert hook.status_code == 201, hook.text
        admin.delete("/_sandbox/calls")

        steps = [(n, c) for n in names for c in courses]
        random.Random(options.seed).shuffle(steps)
        interval = 1.0 / options.rate
        started = time.monotonic()
        restart: dict[str, float] = {}

        def restart_listen() -> None:
            # Mid-way, as hard as it gets, while the completions keep coming: the
            # sandbox's deliveries fail until listen is back, and are retried.
            nonlocal listen
            assert listen is not None
            restart["killed_at"] = time.monotonic() - started
            listen.stop(signal.SIGKILL)
            time.sleep(1.0)
            listen = Proc([*listen_args, "--port", port], work, listen_env,
                          work / "listen.log")  # fmt: skip
            restart["back_at"] = time.monotonic() - started

        timer = threading.Timer(len(steps) * interval / 2, restart_listen)
        timer.start()
        for index, (name, course) in enumerate(steps):
            due = started + index * interval
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            answer = admin.post(
                "/_sandbox/progress", json={"user": name, "course": course, "status": "completed"}
            )
            assert answer.status_code == 200, answer.text
        driven_s = time.monotonic() - started
        timer.join()

        def settled() -> bool:
            counts = admin.get("/_sandbox/webhooks").json()
            health = httpx.get(listen.url + "/healthz", timeout=30).json()
            return counts["pending"] == 0 and health["queue_depth"] == 0

        quiet_since = None
        while True:
            if settled():
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 3.0:  # late duplicates have arrived
                    break
            else:
                quiet_since = None
            time.sleep(0.25)
        total_s = time.monotonic() - started - 3.0
        health = httpx.get(listen.url + "/healthz", timeout=30).json()
        acks = ack_times(listen.url, 200)
    finally:
        if listen is not None:
            listen.stop()

    deliveries = admin.get("/_sandbox/webhooks/deliveries").json()["items"]
    calls = admin.get("/_sandbox/calls").json()["items"]
    plan = run_certops(["plan", "config", "--lms", sandbox.url, "--format", "json"], work)
    sandbox.stop()

    delivered_ids = {d["message_id"] for d in deliveries if d["delivered_at"] is not None}
    queue = sqlite3.connect(work / ".certops" / "listen.db")
    received = {r[0] for r in queue.execute("SELECT message_id FROM events")}
    received |= {r[0] for r in queue.execute("SELECT message_id FROM dead_letters")}
    lost = sorted(delivered_ids - received)
    failed_deliveries = [d for d in deliveries if d["failed"]]

    created = Counter(
        (d["user"], d["course"])
        for d in deliveries
        if d["event"] == "course.enrollment.created" and not d["duplicate"]
    )
    cert_updates = [
        d
        for d in deliveries
        if d["course"] == "CERT-LD" and d["event"] == "course.enrollment.updated"
    ]
    moc = f"MOC-LD-{year}"
    doubles = {k: v for k, v in created.items() if v > 1}
    uncertified = [n for n in names if created[(n, "CERT-LD")] != 1]
    no_moc = [n for n in names if created[(n, moc)] != 1]
    audit = [json.loads(x) for x in (work / ".certops" / "audit.jsonl").read_text().splitlines()]
    done = Counter(line["address"] for line in audit if line["kind"] == "done")
    audit_doubles = {a: c for a, c in done.items() if c > 1}
    audit_failed = [line for line in audit if line["kind"] == "failed"]
    plan_changes = [c for c in json.loads(plan.stdout)["changes"] if c["type"] == "enrollment"]
    write_calls = Counter(
        f"{c['method']} {c['path']}"
        for c in calls
        if c["method"] in ("POST", "PUT") and c["path"] != "/oauth2/token"
    )

    last_completion: dict[str, float] = {}
    certified_at: dict[str, float] = {}
    for d in deliveries:
        if d["duplicate"] or d["event"] != "course.enrollment.completed":
            continue
        if d["course"] == "CERT-LD":
            certified_at[d["user"]] = d["fired_at"]
        elif d["course"] in courses:
            last_completion[d["user"]] = max(last_completion.get(d["user"], 0.0), d["fired_at"])
    latencies = [certified_at[n] - last_completion[n] for n in names if n in certified_at]
    result: dict[str, Any] = {
        "learners": options.learners,
        "completions_driven": len(steps),
        "rate_asked": options.rate,
        "completions_per_s": round(len(steps) / driven_s, 1),
        "deliveries": len(deliveries),
        "duplicate_deliveries": sum(1 for d in deliveries if d["duplicate"]),
        "listen_received": health["counts"].get("received", 0),
        "listen_received_per_s": round(len(delivered_ids) / total_s, 1),
        "listen_killed_at_s": round(restart.get("killed_at", 0.0), 1),
        "listen_back_at_s": round(restart.get("back_at", 0.0), 1),
        "total_s": round(total_s, 1),
        "latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "latency_p99_s": round(percentile(latencies, 0.99), 3) if latencies else None,
        "latency_max_s": round(max(latencies), 3) if latencies else None,
        "ack_p50_ms": round(statistics.median(acks) * 1000, 1),
        "ack_p99_ms": round(percentile(acks, 0.99) * 1000, 1),
        "lost": len(lost),
        "failed_deliveries": len(failed_deliveries),
        "duplicate_enrollments": len(doubles),
        "certified_course_updates": len(cert_updates),
        "uncertified": len(uncertified),
        "without_maintenance_enrollment": len(no_moc),
        "audit_double_writes": len(audit_doubles),
        "audit_failures": len(audit_failed),
        "plan_enrollment_changes_after": len(plan_changes),
        "write_calls": dict(write_calls),
        "listen_counts": health["counts"],
        "dead_letters": health["dead_letters"],
        "work": str(work),
    }
    print(json.dumps(result, indent=2))
    if options.json:
        Path(options.json).write_text(json.dumps(result, indent=2) + "\n")
    ok = not (
        lost
        or failed_deliveries
        or doubles
        or cert_updates
        or uncertified
        or no_moc
        or audit_doubles
        or audit_failed
        or plan_changes
        or health["dead_letters"]
    )
    print("all checks hold" if ok else "CHECKS FAILED", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
