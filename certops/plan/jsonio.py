"""The plan's JSON form (docs/plan.md), its digest, and the dependency order.

``plan_to_dict`` / ``plan_from_dict`` are inverses: a plan saved with ``--out`` and read
back is the same ``Plan``. ``plan_digest`` hashes the canonical change list, ``at`` and ``lms``;
``apply --plan FILE`` re-plans at the saved ``at`` and compares digests to refuse stale plans.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from certops.errors import CertopsError
from certops.instants import format_instant, parse_instant
from certops.plan.model import (
    TARGET_FIELDS,
    TYPE_ORDER,
    Action,
    ByHand,
    Change,
    ChangeClass,
    ChangeType,
    Plan,
    PlanWarning,
    SafetyTrip,
    Skip,
    Target,
    TargetKind,
)

FORMAT_VERSION = 1

# The plan's instants are written and read by certops.instants; these names stay for the
# callers that import them from here.
iso_utc = format_instant
parse_iso_utc = parse_instant


class PlanFileError(CertopsError):
    """A saved plan file is not a plan this version of certops can read."""


def order_changes(changes: Iterable[Change]) -> tuple[Change, ...]:
    """The changes in dependency order: by ``TYPE_ORDER``, then product, then address.

    Stable, so changes with the same key keep the order they were produced in. Changes
    without a product (shared objects such as the Salesforce catalog) come first in their
    type, since products' changes may depend on them."""
    return tuple(
        sorted(
            changes,
            key=lambda c: (TYPE_ORDER[c.type], c.product is not None, c.product or "", c.address),
        )
    )


def change_to_dict(change: Change) -> dict[str, Any]:
    """The JSON form of one change; ``steps`` and ``fingerprint`` only when present."""
    out: dict[str, Any] = {
        "address": change.address,
        "target": change.target.to_json(),
        "type": change.type.value,
        "action": change.action.value,
        "product": change.product,
        "before": dict(change.before),
        "after": dict(change.after),
        "reason": change.reason,
    }
    if change.steps:
        out["steps"] = list(change.steps)
    if change.fingerprint:
        out["fingerprint"] = change.fingerprint
    if change.change_class is not None:
        out["class"] = change.change_class.value
    return out


def plan_digest(changes: Iterable[Change], at: datetime, lms: str) -> str:
    """``"sha256:<hex>"`` of the canonical JSON of the ordered change list, ``at`` and ``lms``.

    Canonical: changes in ``order_changes`` order, keys sorted, no whitespace, UTF-8; so
    the same changes produced in another order hash the same, and any change to ``at``, to
    the LMS or to a change's fields (including ``before``, i.e. the live state) changes the
    digest. The LMS is covered so that a reviewed plan cannot be pointed at another host
    (which would receive the credentials) by editing the file."""
    # The class explains a change, it does not act: a plan classed against another copy
    # of the audit log is the same plan.
    listed = [change_to_dict(c) for c in order_changes(changes)]
    # The target is not hashed either: the address derived from it is, and a file whose
    # target does not give its address is refused when read. Digests stay those of plans
    # saved before changes carried targets.
    for item in listed:
        item.pop("class", None)
        item.pop("target", None)
    payload = {"at": iso_utc(at), "lms": lms, "changes": listed}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def summary_counts(changes: Iterable[Change]) -> dict[str, int]:
    """How many changes there are of each action: ``{"create": n, "update": n, "manual": n}``."""
    counts = {a.value: 0 for a in Action}
    for change in changes:
        counts[change.action.value] += 1
    return counts


def class_counts(changes: Iterable[Change]) -> dict[str, int]:
    """How many changes there are of each class: ``{"drift": n, "schedule": n,
    "config": n}`` (unclassified changes are not counted)."""
    counts = {c.value: 0 for c in ChangeClass}
    for change in changes:
        if change.change_class is not None:
            counts[change.change_class.value] += 1
    return counts


def _trip_to_dict(trip: SafetyTrip) -> dict[str, Any]:
    out: dict[str, Any] = {
        "product": trip.product,
        "limit": trip.limit,
        "value": trip.value,
        "threshold": trip.threshold,
    }
    # The counts came after format_version 1 was fixed: extra keys, present when known.
    if trip.suspensions is not None and trip.certified is not None:
        out["suspensions"] = trip.suspensions
        out["certified"] = trip.certified
    return out


def _warning_to_dict(warning: PlanWarning) -> dict[str, Any]:
    out: dict[str, Any] = {
        "product": warning.product,
        "message": warning.message,
        "address": warning.address,
    }
    if warning.kind:
        out["kind"] = warning.kind
        out["details"] = dict(warning.details)
    return out


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan in its JSON shape (docs/plan.md), plus ``warnings``, ``skipped`` and
    ``products`` (the products the plan covers, so a product with no changes still shows)."""
    changes = order_changes(plan.changes)
    summary: dict[str, Any] = dict(summary_counts(changes))
    summary["blocked"] = plan.blocked
    summary["classes"] = class_counts(changes)
    return {
        "format_version": FORMAT_VERSION,
        "at": iso_utc(plan.at),
        "lms": plan.lms,
        "digest": plan_digest(changes, plan.at, plan.lms),
        "summary": summary,
        "changes": [change_to_dict(c) for c in changes],
        "safety": [_trip_to_dict(s) for s in plan.safety],
        "warnings": [_warning_to_dict(w) for w in plan.warnings],
        "skipped": [
            {
                "product": s.product,
                "address": s.address,
                "target": s.target.to_json(),
                "reason": s.reason,
            }
            for s in plan.skipped
        ],
        "products": list(plan.products),
        "by_hand": [_by_hand_to_dict(b) for b in plan.by_hand],
        "limits": [_trip_to_dict(s) for s in plan.limits],
    }


def _by_hand_to_dict(mark: ByHand) -> dict[str, Any]:
    return {
        "product": mark.product,
        "address": mark.address,
        "user": mark.user,
        "lms_status": mark.lms_status,
        "rules_status": mark.rules_status,
        "rules_reason": mark.rules_reason,
        "add_to": mark.add_to,
        "entry": dict(mark.entry),
    }


# --- reading a plan file back -------------------------------------------------------------


def _fail(where: str, expected: str, got: Any) -> PlanFileError:
    shown = json.dumps(got, ensure_ascii=False, default=str)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return PlanFileError(f"plan file: {where}: expected {expected}, got {shown}")


def _field(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise PlanFileError(f"plan file: {where}: missing key {key!r}")
    return obj[key]


def _str(obj: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> Any:
    if optional and key not in obj:
        return None
    value = _field(obj, key, where)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _fail(f"{where}.{key}", "a string", value)
    return value


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, "an object", value)
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(where, "a list", value)
    return value


def _number(value: Any, where: str) -> float:
    # A bool is an int to Python; an int too big for a float is no threshold either.
    if isinstance(value, bool) or not isinstance(value, int | float) or abs(value) > 1e300:
        raise _fail(where, "a number", value)
    return value


def _count(obj: Mapping[str, Any], key: str, where: str) -> int | None:
    """An optional whole number >= 0 at ``key`` (None when absent)."""
    if obj.get(key) is None:
        return None
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(f"{where}.{key}", "a whole number >= 0", value)
    return value


def _target(obj: Mapping[str, Any], where: str, change_type: ChangeType) -> Target:
    """The target of the change (or skip) ``obj``: its ``target`` key, which must give its
    ``address``; in a plan saved before certops wrote targets, what the change's own fields
    give (a catalog's code, a catalog item's catalog and course), else its address alone as
    a ``saved`` target (nothing is parsed out of an address)."""
    address = _str(obj, "address", where)
    raw = obj.get("target")
    if raw is None:
        after = obj.get("after")
        after = after if isinstance(after, Mapping) else {}
        if change_type is ChangeType.CATALOG and isinstance(after.get("code"), str):
            target = Target(TargetKind.CATALOG, catalog=after["code"])
        elif (
            change_type is ChangeType.CATALOG_ITEM
            and isinstance(after.get("catalog"), str)
            and isinstance(after.get("course"), str)
        ):
            target = Target(
                TargetKind.CATALOG_ITEM, catalog=after["catalog"], course=after["course"]
            )
        else:
            target = Target(TargetKind.SAVED, label=address)
        return target if target.address == address else Target(TargetKind.SAVED, label=address)
    item = _mapping(raw, f"{where}.target")
    kind_text = _str(item, "kind", f"{where}.target")
    try:
        kind = TargetKind(kind_text)
    except ValueError:
        raise _fail(
            f"{where}.target.kind", f"one of {', '.join(k.value for k in TargetKind)}", kind_text
        ) from None
    parts = {
        name: _str(item, name, f"{where}.target", optional=True) or ""
        for name in (*TARGET_FIELDS, "label")
    }
    target = Target(kind, **parts)
    if target.address != address:
        raise _fail(f"{where}.target", f"the key of {address!r}", target.to_json())
    return target


def _change_from_dict(raw: Any, where: str) -> Change:
    obj = _mapping(raw, where)
    type_text = _str(obj, "type", where)
    action_text = _str(obj, "action", where)
    try:
        change_type = ChangeType(type_text)
    except ValueError:
        raise _fail(
            f"{where}.type", f"one of {', '.join(t.value for t in ChangeType)}", type_text
        ) from None
    try:
        action = Action(action_text)
    except ValueError:
        raise _fail(
            f"{where}.action", f"one of {', '.join(a.value for a in Action)}", action_text
        ) from None
    class_text = _str(obj, "class", where, optional=True)
    try:
        change_class = ChangeClass(class_text) if class_text else None
    except ValueError:
        raise _fail(
            f"{where}.class", f"one of {', '.join(c.value for c in ChangeClass)}", class_text
        ) from None
    steps = _list(obj.get("steps", []), f"{where}.steps")
    if not all(isinstance(s, str) for s in steps):
        raise _fail(f"{where}.steps", "a list of strings", steps)
    return Change(
        target=_target(obj, where, change_type),
        type=change_type,
        action=action,
        product=_str(obj, "product", where, optional=True),
        before=dict(_mapping(obj.get("before", {}), f"{where}.before")),
        after=dict(_mapping(obj.get("after", {}), f"{where}.after")),
        reason=_str(obj, "reason", where, optional=True) or "",
        steps=tuple(steps),
        fingerprint=_str(obj, "fingerprint", where, optional=True) or "",
        change_class=change_class,
    )


def _trips(obj: Mapping[str, Any], key: str) -> list[SafetyTrip]:
    """The safety entries at ``key`` (``safety``: tripped; ``limits``: every product's)."""
    trips = []
    for i, raw in enumerate(_list(obj.get(key, []), key)):
        where = f"{key}[{i}]"
        item = _mapping(raw, where)
        trips.append(
            SafetyTrip(
                product=_str(item, "product", where),
                limit=_str(item, "limit", where),
                value=_number(_field(item, "value", where), f"{where}.value"),
                threshold=_number(_field(item, "threshold", where), f"{where}.threshold"),
                suspensions=_count(item, "suspensions", where),
                certified=_count(item, "certified", where),
            )
        )
    return trips


def plan_from_dict(data: Any) -> Plan:
    """The ``Plan`` a dict from ``plan_to_dict`` (e.g. a saved plan file) describes.

    Raises ``PlanFileError`` naming the key and what was expected when the data is not a
    plan, has another ``format_version``, or its ``digest`` does not match its changes (the
    file was edited by hand)."""
    obj = _mapping(data, "top level")
    version = _field(obj, "format_version", "top level")
    if version != FORMAT_VERSION:
        raise _fail("format_version", f"{FORMAT_VERSION} (this certops reads only that)", version)
    at_text = _str(obj, "at", "top level")
    try:
        at = parse_iso_utc(at_text)
    except ValueError:
        raise _fail("at", "an ISO 8601 instant such as 2027-01-02T00:00:00Z", at_text) from None
    changes = tuple(
        _change_from_dict(raw, f"changes[{i}]")
        for i, raw in enumerate(_list(_field(obj, "changes", "top level"), "changes"))
    )
    safety = _trips(obj, "safety")
    limits = _trips(obj, "limits")
    warnings = []
    for i, raw in enumerate(_list(obj.get("warnings", []), "warnings")):
        where = f"warnings[{i}]"
        item = _mapping(raw, where)
        warnings.append(
            PlanWarning(
                product=_str(item, "product", where, optional=True),
                message=_str(item, "message", where),
                address=_str(item, "address", where, optional=True) or "",
                kind=_str(item, "kind", where, optional=True) or "",
                details=dict(_mapping(item.get("details", {}), f"{where}.details")),
            )
        )
    skipped = []
    for i, raw in enumerate(_list(obj.get("skipped", []), "skipped")):
        where = f"skipped[{i}]"
        item = _mapping(raw, where)
        skipped.append(
            Skip(
                product=_str(item, "product", where, optional=True),
                target=_target(item, where, ChangeType.ENROLLMENT),
                reason=_str(item, "reason", where),
            )
        )
    by_hand = []
    for i, raw in enumerate(_list(obj.get("by_hand", []), "by_hand")):
        where = f"by_hand[{i}]"
        item = _mapping(raw, where)
        by_hand.append(
            ByHand(
                product=_str(item, "product", where),
                address=_str(item, "address", where),
                user=_str(item, "user", where),
                lms_status=_str(item, "lms_status", where),
                rules_status=_str(item, "rules_status", where),
                rules_reason=_str(item, "rules_reason", where),
                add_to=_str(item, "add_to", where),
                entry=dict(_mapping(item.get("entry", {}), f"{where}.entry")),
            )
        )
    products = _list(obj.get("products", []), "products")
    if not all(isinstance(p, str) for p in products):
        raise _fail("products", "a list of product ids", products)
    digest = _str(obj, "digest", "top level")
    lms = _str(obj, "lms", "top level")
    actual = plan_digest(changes, at, lms)
    if digest != actual:
        raise PlanFileError(
            f"plan file: digest {digest} does not match its changes, instant and LMS "
            f"({actual}); the file was edited or damaged: run certops plan --out again"
        )
    return Plan(
        at=at,
        lms=lms,
        changes=order_changes(changes),
        safety=tuple(safety),
        warnings=tuple(warnings),
        skipped=tuple(skipped),
        products=tuple(products),
        by_hand=tuple(by_hand),
        limits=tuple(limits),
    )
