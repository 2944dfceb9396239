"""The plan's JSON form (docs/plan.md), its digest, and the dependency order.

The only place where a plan becomes JSON and back. ``plan_to_dict`` / ``plan_from_dict``
are inverses: a plan saved with ``--out`` and read back is the same ``Plan``, its changes
typed as the engine made them, so a decoded plan applies exactly the writes the plan it
came from would. ``plan_digest`` hashes the canonical change list, ``at`` and ``lms``;
``apply --plan FILE`` re-plans at the saved ``at`` and compares digests to refuse stale
plans.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from certops.errors import CertopsError
from certops.instants import format_instant, parse_instant
from certops.plan.effects import effect_counts
from certops.plan.model import (
    TARGET_FIELDS,
    TYPE_ORDER,
    Action,
    ByHand,
    CatalogItemWrite,
    CatalogWrite,
    Change,
    ChangeClass,
    ChangeType,
    CourseWrite,
    EnrollmentWrite,
    GroupWrite,
    Plan,
    PlanWarning,
    SafetyTrip,
    Skip,
    Target,
    TargetKind,
    Write,
)
from certops.records import CourseSettings, EnrollmentPolicy, EnrollmentStatus, GroupRule

# 2: every create and update carries its whole ``write`` (with the LMS ids it needs). A
# plan file of format 1 is refused with a message: saved plans live from a review to its
# apply, and a plan made again reads the same.
FORMAT_VERSION = 2

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


# --- typed values as JSON ----------------------------------------------------------------


def json_value(value: Any) -> Any:
    """A typed value in its JSON form: instants as ISO 8601 UTC (``Z``), enums by value,
    rule sets as a sorted list of sorted course codes; plain values as they are."""
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, GroupRule):
        return sorted(str(c) for c in value.completed_all)
    if isinstance(value, frozenset | set) or (
        isinstance(value, tuple) and value and all(isinstance(v, GroupRule) for v in value)
    ):
        # Unordered: rule sets (read back in any order) and sets come out sorted, so that
        # a plan and its digest do not depend on the order the LMS answered in.
        return sorted(json_value(v) for v in value)
    if isinstance(value, tuple | list):
        return [json_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    return value


def display(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` (a change's ``before`` or ``after``) as JSON values."""
    return {name: json_value(value) for name, value in values.items()}


_SETTINGS_FIELDS = tuple(CourseSettings.__dataclass_fields__)


def write_to_json(write: Write) -> dict[str, Any]:
    """The JSON form of what a change writes."""
    if isinstance(write, CourseWrite):
        return {
            "course_id": write.course_id,
            "settings": {n: json_value(getattr(write.settings, n)) for n in _SETTINGS_FIELDS},
            "send": sorted(write.send),
            "verify": sorted(write.verify),
        }
    if isinstance(write, CatalogWrite):
        return {"code": write.code, "name": write.name}
    if isinstance(write, CatalogItemWrite):
        return {"catalog": write.catalog, "course": write.course}
    if isinstance(write, GroupWrite):
        return {
            "group_id": write.group_id,
            "description": write.description,
            "rules": json_value(write.rules),
            "operator": write.operator,
            "automatic": write.automatic,
            "exclude_deactivated": write.exclude_deactivated,
        }
    return {
        "user_id": write.user_id,
        "course_id": write.course_id,
        **{
            name: json_value(getattr(write, name))
            for name in ("status", "completed_at", "valid_from", "valid_until")
            if getattr(write, name) is not None
        },
    }


def change_to_dict(change: Change) -> dict[str, Any]:
    """The JSON form of one change: ``before``/``after`` hold the fields it changes (as a
    reviewer reads them), ``write`` what apply sends; ``steps`` and ``fingerprint`` only
    when present."""
    out: dict[str, Any] = {
        "address": change.address,
        "target": change.target.to_json(),
        "type": change.type.value,
        "action": change.action.value,
        "product": change.product,
        "before": display(change.before),
        "after": display(change.after),
        "reason": change.reason,
    }
    if change.write is not None:
        out["write"] = write_to_json(change.write)
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
    # What the changes do, by name: suspensions, reinstatements, certifications, ...
    summary["effects"] = effect_counts(changes)
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


def _target(obj: Mapping[str, Any], where: str) -> Target:
    """The target of the change (or skip) ``obj``: its ``target`` key, which must give its
    ``address`` (nothing is parsed out of an address)."""
    address = _str(obj, "address", where)
    item = _mapping(_field(obj, "target", where), f"{where}.target")
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


# --- typed values from JSON ----------------------------------------------------------------


def _instant(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(where, "an ISO 8601 instant or null", value)
    try:
        return parse_iso_utc(value)
    except (ValueError, OverflowError):
        raise _fail(where, "an ISO 8601 instant such as 2027-01-01T00:00:00Z", value) from None


def _of(kind: type, expected: str) -> Callable[[Any, str], Any]:
    def read(value: Any, where: str) -> Any:
        # A bool is an int to Python: only a bool is a flag, and no flag is a number.
        if isinstance(value, bool) is not (kind is bool) or not isinstance(value, kind):
            raise _fail(where, expected, value)
        return value

    return read


def _optional_flag(value: Any, where: str) -> bool | None:
    return None if value is None else _of(bool, "true, false or null")(value, where)


def _enum(kind: type[Enum]) -> Callable[[Any, str], Any]:
    def read(value: Any, where: str) -> Any:
        try:
            return kind(value)
        except ValueError:
            choices = ", ".join(str(m.value) for m in kind)
            raise _fail(where, f"one of {choices}", value) from None

    return read


def _rules(value: Any, where: str) -> tuple[GroupRule, ...]:
    rules = _list(value, where)
    out = []
    for i, rule in enumerate(rules):
        codes = _list(rule, f"{where}[{i}]")
        if not all(isinstance(c, str) for c in codes):
            raise _fail(f"{where}[{i}]", "a list of course codes", codes)
        out.append(GroupRule(completed_all=tuple(codes)))
    return tuple(out)


_TEXT = _of(str, "a string")
_FLAG = _of(bool, "true or false")
# How each field a change shows reads back from JSON, by change type.
_FIELDS: dict[ChangeType, dict[str, Callable[[Any, str], Any]]] = {
    ChangeType.COURSE: {
        "name": _TEXT,
        "description": _TEXT,
        "course_type": _TEXT,
        "published": _FLAG,
        "self_unenrollment": _FLAG,
        "enrollment_policy": _enum(EnrollmentPolicy),
        "date_begin": _instant,
        "date_end": _instant,
        "soft_deadline": _FLAG,
        "visible_only_to_enrolled": _optional_flag,
    },
    ChangeType.CATALOG: {"code": _TEXT, "name": _TEXT},
    ChangeType.CATALOG_ITEM: {"catalog": _TEXT, "course": _TEXT, "item_type": _TEXT},
    ChangeType.GROUP: {
        "description": _TEXT,
        "automatic": _FLAG,
        "rules_operator": _TEXT,
        "rules": _rules,
        "exclude_deactivated": _FLAG,
    },
    ChangeType.ENROLLMENT: {
        "status": _enum(EnrollmentStatus),
        "completed_at": _instant,
        "valid_from": _instant,
        "valid_until": _instant,
    },
}


def _values(change_type: ChangeType, raw: Any, where: str) -> dict[str, Any]:
    """The typed values of a change's ``before`` (field by field, as ``_FIELDS`` says)."""
    readers = _FIELDS.get(change_type, {})
    out = {}
    for name, value in _mapping(raw, where).items():
        read = readers.get(name)
        if read is None:
            raise _fail(f"{where}.{name}", f"a field of a {change_type.value}", value)
        out[name] = read(value, f"{where}.{name}")
    return out


def _id(obj: Mapping[str, Any], key: str, where: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(f"{where}.{key}", "an LMS id (a whole number) or null", value)
    return value


def _names(value: Any, where: str) -> frozenset[str]:
    names = _list(value, where)
    unknown = [n for n in names if n not in _SETTINGS_FIELDS]
    if unknown:
        raise _fail(where, f"course settings ({', '.join(_SETTINGS_FIELDS)})", unknown)
    return frozenset(names)


def _write(change_type: ChangeType, target: Target, raw: Any, where: str) -> Write:
    """The typed write of a change of ``change_type`` from its JSON form."""
    obj = _mapping(raw, where)
    if change_type is ChangeType.COURSE:
        settings = _mapping(_field(obj, "settings", where), f"{where}.settings")
        values = {
            name: _FIELDS[ChangeType.COURSE][name](
                _field(settings, name, f"{where}.settings"), f"{where}.settings.{name}"
            )
            for name in _SETTINGS_FIELDS
        }
        return CourseWrite(
            settings=CourseSettings(**values),
            send=_names(_field(obj, "send", where), f"{where}.send"),
            verify=_names(_field(obj, "verify", where), f"{where}.verify"),
            course_id=_id(obj, "course_id", where),
        )
    if change_type is ChangeType.CATALOG:
        catalog = CatalogWrite(code=_str(obj, "code", where), name=_str(obj, "name", where))
        if catalog.code != target.catalog:
            raise _fail(f"{where}.code", f"the catalog of {target.address!r}", catalog.code)
        return catalog
    if change_type is ChangeType.CATALOG_ITEM:
        item = CatalogItemWrite(
            catalog=_str(obj, "catalog", where), course=_str(obj, "course", where)
        )
        if (item.catalog, item.course) != (target.catalog, target.course):
            raise _fail(where, f"the catalog and course of {target.address!r}", obj)
        return item
    if change_type is ChangeType.GROUP:
        group_id = obj.get("group_id")
        if group_id is not None and not isinstance(group_id, str):
            raise _fail(f"{where}.group_id", "a group's uuid or null", group_id)
        return GroupWrite(
            description=_str(obj, "description", where),
            rules=_rules(_field(obj, "rules", where), f"{where}.rules"),
            operator=_str(obj, "operator", where),
            automatic=_FLAG(_field(obj, "automatic", where), f"{where}.automatic"),
            exclude_deactivated=_FLAG(
                _field(obj, "exclude_deactivated", where), f"{where}.exclude_deactivated"
            ),
            group_id=group_id,
        )
    if change_type is ChangeType.ENROLLMENT:
        user_id = _id(obj, "user_id", where)
        if user_id is None:
            raise _fail(f"{where}.user_id", "the learner's LMS id", None)
        readers = _FIELDS[ChangeType.ENROLLMENT]
        return EnrollmentWrite(
            user_id=user_id,
            course_id=_id(obj, "course_id", where),
            **{
                name: readers[name](obj[name], f"{where}.{name}")
                for name in ("status", "completed_at", "valid_from", "valid_until")
                if obj.get(name) is not None
            },
        )
    raise _fail(f"{where}", "no write: a change of this type is done by a person", obj)


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
    target = _target(obj, where)
    after = dict(_mapping(obj.get("after", {}), f"{where}.after"))
    common: dict[str, Any] = {
        "target": target,
        "type": change_type,
        "action": action,
        "product": _str(obj, "product", where, optional=True),
        "reason": _str(obj, "reason", where, optional=True) or "",
        "steps": tuple(steps),
        "fingerprint": _str(obj, "fingerprint", where, optional=True) or "",
        "change_class": change_class,
    }
    if action is Action.MANUAL:
        return Change(**common, before={}, asked=after)
    change = Change(
        **common,
        write=_write(change_type, target, _field(obj, "write", where), f"{where}.write"),
        changed=tuple(after),
        before=_values(change_type, obj.get("before", {}), f"{where}.before"),
    )
    # What a reviewer read as ``after`` must be what the change writes (the digest covers
    # the changes as decoded, so an edit of ``after`` alone would pass it otherwise).
    if display(change.after) != after:
        raise PlanFileError(
            f"plan file: {where}.after is not what its write sets: the file was edited or "
            "damaged and its digest no longer holds: run certops plan --out again"
        )
    return change


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
    if version == 1:
        raise PlanFileError(
            "plan file: format_version 1 was written by an earlier certops, whose changes "
            "do not carry what apply writes: run certops plan --out again"
        )
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
                target=_target(item, where),
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
