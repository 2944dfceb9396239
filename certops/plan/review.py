"""What a pull request changes: the configuration's differences from a base configuration
(the branch it will merge into) in words, and what they do, as the plan's changes that a
plan of the base configuration would not hold, read from one LMS snapshot at one instant.

``certops plan --base PATH`` puts this first in the Markdown plan, so that a reviewer of
"add an extension for learner0066" reads the learner, the new date and the reason before
anything else. Manual steps that the base's plan shows too were already shown and still
wait for a person: the Markdown collapses them to one line.

Pure: two configurations and two plans in, records out.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from certops.config.model import Config, Extension, Product, Reinstatement, Revocation
from certops.instants import format_instant_seconds
from certops.plan.classes import change_key
from certops.plan.model import Action, Change, Plan


@dataclass(frozen=True, slots=True)
class ConfigDifference:
    """One difference of the configuration, in words: ``product`` (None for settings)
    and ``text`` (``extension for learner0066 in 2026: due 2027-01-31, reason: ...``)."""

    product: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Review:
    """What a pull request changes: ``differences`` of the configuration, the plan's
    changes it brings (``introduced``: not in the base's plan) and ends (``withdrawn``: in
    the base's plan only), and ``waiting``: the manual steps both plans show."""

    differences: tuple[ConfigDifference, ...]
    introduced: tuple[Change, ...]
    withdrawn: tuple[Change, ...]
    waiting: tuple[Change, ...]


def _value(value: Any) -> str:
    if isinstance(value, datetime):
        return format_instant_seconds(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {
            f.name: _value(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "location"
        }
        return json.dumps(fields, ensure_ascii=False)
    if isinstance(value, tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if value is None:
        return "none"
    return str(value)


def _reason(reason: str) -> str:
    return f", reason: {reason}" if reason else ""


def _extension(item: Extension) -> str:
    return f"extension for {item.user} in {item.period}: due {item.until.isoformat()}"


def _reinstatement(item: Reinstatement) -> str:
    return f"reinstatement of {item.user} at {format_instant_seconds(item.at)}"


def _revocation(item: Revocation) -> str:
    return f"revocation of {item.user} at {format_instant_seconds(item.at)}"


def _exceptions(product: str, base: Product, head: Product) -> list[ConfigDifference]:
    """Extensions by (user, period), reinstatements and revocations by user and instant:
    added, removed, or changed (a new date or reason)."""
    out: list[ConfigDifference] = []
    lists: tuple[tuple[str, Any, Any], ...] = (
        ("extensions", lambda e: (e.user, e.period), _extension),
        ("reinstatements", lambda e: (e.user, e.at), _reinstatement),
        ("revocations", lambda e: (e.user, e.at), _revocation),
    )
    for name, key, words in lists:
        old = {key(item): item for item in getattr(base, name)}
        new = {key(item): item for item in getattr(head, name)}
        for k, item in new.items():
            before = old.get(k)
            if before is None:
                out.append(ConfigDifference(product, f"{words(item)}{_reason(item.reason)}"))
            elif before != item:
                text = f"{words(item)}{_reason(item.reason)} (was: {words(before)}"
                out.append(ConfigDifference(product, text + f"{_reason(before.reason)})"))
        for k, item in old.items():
            if k not in new:
                text = f"{words(item)}{_reason(item.reason)}: removed"
                out.append(ConfigDifference(product, text))
    return out


def _keyed(items: tuple[Any, ...]) -> dict[str, Any] | None:
    """A tuple of records with an ``id`` (periods) or ``name`` (paths) keyed by it."""
    for attr in ("id", "name"):
        if items and all(hasattr(i, attr) for i in items):
            keys = [str(getattr(i, attr)) for i in items]
            if len(set(keys)) == len(keys):
                return dict(zip(keys, items, strict=True))
    return None


def _walk(path: str, old: Any, new: Any, out: list[str]) -> None:
    """The paths where ``old`` and ``new`` differ, with both values in words."""
    if old == new:
        return
    if dataclasses.is_dataclass(old) and not isinstance(old, type) and type(old) is type(new):
        for f in dataclasses.fields(old):
            if f.name != "location":
                _walk(f"{path}.{f.name}", getattr(old, f.name), getattr(new, f.name), out)
        return
    if isinstance(old, tuple) and isinstance(new, tuple):
        a, b = _keyed(old), _keyed(new)
        if a is not None and b is not None:
            for k in [*a, *(k for k in b if k not in a)]:
                if k not in b:
                    out.append(f"{path}[{k}]: removed")
                elif k not in a:
                    out.append(f"{path}[{k}]: added {_value(b[k])}")
                else:
                    _walk(f"{path}[{k}]", a[k], b[k], out)
            return
    out.append(f"{path}: {_value(old)} → {_value(new)}")


def config_differences(base: Config, head: Config) -> tuple[ConfigDifference, ...]:
    """How ``head`` differs from ``base``, product by product then the settings."""
    out: list[ConfigDifference] = []
    old = {p.id: p for p in base.products}
    new = {p.id: p for p in head.products}
    for pid, product in new.items():
        before = old.get(pid)
        if before is None:
            out.append(ConfigDifference(pid, f"new product {product.name}"))
            continue
        out += _exceptions(pid, before, product)
        skip = ("extensions", "reinstatements", "revocations", "location")
        for f in dataclasses.fields(product):
            if f.name in skip:
                continue
            paths: list[str] = []
            _walk(f.name, getattr(before, f.name), getattr(product, f.name), paths)
            out += [ConfigDifference(pid, text) for text in paths]
    for pid in old:
        if pid not in new:
            out.append(ConfigDifference(pid, "removed from the configuration (certops stops "
                                             "managing it; nothing is deleted)"))  # fmt: skip
    paths = []
    _walk("settings", base.settings, head.settings, paths)
    out += [ConfigDifference(None, text) for text in paths]
    return tuple(out)


def _keys(changes: Iterable[Change]) -> set[tuple[str, str, str]]:
    return {change_key(c) for c in changes}


def review(base: Config, head: Config, base_plan: Plan, head_plan: Plan) -> Review:
    """What ``head`` changes against ``base``: both plans are made from one snapshot at
    one instant, so whatever differs between them is the configuration's doing."""
    before, after = _keys(base_plan.changes), _keys(head_plan.changes)
    introduced = tuple(c for c in head_plan.changes if change_key(c) not in before)
    withdrawn = tuple(c for c in base_plan.changes if change_key(c) not in after)
    waiting = tuple(
        c for c in head_plan.changes if c.action is Action.MANUAL and change_key(c) in before
    )
    return Review(config_differences(base, head), introduced, withdrawn, waiting)


def differences_by_product(
    differences: Sequence[ConfigDifference],
) -> dict[str | None, list[str]]:
    """The differences' texts grouped by product (None: settings), in order."""
    out: dict[str | None, list[str]] = {}
    for item in differences:
        out.setdefault(item.product, []).append(item.text)
    return out
