"""Sandbox scale benchmark: load 100,000 users and 500,000 enrollments, then time pages.

Run: ``python benchmarks/sandbox_load.py`` (options: ``--users``, ``--per-user``,
``--courses``, ``--keep DIR``). It writes a JSON dataset, loads it with
``certops.sandbox.load_dataset`` (parse, validate, write), and then times pages of 200
enrollments filtered by course through the real application in-process (httpx
ASGITransport), by page number and by cursor. Targets: load under a minute, a
filtered page in milliseconds.

Then (finding 6 of the scale review) it walks one filter over several courses (``--walk-courses``,
the first N courses, as certops reads its named courses) by cursor, timing every page,
and compares the pages deep in the walk with the early ones: a page must cost about the
same at any position (target: the last tenth's median within 2x the first tenth's). One
page-number request for the walk's last page is timed too, for comparison (``OFFSET``
paging reads every row before the page, in the sandbox as in any SQL store).
For the finding's case (100,000 learners, ~400,000 rows in 13 courses):
``--courses 13 --per-user 4``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from certops.sandbox import create_app, init_sandbox, load_dataset

STATUSES = ("enrolled", "in_progress", "completed", "suspended")


def build_dataset(users: int, per_user: int, courses: int, seed: int) -> dict:
    """Returns a dataset of ``users`` users with ``per_user`` enrollments each."""
    rng = random.Random(seed)
    codes = [f"C-{n:04d}" for n in range(courses)]
    enrollments = []
    for n in range(users):
        for code in rng.sample(codes, per_user):
            status = rng.choice(STATUSES)
            row = {"user": f"u{n:06d}", "course": code, "status": status,
                   "enrolled_at": "2024-01-10T09:00:00Z"}  # fmt: skip
            if status == "completed":
                row["completed_at"] = "2024-03-01T12:00:00Z"
            enrollments.append(row)
    return {
        "users": [
            {
                "username": f"u{n:06d}",
                "email": f"u{n:06d}@example.com",
                "first_name": "User",
                "last_name": str(n),
                "active": n % 50 != 0,
            }
            for n in range(users)
        ],
        "courses": [
            {"code": code, "name": f"Course {code}", "type": "elearning"} for code in codes
        ],
        "enrollments": enrollments,
    }


async def time_pages(db: Path, course_ids: list[int], rounds: int) -> dict[str, list[float]]:
    """Returns request timings (ms) for filtered enrollment pages, per access pattern."""
    app = create_app(db)
    timings: dict[str, list[float]] = {"course/v1 page 1": [], "learn/v1 page 1": [],
                                       "course/v1 by cursor": []}  # fmt: skip
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        token = await client.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": "certops-sandbox",
                  "client_secret": "sandbox-secret"},
        )  # fmt: skip
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        for course_id in course_ids[:rounds]:
            for label, path, params in (
                ("course/v1 page 1", "/course/v1/courses/enrollments", {"course_id[]": course_id}),
                ("learn/v1 page 1", "/learn/v1/enrollments", {"id_course[]": course_id}),
            ):
                start = time.perf_counter()
                answer = await client.get(path, params={**params, "page_size": 200})
                timings[label].append((time.perf_counter() - start) * 1000)
                assert answer.status_code == 200 and answer.json()["data"]["count"] > 0
            params = {"course_id[]": course_id, "page_size": 200, "get_cursor": 1}
            while True:
                start = time.perf_counter()
                answer = await client.get("/course/v1/courses/enrollments", params=params)
                timings["course/v1 by cursor"].append((time.perf_counter() - start) * 1000)
                data = answer.json()["data"]
                if not data["has_more_data"]:
                    break
                params["cursor"] = data["cursor"]
    return timings


async def time_walk(db: Path, course_ids: list[int], page_size: int) -> dict[str, object]:
    """Returns the timings (ms) of a cursor walk over one filter of ``course_ids``: every
    page in order, the rows read, and one page-number request for the last page."""
    app = create_app(db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        token = await client.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": "certops-sandbox",
                  "client_secret": "sandbox-secret"},
        )  # fmt: skip
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        path = "/course/v1/courses/enrollments"
        params: dict[str, object] = {"course_id[]": course_ids, "page_size": page_size}
        params["get_cursor"] = 1
        pages: list[float] = []
        rows = 0
        while True:
            start = time.perf_counter()
            answer = await client.get(path, params=params)
            pages.append((time.perf_counter() - start) * 1000)
            assert answer.status_code == 200, answer.text
            data = answer.json()["data"]
            rows += data["count"]
            if not data["has_more_data"]:
                break
            params["cursor"] = data["cursor"]
        last = {"course_id[]": course_ids, "page_size": page_size, "page": len(pages)}
        start = time.perf_counter()
        answer = await client.get(path, params=last)
        by_number = (time.perf_counter() - start) * 1000
        assert answer.status_code == 200 and answer.json()["data"]["count"] > 0
    return {"pages": pages, "rows": rows, "last_by_number": by_number}


def report_walk(walk: dict[str, object], courses: int) -> bool:
    """Prints the walk's figures; returns whether deep pages cost what early ones do."""
    pages = walk["pages"]
    assert isinstance(pages, list)
    tenth = max(1, len(pages) // 10)
    early, deep = statistics.median(pages[:tenth]), statistics.median(pages[-tenth:])
    ok = deep <= 2 * early
    print(f"cursor walk over {courses} courses: {walk['rows']:,} rows in {len(pages):,} pages, "
          f"{sum(pages) / 1000:.1f} s; first page {pages[0]:.1f} ms, median "
          f"{statistics.median(pages):.1f} ms, max {max(pages):.1f} ms")  # fmt: skip
    print(f"  first tenth median {early:.1f} ms, last tenth median {deep:.1f} ms "
          f"(target <= 2x: {'OK' if ok else 'TOO SLOW'}); the last page by page number "
          f"{walk['last_by_number']:.1f} ms")  # fmt: skip
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--per-user", type=int, default=5)
    parser.add_argument("--courses", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=20, help="courses whose pages are timed")
    parser.add_argument(
        "--walk-courses", type=int, default=13, help="courses in the filter walked by cursor"
    )
    parser.add_argument("--keep", type=Path, help="keep the dataset and sandbox in this folder")
    args = parser.parse_args(argv)
    if args.per_user > args.courses:
        parser.error("--per-user cannot exceed --courses")
    if not 1 <= args.walk_courses <= args.courses:
        parser.error("--walk-courses must be between 1 and --courses")

    folder = args.keep or Path(tempfile.mkdtemp(prefix="certops-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    dataset_file, db = folder / "dataset.json", folder / "sandbox.db"
    start = time.perf_counter()
    dataset = build_dataset(args.users, args.per_user, args.courses, args.seed)
    dataset_file.write_text(json.dumps(dataset))
    total = len(dataset["enrollments"])
    print(f"dataset: {args.users:,} users, {total:,} enrollments, {args.courses} courses "
          f"({dataset_file.stat().st_size / 1e6:.0f} MB) built in "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip
    del dataset

    init_sandbox(db, overwrite=True)
    start = time.perf_counter()
    summary = load_dataset(db, dataset_file)
    load_s = time.perf_counter() - start
    verdict = "OK" if load_s < 60 else "TOO SLOW"
    print(f"load_dataset: {summary} in {load_s:.1f} s (target < 60 s: {verdict})")

    course_ids = list(range(1, args.courses + 1))
    timings = asyncio.run(time_pages(db, course_ids, args.rounds))
    for label, values in timings.items():
        print(f"{label:>22}: median {statistics.median(values):6.1f} ms, "
              f"max {max(values):6.1f} ms over {len(values)} requests")  # fmt: skip
    walk = asyncio.run(time_walk(db, course_ids[: args.walk_courses], 200))
    walk_ok = report_walk(walk, args.walk_courses)
    if not args.keep:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    return 0 if load_s < 60 and walk_ok else 1


if __name__ == "__main__":
    sys.exit(main())
