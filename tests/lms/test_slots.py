"""The client's request slots: a freed slot goes to the read with the most pages left."""

from __future__ import annotations

import asyncio

from certops.lms.pacing import SINGLE, UNKNOWN_LENGTH, Slots


async def _order(
    slots: Slots, priorities: list[float], cancel: frozenset[int] = frozenset()
) -> list[int]:
    """Which waiters got a slot, in order, after the holder lets go (one slot)."""
    got: list[int] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with slots.hold():
            await release.wait()

    async def waiter(i: int, priority: float) -> None:
        async with slots.hold(priority):
            got.append(i)
            await asyncio.sleep(0)

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    tasks = [asyncio.create_task(waiter(i, p)) for i, p in enumerate(priorities)]
    await asyncio.sleep(0)  # every waiter is queued
    for i in cancel:
        tasks[i].cancel()
    release.set()
    await asyncio.gather(first, *tasks, return_exceptions=True)
    return got


def test_most_pages_left_first_then_first_come() -> None:
    got = asyncio.run(_order(Slots(1), [SINGLE, 5, UNKNOWN_LENGTH, 5, 2]))
    assert got == [2, 1, 3, 4, 0]


def test_a_cancelled_waiter_is_skipped_and_no_slot_is_lost() -> None:
    async def run() -> tuple[list[int], list[int]]:
        slots = Slots(1)
        got = await _order(slots, [3, 2, 1], cancel=frozenset({0}))
        # The slot is free again: two holders in turn both get it at once.
        again: list[int] = []
        for i in range(2):
            async with slots.hold():
                again.append(i)
        return got, again

    got, again = asyncio.run(run())
    assert got == [1, 2]
    assert again == [0, 1]


def test_never_more_than_size_in_flight() -> None:
    async def run() -> int:
        slots = Slots(3)
        inside = peak = 0

        async def one(priority: float) -> None:
            nonlocal inside, peak
            async with slots.hold(priority):
                inside += 1
                peak = max(peak, inside)
                for _ in range(3):
                    await asyncio.sleep(0)  # the others try for a slot meanwhile
                inside -= 1

        await asyncio.gather(*(one(i % 4) for i in range(40)))
        return peak

    assert asyncio.run(run()) == 3
