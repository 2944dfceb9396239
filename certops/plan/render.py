"""Renderings of a plan: text for people, JSON for machines (Markdown: ``markdown.py``).

Text starts with one summary line per product, then the changes grouped by product and
type: ``+`` create, ``~`` update with ``field: old → new``, ``!`` manual with its steps.
More than ``SUMMARISE_OVER`` enrollment changes of one kind (same course, action and status
change) become one line with a count and the first few usernames; the full list is in the
JSON. Everything is linear in the number of changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from certops.escape import visible
from certops.plan.effects import NOUNS, effect, effect_counts, effects_text
from certops.plan.jsonio import (
    class_counts,
    iso_utc,
    json_value,
    order_changes,
    plan_to_dict,
)
from certops.plan.model import (
    TYPE_ORDER,
    Action,
    Change,
    ChangeClass,
    ChangeType,
    Plan,
    SafetyTrip,
    Skip,
)
from certops.plan.review import Review

SUMMARISE_OVER = 20  # more enrollment changes than this of one kind are summarised
NAMES_SHOWN = 5  # usernames shown in a summarised line
LIST_SHOWN = 50  # warnings / skip groups shown in text before "and N more"
VALUE_WIDTH = 120  # longer values are cut in text (the JSON has them whole)
SHARED = "(shared)"  # the label of changes that belong to no single product

CLASS_MEANING = {
    ChangeClass.DRIFT: "the LMS moved away from what certops set or the unchanged config",
    ChangeClass.SCHEDULE: "due because time passed",
    ChangeClass.CONFIG: "the configuration asks for it",
}

SYMBOL = {Action.CREATE: "+", Action.UPDATE: "~", Action.MANUAL: "!"}

_ANSI = {
    "create": "\x1b[32m",
    "update": "\x1b[33m",
    "manual": "\x1b[36m",
    "reason": "\x1b[2m",
    "heading": "\x1b[1m",
    "blocked": "\x1b[1;31m",
    "warning": "\x1b[33m",
}
_RESET = "\x1b[0m"


@dataclass(frozen=True, slots=True)
class _Line:
    """A line of a product's details; ``kind`` picks its colour, ``count`` is how many
    changes it introduces (for the markdown truncation note)."""

    kind: str
    text: str
    count: int = 0


def _label(product: str | None) -> str:
    return product if product is not None else SHARED


def _fmt(value: Any) -> str:
    text = json.dumps(json_value(value), ensure_ascii=False, default=str)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def _by_product(plan: Plan) -> tuple[list[str | None], dict[str | None, list[Change]]]:
    """Products in display order (the plan's products, then any others, shared last) and
    their changes in dependency order."""
    groups: dict[str | None, list[Change]] = {p: [] for p in plan.products}
    for change in order_changes(plan.changes):
        groups.setdefault(change.product, []).append(change)
    named: list[str | None] = [p for p in plan.products]
    named += sorted(p for p in groups if p is not None and p not in plan.products)
    order: list[str | None] = [*named, None] if None in groups else named
    return order, groups


def _change_lines(change: Change) -> list[_Line]:
    kind = change.action.value
    lines = [_Line(kind, f"{SYMBOL[change.action]} {change.address}", 1)]
    if change.reason:
        lines.append(_Line("reason", f"    # {change.reason}"))
    if change.action is Action.MANUAL:
        for i, step in enumerate(change.steps, 1):
            lines.append(_Line("detail", f"    {i}. {step}"))
    elif change.action is Action.UPDATE:
        for name in sorted(set(change.before) | set(change.after)):
            old, new = change.before.get(name), change.after.get(name)
            lines.append(_Line("detail", f"    {name}: {_fmt(old)} → {_fmt(new)}"))
    else:
        for name, value in change.after.items():
            lines.append(_Line("detail", f"    {name}: {_fmt(value)}"))
    return lines


def _enrollment_kind(change: Change) -> tuple[Any, ...]:
    return (
        change.action,
        change.target.course,
        tuple(sorted(change.after)),
        _fmt(change.before.get("status")),
        _fmt(change.after.get("status")),
    )


def _summary_lines(group: list[Change]) -> list[_Line]:
    first = group[0]
    course = first.target.course
    names = [c.target.user for c in group[:NAMES_SHOWN]]
    more = len(group) - len(names)
    if first.action is Action.UPDATE:
        what = "status: {} → {}".format(
            _fmt(first.before.get("status")), _fmt(first.after.get("status"))
        )
        if "status" not in first.after:
            what = "set " + ", ".join(sorted(first.after))
    else:
        what = f"status: {_fmt(first.after.get('status'))}"
    kind = first.action.value
    noun = NOUNS[effect(first)][1]
    return [
        _Line(
            kind,
            f"{SYMBOL[first.action]} {len(group)} {noun} in {course} ({what})",
            len(group),
        ),
        _Line(
            "detail",
            f"    {', '.join(names)} and {more} more (the full list is in --format json)",
        ),
    ]


def _enrollment_lines(changes: list[Change]) -> list[_Line]:
    buckets: dict[tuple[Any, ...], list[Change]] = {}
    for change in changes:
        buckets.setdefault(_enrollment_kind(change), []).append(change)
    lines: list[_Line] = []
    for group in buckets.values():
        if len(group) > SUMMARISE_OVER:
            lines += _summary_lines(group)
        else:
            for change in group:
                lines += _change_lines(change)
    return lines


def _product_lines(changes: list[Change]) -> list[_Line]:
    """The detail lines of one product: a heading per change type, then its changes."""
    by_type: dict[ChangeType, list[Change]] = {}
    for change in changes:
        by_type.setdefault(change.type, []).append(change)
    lines: list[_Line] = []
    for change_type in sorted(by_type, key=TYPE_ORDER.__getitem__):
        group = by_type[change_type]
        lines.append(_Line("heading", f"{change_type.value} ({len(group)})"))
        if change_type is ChangeType.ENROLLMENT:
            lines += _enrollment_lines(group)
        else:
            for change in group:
                lines += _change_lines(change)
    return lines


def _skip_lines(skipped: Sequence[Skip]) -> list[str]:
    """Skips grouped by product and reason, each group with a few of its addresses."""
    groups: dict[tuple[str | None, str], list[str]] = {}
    for skip in skipped:
        groups.setdefault((skip.product, skip.reason), []).append(skip.address)
    out = []
    for (product, reason), addresses in groups.items():
        shown = ", ".join(addresses[:NAMES_SHOWN])
        more = f" and {len(addresses) - NAMES_SHOWN} more" if len(addresses) > NAMES_SHOWN else ""
        out.append(f"{_label(product)}: {len(addresses)} skipped: {reason}: {shown}{more}")
    return out


def _warning_lines(plan: Plan) -> list[str]:
    return [
        f"{_label(w.product)}: {w.message}" + (f" ({w.address})" if w.address else "")
        for w in plan.warnings
    ]


def _capped(lines: list[str], limit: int) -> Iterable[str]:
    yield from lines[:limit]
    if len(lines) > limit:
        yield f"... and {len(lines) - limit} more (the full list is in --format json)"


def percent(value: float, other: float | None = None) -> str:
    """``value`` (a fraction) as a percentage, whole when that is precise enough; with
    ``other``, as many decimals (up to 2) as it takes for the two to read differently, so
    that 25.4% over a 25% limit never reads "25%, limit 25%"."""
    for decimals in (0, 1, 2):
        text = f"{value * 100:.{decimals}f}%"
        if other is None or text != f"{other * 100:.{decimals}f}%":
            return text
    return text


def safety_text(trip: SafetyTrip) -> str:
    """One tripped limit in words, counts first: ``would suspend 50 of 51 (98%, limit 25%;
    settings.safety.max_suspend_fraction)``; a trip saved without its counts reads in
    fractions."""
    if trip.limit == "max_reverted_drift":
        return (
            f"would set back {trip.value:g} value(s) changed in the LMS since certops wrote "
            f"them (limit {trip.threshold:g}; settings.safety.max_reverted_drift): see Drift"
        )
    if trip.limit == "max_reverted_manual":
        return (
            f"would set back {trip.value:g} status(es) set by hand (limit {trip.threshold:g}; "
            "settings.safety.max_reverted_manual): see 'Differs from the rules' below"
        )
    value, limit = percent(trip.value, trip.threshold), percent(trip.threshold, trip.value)
    if trip.suspensions is not None and trip.certified is not None:
        return (
            f"would suspend {trip.suspensions} of {trip.certified} ({value}, limit {limit}; "
            f"settings.safety.{trip.limit})"
        )
    return f"{trip.limit} is {trip.value:g} ({value}), over the limit {trip.threshold:g} ({limit})"


def _safety_lines(plan: Plan) -> list[str]:
    return [f"{s.product}: {safety_text(s)}" for s in plan.safety]


BY_HAND_TITLE = "Differs from the rules: set by hand?"


def by_hand_lines(plan: Plan) -> list[str]:
    """One block per status the plan sets back although no rule or exception gave it:
    the learner, the LMS status, the rules' verdict, and the entry to add to make the
    hand-made status official (``handmade.entry_yaml`` in words)."""
    out = []
    for mark in plan.by_hand:
        pairs = mark.entry.items()
        entry = ", ".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in pairs)
        out += [
            f"{mark.product}: {mark.user}: the LMS says {mark.lms_status}, the rules say "
            f"{mark.rules_status} ({mark.rules_reason}); the plan sets it to {mark.rules_status} "
            f"({mark.address})",
            f"    to keep it {mark.lms_status}, add to product {mark.product}'s {mark.add_to}:",
            f"      - {{{entry}}}",
        ]
    return out


def _by_class(changes: list[Change]) -> list[tuple[ChangeClass | None, list[Change]]]:
    """The changes by class (drift first: it is what a reviewer must explain), in order;
    unclassified changes (plans saved before classes) last."""
    groups: dict[ChangeClass | None, list[Change]] = {}
    for change in changes:
        groups.setdefault(change.change_class, []).append(change)
    ranked = [*ChangeClass, None]
    return [(c, groups[c]) for c in ranked if c in groups]


def review_lines(review: Review) -> list[str]:
    """What a configuration changes against its base (``plan --base``), in words, then the
    changes it brings and those it withdraws (counted by what they do, the first few
    listed)."""
    out = ["This configuration, against the base:"]
    for item in review.differences:
        out.append(f"  {_label(item.product) if item.product else 'settings'}: {item.text}")
    if not review.differences:
        out.append("  changes nothing certops reads")
    for title, changes in (("brings", review.introduced), ("withdraws", review.withdrawn)):
        if not changes:
            continue
        out.append(f"  and {title}: {effects_text(effect_counts(changes))}")
        out += [f"    {SYMBOL[c.action]} {c.address}: {c.reason}" for c in changes[:NAMES_SHOWN]]
        if len(changes) > NAMES_SHOWN:
            out.append(f"    ... and {len(changes) - NAMES_SHOWN} more")
    return out


def render_text(plan: Plan, color: bool, review: Review | None = None) -> str:
    """The plan for a terminal: what the configuration changes against a base (with
    ``review``), summary per product, safety trips, the changes by product and type,
    warnings and skips, and a closing count (or "No changes."). ANSI colour only when
    ``color`` is true."""

    def paint(kind: str, text: str) -> str:
        # Tenant text (usernames, codes, messages) never reaches a terminal as control
        # characters: escapes are made visible before certops adds its own colours.
        text = visible(text)
        return f"{_ANSI[kind]}{text}{_RESET}" if color and kind in _ANSI else text

    order, groups = _by_product(plan)
    out = [
        visible(f"{_label(product)}: {effects_text(effect_counts(groups[product]))}")
        for product in order
    ]
    out.append(paint("reason", f"(evaluated at {iso_utc(plan.at)} against {plan.lms})"))
    if review is not None:
        out += ["", *(visible(line) for line in review_lines(review))]
    if plan.safety:
        out += [
            "",
            paint("blocked", "Blocked by safety limits (nothing is applied without --force):"),
        ]
        out += [paint("blocked", f"  {line}") for line in _safety_lines(plan)]
    for product in order:
        if not groups[product]:
            continue
        out += ["", paint("heading", _label(product))]
        for change_class, changes in _by_class(groups[product]):
            if change_class is not None:
                why = CLASS_MEANING[change_class]
                out.append(paint("heading", f"  [{change_class.value}] {len(changes)}: {why}"))
            for line in _product_lines(changes):
                indent = "  " if line.kind == "heading" else "    "
                out.append(indent + paint(line.kind, line.text))
    if plan.by_hand:
        out += ["", paint("blocked", f"{BY_HAND_TITLE} ({len(plan.by_hand)})")]
        out += [visible(f"  {line}") for line in _capped(by_hand_lines(plan), 3 * LIST_SHOWN)]
    warnings = _warning_lines(plan)
    if warnings:
        out += ["", paint("warning", f"Warnings ({len(warnings)}):")]
        out += [visible(f"  {line}") for line in _capped(warnings, LIST_SHOWN)]
    skips = _skip_lines(plan.skipped)
    if skips:
        out += ["", f"Skipped ({len(plan.skipped)}):"]
        out += [visible(f"  {line}") for line in _capped(skips, LIST_SHOWN)]
    out.append("")
    if plan.changes:
        counts = effects_text(effect_counts(plan.changes))
        closing = f"Plan: {counts}."
        classes = class_counts(plan.changes)
        if any(classes.values()):
            out.append("Classes: " + ", ".join(f"{n} {c}" for c, n in classes.items()) + ".")
        out.append(paint("blocked", closing + " Blocked.") if plan.blocked else closing)
    else:
        out.append("No changes.")
    return "\n".join(out) + "\n"


def render_json(plan: Plan) -> str:
    """The plan as JSON (docs/plan.md), ending with a newline: the top level
    indented, each change, warning, skip and safety trip on one line of its own.

    One line per change keeps a saved plan readable and diffable, and lets the C encoder
    do the work (an indented dump of 100,000 changes is several times slower)."""
    parts = []
    for key, value in plan_to_dict(plan).items():
        head = f"  {json.dumps(key)}: "
        if isinstance(value, list) and value and isinstance(value[0], dict):
            items = ",\n".join("    " + json.dumps(v, ensure_ascii=False) for v in value)
            parts.append(f"{head}[\n{items}\n  ]")
        else:
            parts.append(head + json.dumps(value, ensure_ascii=False))
    return "{\n" + ",\n".join(parts) + "\n}\n"


_ROUTINE_VERBS = {
    "certify": "certify {n}",
    "maintenance": "enroll {n} in maintenance courses",
    "deadline": "move {n} maintenance deadline(s)",
    "create": "create {n} course(s), group(s) or catalog item(s)",
    "update": "update {n} course(s) or group(s)",
}


def confirmation_text(plan: Plan, names: dict[str, str] | None = None) -> str:
    """The question ``apply`` asks before writing, restating the dangerous part per product
    (``will SUSPEND 35 learners in Widget Pro (35 of 140 certified now, limit 25%)``,
    reinstatements likewise), then what else it writes; ``names`` maps product ids to
    their names."""
    names = names or {}
    order, groups = _by_product(plan)
    limits = {t.product: t for t in plan.limits}
    lines = []
    for product in order:
        counts = effect_counts(c for c in groups[product] if c.action is not Action.MANUAL)
        if not any(counts.values()):
            continue
        where = names.get(product, product) if product else "the shared setup"
        if counts["suspend"]:
            n = counts["suspend"]
            text = f"will SUSPEND {n} learner{'s' if n != 1 else ''} in {where}"
            trip = limits.get(product or "")
            if trip is not None and trip.certified is not None:
                limit = percent(trip.threshold)
                text += f" ({trip.suspensions} of {trip.certified} certified now, limit {limit})"
            lines.append(text)
        if counts["reinstate"]:
            n = counts["reinstate"]
            lines.append(f"will REINSTATE {n} learner{'s' if n != 1 else ''} in {where}")
        routine = [v.format(n=counts[k]) for k, v in _ROUTINE_VERBS.items() if counts[k]]
        if routine:
            lines.append("will " + ", ".join(routine) + f" in {where}")
    if plan.blocked:
        lines.append("IGNORING the safety limits above (--force)")
    body = "".join(f"  - {visible(line)}\n" for line in lines)
    return ("This apply:\n" + body if body else "") + "Apply these changes?"
