"""Change classes: why each change of a plan is there (``drift``, ``schedule``, ``config``).

Pure. The classifier never reads the audit log itself: the caller passes what certops last
did (an ``AppliedRecord``, read from the log by ``certops.history``) and a way to compute
the changes that a plan at an earlier instant would have held. The rules, in order (they
are documented for users in docs/change-classes.md):

1. **drift**: certops last wrote a field of this object and the LMS now holds another
   value (someone edited what certops set).
2. Without any record of an earlier apply for the product, certops cannot tell a hand edit
   from a YAML edit: enrollment changes and the enrollment-rule / notification steps are
   ``schedule`` (they follow the calendar), everything else is ``config``. Never drift.
3. **schedule**: the same change (address, action, new values; a manual step's
   fingerprint) would not have been in a plan at the last apply's instant, made with
   today's configuration against today's LMS: it became due because time passed.
4. Otherwise the change was already due at the last apply and is still there: a manual
   step nobody has done yet is ``config``; for the others, when the product's
   configuration is the same as at the last apply the LMS must have moved (**drift**),
   else the configuration asks for it (**config**).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from certops.config.model import Config
from certops.plan.jsonio import display
from certops.plan.model import Action, Change, ChangeClass, ChangeType

# Manual steps that follow the calendar (a rule or notification pointing at the current
# period, a digest's reminder rung); the other manual steps (visibility checks) are setup.
_CALENDAR_STEPS = (ChangeType.ENROLLMENT_RULE, ChangeType.NOTIFICATION)


@dataclass(frozen=True, slots=True)
class LastApply:
    """The latest apply certops recorded for one product: the instant it evaluated and
    the digest of the product's configuration then (empty when the log did not say)."""

    at: datetime
    config_digest: str = ""


@dataclass(frozen=True, slots=True)
class AppliedRecord:
    """What certops last did, as read from its audit log(s).

    ``last`` is keyed by product id (None: shared objects such as the Salesforce catalog);
    ``written`` maps an address to the last value certops successfully wrote to each field.
    """

    last: Mapping[str | None, LastApply] = field(default_factory=dict)
    written: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def last_for(self, product: str | None) -> LastApply | None:
        """The last apply that covered ``product``; for shared objects, the latest of all."""
        if product is not None:
            return self.last.get(product)
        if None in self.last:
            return self.last[None]
        return max(self.last.values(), key=lambda a: a.at, default=None)


def config_digest(config: Config, product: str | None) -> str:
    """``"sha256:<hex>"`` of what decides a product's changes: its configuration (where it
    sits in the YAML files does not count) and the settings; for None, the settings alone."""
    parts: list[str] = [repr(config.settings)]
    found = config.product(product) if product is not None else None
    if found is not None:
        parts.append(repr(replace(found, location=None)))
    return "sha256:" + hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def change_key(change: Change) -> tuple[str, str, str]:
    """What identifies "the same change" at two instants: address, action, and the new
    values (a manual step's fingerprint, which hashes what it asks)."""
    what = change.fingerprint if change.action is Action.MANUAL else display(change.after)
    return (change.address, change.action.value, json.dumps(what, sort_keys=True, default=str))


def reverts_a_hand_edit(change: Change, written: Mapping[str, Any] | None) -> bool:
    """Whether ``change`` sets back a value certops itself last wrote (``written``, from
    the audit log, in the JSON form the log keeps) that the LMS no longer holds: someone
    edited it since. Rule 1 of the classes; the safety limit ``max_reverted_drift`` counts
    the same evidence (it does not read the class)."""
    if not written or change.action is not Action.UPDATE:
        return False
    before = display(change.before)
    return any(name in written and written[name] != value for name, value in before.items())


def classify_change(
    change: Change,
    *,
    written: Mapping[str, Any] | None,
    earlier: frozenset[tuple[str, str, str]] | None,
    config_unchanged: bool,
) -> ChangeClass:
    """The class of one change (rules 1-4 of the module docstring).

    ``written``: the fields certops last wrote at its address; ``earlier``: the keys of the
    changes a plan at the last apply's instant would have held (None: no earlier apply is
    known); ``config_unchanged``: whether the product's configuration digest is the one
    recorded at that apply."""
    if reverts_a_hand_edit(change, written):
        return ChangeClass.DRIFT
    if earlier is None:
        if change.type is ChangeType.ENROLLMENT or (
            change.action is Action.MANUAL and change.type in _CALENDAR_STEPS
        ):
            return ChangeClass.SCHEDULE
        return ChangeClass.CONFIG
    if change_key(change) not in earlier:
        return ChangeClass.SCHEDULE
    if change.action is Action.MANUAL:
        return ChangeClass.CONFIG
    return ChangeClass.DRIFT if config_unchanged else ChangeClass.CONFIG


def classify(
    changes: Iterable[Change],
    config: Config,
    record: AppliedRecord | None,
    changes_at: Callable[[datetime], Iterable[Change]],
) -> tuple[Change, ...]:
    """``changes`` with ``change_class`` set, in the same order.

    ``changes_at(instant)`` returns the changes a plan at ``instant`` would hold with the
    same configuration and LMS; it is called once per distinct last-apply instant."""
    record = record or AppliedRecord()
    earlier_by_at: dict[datetime, frozenset[tuple[str, str, str]]] = {}
    digests: dict[str | None, str] = {}
    out = []
    for change in changes:
        last = record.last_for(change.product)
        earlier = None
        unchanged = False
        if last is not None:
            if last.at not in earlier_by_at:
                earlier_by_at[last.at] = frozenset(change_key(c) for c in changes_at(last.at))
            earlier = earlier_by_at[last.at]
            if change.product not in digests:
                digests[change.product] = config_digest(config, change.product)
            unchanged = bool(last.config_digest) and last.config_digest == digests[change.product]
        cls = classify_change(
            change,
            written=record.written.get(change.address),
            earlier=earlier,
            config_unchanged=unchanged,
        )
        out.append(replace(change, change_class=cls))
    return tuple(out)
