"""CPU per paged read through the client, against a bare stream, on a served sandbox.

Builds the demo sandbox (``--learners``, default 10,000), serves it on loopback with no
added latency, and reads one course's 200-row enrollment pages (about 80 KB each) one
after the other through:

- ``client``: the client's session over httpx (``httpx.AsyncClient`` and its own
  transport: httpcore, h11 and anyio), as a plan reads a tenant;
- ``floor``: a bare asyncio stream that writes the same request, reads the answer by its
  ``Content-Length`` and decodes it, with nothing else: what no HTTP client can beat.

It prints the CPU time of this process per request (median of ``--rounds`` rounds of
``--requests`` requests each; the server's CPU is another process's) and the body size.
Run by hand: ``python benchmarks/transport_cpu.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import orjson
from plan_scale import served

from certops.address import parse_address
from certops.connection import connect_reader
from certops.lms import Credentials, RetryPolicy, paths
from certops.sandbox import init_sandbox, read_credentials

Reader = Callable[[str, Credentials, int, int], Awaitable[int]]


async def client_reads(url: str, credentials: Credentials, course: int, requests: int) -> int:
    address = parse_address(url)
    async with connect_reader(address, credentials=credentials, retry=RetryPolicy()) as reader:
        session = reader._http  # the session a plan's reads go through
        query = {"course_id[]": [str(course)], "page_size": paths.DEFAULT_PAGE_SIZE}
        await session._send("GET", paths.ENROLLMENTS_READ, params={**query, "page": 1})
        started = time.process_time()
        for index in range(requests):
            page = {**query, "page": 1 + index % 10}
            await session._send("GET", paths.ENROLLMENTS_READ, params=page)
        return round((time.process_time() - started) / requests * 1e6)


async def _token(url: str, credentials: Credentials) -> str:
    async with connect_reader(parse_address(url), credentials=credentials) as reader:
        return await reader._http.token()


async def floor_reads(url: str, credentials: Credentials, course: int, requests: int) -> int:
    token = await _token(url, credentials)
    host, port = url.removeprefix("http://").split(":")
    stream, writer = await asyncio.open_connection(host, int(port), limit=1 << 20)
    target = f"{paths.ENROLLMENTS_READ}?course_id%5B%5D={course}&page_size=200&page="
    started = time.process_time()
    for index in range(requests):
        writer.write(
            f"GET {target}{1 + index % 10} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token}\r\n\r\n".encode()
        )
        head = await stream.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        orjson.loads(await stream.readexactly(length))
    elapsed = time.process_time() - started
    writer.close()
    return round(elapsed / requests * 1e6)


async def page_bytes(url: str, credentials: Credentials, course: int) -> int:
    token = await _token(url, credentials)
    async with httpx.AsyncClient(base_url=url) as client:
        answer = await client.get(
            paths.ENROLLMENTS_READ,
            params={"course_id[]": course, "page_size": 200, "page": 1},
            headers={"Authorization": f"Bearer {token}"},
        )
    return len(answer.content)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    readers: dict[str, Reader] = {"client": client_reads, "floor": floor_reads}
    with tempfile.TemporaryDirectory(prefix="certops-transport-") as work:
        db = Path(work) / "sandbox.db"
        init_sandbox(db, demo=True, learners=args.learners, seed=0, overwrite=True)
        stored = read_credentials(db)
        credentials = Credentials(stored.client_id, stored.client_secret, source="sandbox")
        with served(db, 0, Path(work) / "server.log") as server:
            course = 1  # the demo's first course holds every learner's enrollment
            size = asyncio.run(page_bytes(server.url, credentials, course))
            figures: dict[str, list[int]] = {name: [] for name in readers}
            for _ in range(args.rounds):  # interleaved, so that drift hits all alike
                for name, read in readers.items():
                    figures[name].append(
                        asyncio.run(read(server.url, credentials, course, args.requests))
                    )
    print(
        f"transport_cpu: {args.requests} sequential reads of a 200-row enrollment page "
        f"({size:,} bytes) per round, {args.rounds} rounds; CPU of this process per request"
    )
    for name, values in figures.items():
        shown = ", ".join(f"{v:,}" for v in values)
        print(f"  {name:8s} median {statistics.median(values):>7,.0f} µs  ({shown})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
