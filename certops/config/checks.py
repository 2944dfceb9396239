"""Checks beyond the schema, across all files of a configuration.

They run on the raw, located data of every file, including files and products that also
have schema problems, so that one run reports everything it can; every access is guarded,
and a value the schema already rejected is simply skipped here.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from certops.config.model import Location
from certops.config.problems import Problem, format_path
from certops.config.schema import parse_date
from certops.config.yamlpos import PosDict, PosList, locate

JsonPath = list[str | int]


@dataclass(frozen=True, slots=True)
class _Node:
    """A value somewhere in one file: its file's root, its JSON path, and the value."""

    root: PosDict
    path: JsonPath
    value: Any

    @property
    def loc(self) -> Location:
        return locate(self.root, self.path)

    def problem(self, message: str) -> Problem:
        return Problem.at(self.loc, message, format_path(self.path))

    def get(self, *steps: str | int) -> _Node | None:
        """The node below this one, or None if the data does not have that shape."""
        value, path = self.value, list(self.path)
        for step in steps:
            in_dict = isinstance(step, str) and isinstance(value, dict) and step in value
            in_list = isinstance(step, int) and isinstance(value, list) and 0 <= step < len(value)
            if not (in_dict or in_list):
                return None
            value = value[step]
            path.append(step)
        return _Node(self.root, path, value)

    def items(self, *steps: str) -> Iterator[_Node]:
        """The items of the list below this node (none if it is not a list)."""
        node = self.get(*steps)
        if node is not None and isinstance(node.value, PosList):
            for i in range(len(node.value)):
                yield _Node(self.root, [*node.path, i], node.value[i])

    def text(self, *steps: str | int) -> str | None:
        node = self.get(*steps)
        return node.value if node is not None and isinstance(node.value, str) else None


def check_semantics(roots: Sequence[PosDict]) -> list[Problem]:
    """Returns the semantic problems of a configuration made of these files' data."""
    products = [
        product
        for root in roots
        for product in _Node(root, [], root).items("products")
        if isinstance(product.value, PosDict)
    ]
    settings = [node for root in roots if (node := _Node(root, [], root).get("settings"))]
    problems: list[Problem] = []
    problems += _settings_once(settings)
    problems += _duplicates(
        [(p.text("id"), p.get("id")) for p in products], "product id '{}' is defined more than once"
    )
    problems += _duplicates(
        [(p.text("group", "name"), p.get("group", "name")) for p in products],
        "group '{}' is used by more than one product",
    )
    problems += _course_codes(products)
    has_catalog = any(s.get("salesforce_catalog") is not None for s in settings)
    for node in settings:
        problems += _ladder(node.get("digest_ladder"), "settings.digest_ladder")
        problems += _warning_days(node.get("deadline_warning_days"))
    for product in products:
        problems += _ladder(
            product.get("notifications", "digest", "ladder"),
            f"the digest ladder of product '{product.text('id') or '?'}'",
        )
        problems += _paths(product)
        problems += _periods(product)
        problems += _extensions(product)
        sync = product.get("certified_course", "salesforce_sync")
        if sync is not None and sync.value is True and not has_catalog:
            problems.append(
                sync.problem(
                    "salesforce_sync is true but settings.salesforce_catalog is not set; "
                    "add settings: {salesforce_catalog: {code: ..., name: ...}}"
                )
            )
    return problems


def _settings_once(settings: list[_Node]) -> list[Problem]:
    if len(settings) < 2:
        return []
    return [
        node.problem(
            "settings may appear in one file only; also defined at "
            + ", ".join(str(other.loc) for other in settings if other is not node)
        )
        for node in settings
    ]


# Sending frequency of each digest schedule; a rung must send more often than the one above.
_EVERY_RANK = {"monthly": 0, "weekly": 1, "daily": 2}


def _ladder(ladder: _Node | None, name: str) -> list[Problem]:
    """A reminder ladder lists its rungs from the farthest from the deadline to the nearest
    (``from_days`` strictly decreasing, so no two rungs overlap), each sending more often
    than the one above it."""
    if ladder is None:
        return []
    problems: list[Problem] = []
    above: tuple[int, int, str] | None = None  # index, from_days, every of the rung above
    for i, rung in enumerate(ladder.items()):
        days, every_node = rung.get("from_days"), rung.get("every")
        every = every_node.value if every_node is not None else None
        if days is None or type(days.value) is not int or every_node is None:
            above = None  # the schema reports it; compare the next rung with nothing
            continue
        if not isinstance(every, str) or every not in _EVERY_RANK:
            above = None  # the schema reports it; compare the next rung with nothing
            continue
        if above is not None:
            prev_i, prev_days, prev_every = above
            if days.value == prev_days:
                problems.append(
                    days.problem(
                        f"rungs {prev_i + 1} and {i + 1} of {name} both start "
                        f"{days.value} days before the deadline; rungs must not overlap, "
                        "give each its own from_days"
                    )
                )
            elif days.value > prev_days:
                problems.append(
                    days.problem(
                        f"{name} is out of order: rung {i + 1} starts {days.value} days "
                        f"before the deadline, earlier than rung {prev_i + 1} above it "
                        f"({prev_days} days); list rungs from the farthest from the deadline "
                        "to the nearest"
                    )
                )
            elif _EVERY_RANK[every] <= _EVERY_RANK[prev_every]:
                problems.append(
                    every_node.problem(
                        f"rung {i + 1} of {name} sends {every}, not more often than "
                        f"rung {prev_i + 1} above it ({prev_every}); each rung must send more "
                        "often as the deadline nears (monthly, then weekly, then daily)"
                    )
                )
        above = (i, days.value, every)
    return problems


def _warning_days(days: _Node | None) -> list[Problem]:
    """Deadline warning days are listed from the farthest from the deadline to the nearest,
    as the ladder's rungs are."""
    if days is None:
        return []
    problems: list[Problem] = []
    previous: int | None = None
    for item in days.items():
        if type(item.value) is not int:
            continue
        if previous is not None and item.value > previous:
            problems.append(
                item.problem(
                    f"settings.deadline_warning_days is out of order: {item.value} after "
                    f"{previous}; list the days from the farthest from the deadline to the "
                    "nearest, e.g. [30, 7]"
                )
            )
        previous = item.value
    return problems


def _duplicates(entries: list[tuple[str | None, _Node | None]], what: str) -> list[Problem]:
    """One problem at every location of a value that occurs more than once, naming the
    other locations (``what`` is the message, formatted with the value)."""
    seen: dict[str, list[_Node]] = defaultdict(list)
    for value, node in entries:
        if value is not None and node is not None:
            seen[value].append(node)
    problems = []
    for value, nodes in seen.items():
        if len(nodes) < 2:
            continue
        for node in nodes:
            others = ", ".join(str(o.loc) for o in nodes if o is not node)
            problems.append(node.problem(f"{what.format(value)}; also at {others}"))
    return problems


def _course_codes(products: list[_Node]) -> list[Problem]:
    """Courses certops defines (certified and maintenance) must be unique, and none of them
    may double as initial training."""
    defined: list[tuple[str | None, _Node | None]] = []
    roles: dict[str, tuple[str, _Node]] = {}
    for product in products:
        pid = product.text("id") or "?"
        code = product.get("certified_course", "code")
        if code is not None and isinstance(code.value, str):
            defined.append((code.value, code))
            roles.setdefault(code.value, (f"the certified course of product '{pid}'", code))
        for period in product.items("maintenance", "periods"):
            code = period.get("course", "code")
            if code is not None and isinstance(code.value, str):
                defined.append((code.value, code))
                role = f"the maintenance course of period '{period.text('id')}' of product '{pid}'"
                roles.setdefault(code.value, (role, code))
    problems = _duplicates(defined, "course code '{}' is defined more than once")
    for product in products:
        for path in product.items("initial_paths"):
            for course in path.items("all_of"):
                if isinstance(course.value, str) and course.value in roles:
                    role, node = roles[course.value]
                    problems.append(
                        course.problem(
                            f"course '{course.value}' is initial training here and also {role} "
                            f"({node.loc}); a course cannot be both"
                        )
                    )
    return problems


def _paths(product: _Node) -> list[Problem]:
    names = [(p.text("name"), p.get("name")) for p in product.items("initial_paths")]
    return _duplicates(names, "initial path '{}' is defined more than once")


def _periods(product: _Node) -> list[Problem]:
    periods = list(product.items("maintenance", "periods"))
    ids = [(p.text("id"), p.get("id")) for p in periods]
    problems = _duplicates(ids, "period '{}' is defined more than once")
    previous: tuple[str, date, date] | None = None
    for period in periods:
        opens, due = _dated(period, "opens"), _dated(period, "due")
        if opens is None or due is None:
            continue  # missing or not a date: the schema reports it
        pid = period.text("id") or "?"
        (opens_on, opens_node), (due_on, due_node) = opens, due
        if due_on < opens_on:
            problems.append(
                due_node.problem(
                    f"period '{pid}' is due {due_on} before it opens {opens_on}; "
                    "due must be on or after opens"
                )
            )
            continue
        if previous is not None:
            prev_id, prev_opens, prev_due = previous
            if opens_on < prev_opens:
                problems.append(
                    opens_node.problem(
                        f"periods are out of order: '{pid}' opens {opens_on}, before "
                        f"'{prev_id}' listed above it ({prev_opens}); list periods in "
                        "chronological order"
                    )
                )
            elif opens_on <= prev_due:
                problems.append(
                    opens_node.problem(
                        f"period '{pid}' opens {opens_on}, before period '{prev_id}' is due "
                        f"({prev_due}); periods must not overlap"
                    )
                )
        previous = (pid, opens_on, due_on)
    problems += _period_extensions(periods)
    return problems


def _period_extensions(periods: list[_Node]) -> list[Problem]:
    """A whole period's extension moves its deadline later, and ends before the next
    period's last day (extension applied): learners still working on the period when the
    next one is due would otherwise skip the next period altogether."""
    problems: list[Problem] = []
    for i, period in enumerate(periods):
        ext = period.get("extension")
        due = _dated(period, "due")
        until = _dated(ext, "until") if ext is not None else None
        if until is None or due is None:
            continue
        pid = period.text("id") or "?"
        if until[0] < due[0]:
            problems.append(
                until[1].problem(
                    f"period '{pid}' is extended until {until[0]}, before its due date "
                    f"({due[0]}); an extension can only move a deadline later"
                )
            )
            continue
        if i + 1 >= len(periods):
            continue
        following = periods[i + 1]
        next_due = _dated(following, "due")
        if next_due is None:
            continue
        next_last = next_due[0]
        next_ext = following.get("extension")
        next_until = _dated(next_ext, "until") if next_ext is not None else None
        if next_until is not None and next_until[0] > next_last:
            next_last = next_until[0]
        if until[0] >= next_last:
            nid = following.text("id") or "?"
            problems.append(
                until[1].problem(
                    f"period '{pid}' is extended until {until[0]}, not before period "
                    f"'{nid}' ends ({next_last}): everyone still working on '{pid}' would "
                    f"skip '{nid}' altogether; end the extension before {next_last}, or "
                    f"extend '{nid}' too"
                )
            )
    return problems


def _extensions(product: _Node) -> list[Problem]:
    periods = {
        pid: period
        for period in product.items("maintenance", "periods")
        if (pid := period.text("id")) is not None
    }
    problems: list[Problem] = []
    keys: list[tuple[str | None, _Node | None]] = []
    for ext in product.items("extensions"):
        user, period_node = ext.text("user"), ext.get("period")
        if period_node is None or not isinstance(period_node.value, str):
            continue
        period_id = period_node.value
        if user is not None:
            keys.append((f"{user}' for period '{period_id}", ext.get("user")))
        if period_id not in periods:
            known = ", ".join(f"'{p}'" for p in periods) or "none"
            message = (
                f"extension for '{user}' names period '{period_id}', which product "
                f"'{product.text('id')}' does not define (periods: {known})"
            )
            close = difflib.get_close_matches(period_id, list(periods), n=1)
            if close:
                message += f"; did you mean '{close[0]}'?"
            problems.append(period_node.problem(message))
            continue
        until, due = _dated(ext, "until"), _dated(periods[period_id], "due")
        if until is not None and due is not None and until[0] < due[0]:
            problems.append(
                until[1].problem(
                    f"extension for '{user}' until {until[0]} is before period '{period_id}' "
                    f"is due ({due[0]}); an extension can only move a deadline later"
                )
            )
    problems += _duplicates(keys, "extension for user '{}' is listed more than once")
    return problems


def _dated(node: _Node, key: str) -> tuple[date, _Node] | None:
    """The date at ``key`` and its node, or None when it is missing or not a valid date."""
    child = node.get(key)
    if child is None or not isinstance(child.value, str):
        return None
    try:
        return parse_date(child.value), child
    except ValueError:
        return None
