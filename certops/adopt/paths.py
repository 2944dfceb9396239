"""Guessing a product's initial paths from who completed what, when no group holds them. Pure.

A tenant run by hand may have no group whose rules spell out the initial paths. Its data
still shows them: learners enrolled in a maintenance course were certified, so the
training they all completed is a path. For each set of up to ``MAX_PATH`` candidate
courses (the courses named after the product), the share of its completers who look
certified is measured; a set whose completers nearly all look certified is a path, grown
by every course all of them also completed (a two-course path is found from either of
its courses). Sets well below the best share (a first course that many take without
finishing the path) are not paths. The result is a guess, and the configuration says so.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from itertools import combinations

MAX_PATH = 3  # courses in one guessed path
MIN_COMPLETERS = 3  # fewer completers say nothing
MIN_SHARE = 0.6  # a path's completers who look certified, at least
NEAR_BEST = 0.9  # ... and at least this fraction of the best path's share


def guess_paths(
    candidates: Sequence[str],
    completed: Mapping[str, Collection[str]],
    certified: Collection[str],
) -> tuple[tuple[str, ...], ...]:
    """The initial paths the data suggests, each a sorted tuple of course codes, or ()
    when it suggests none.

    ``completed`` maps a username to the candidate courses they completed; ``certified``
    holds the usernames that look certified (enrolled in a maintenance course)."""
    found: list[tuple[frozenset[str], float]] = []
    codes = sorted(set(candidates))
    for size in range(1, MAX_PATH + 1):
        for combo in combinations(codes, size):
            wanted = frozenset(combo)
            if any(path <= wanted for path, _ in found):
                continue  # a superset of a path is not another path
            users = [u for u, done in completed.items() if wanted <= set(done)]
            if len(users) < MIN_COMPLETERS:
                continue
            share = sum(1 for u in users if u in certified) / len(users)
            if share < MIN_SHARE:
                continue
            together = frozenset.intersection(*(frozenset(completed[u]) for u in users))
            path = wanted | (together & set(codes))
            if all(path != other for other, _ in found):
                found.append((path, share))
    if not found:
        return ()
    best = max(share for _, share in found)
    kept = [path for path, share in found if share >= NEAR_BEST * best]
    # A path that contains another kept path adds nothing (the smaller one certifies).
    minimal = [p for p in kept if not any(q < p for q in kept)]
    return tuple(sorted(tuple(sorted(p)) for p in minimal))
