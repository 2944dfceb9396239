"""Manual steps: what the setup needs that Docebo's API cannot do.

Enrollment rules and notification assignments have no public API, so the plan carries them
as ``manual`` changes with the UI actions in words. Each has a ``fingerprint``, the sha256
of what is asked (not of the wording, so rephrasing a step never re-asks it); once
``certops ack`` records that fingerprint for the address, the step stops showing until
what is asked changes, which happens at each rollover.

A digest's reminder ladder adds one dated step per rung, addressed
``notification.NAME.schedule.EVERY`` and shown from the day the rung starts (see
``certops.engine.deadlines``). What it asks holds the rung and the deadline, and each rung
has its own address, so acknowledging one rung leaves the next to be asked on its day,
and the same rung of the next period's deadline to be asked again.

The *current* period at ``t`` is the first period whose deadline is after ``t`` (the one
learners are working towards), or the last period once every deadline has passed. With
back-to-back periods that is the last period opened by ``t`` (the first one before any has
opened); with a gap between periods, the rule and the reminders switch to the next course
as soon as the previous deadline passes, which is when the article's rollover does it. A
period whose ``extension`` runs into the next one stays current until its extended
deadline (new learners still owe it first); meanwhile the enrollment notice and the digest
also cover the next period's course, which the learners who completed on time owe already.

Pure: no clock reads, no I/O.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from certops.config.model import Config, Digest, Period, Product, Settings, end_of_day
from certops.engine.deadlines import RungAt, ladder_text, rung_at
from certops.engine.facts import managed_codes
from certops.engine.lifecycle import and_list
from certops.plan.model import SCHEDULE_SEPARATOR, Action, Change, ChangeType, Target, TargetKind

DIGEST_EVENT = "course_not_completed_digest"
# A digest's dated schedule step is addressed ``notification.NAME.schedule.EVERY``: one
# address per rung, so the ack file keeps a record of every rung done.
SCHEDULE = SCHEDULE_SEPARATOR


class Acknowledgements(Protocol):
    """What ``manual_steps`` needs of the ack file (``certops.plan.ack.AckFile``)."""

    def acknowledged(self, address: str, fingerprint: str) -> bool: ...


class NoAcks:
    """No step acknowledged: every manual step shows (``certops ack`` uses this to learn
    the current fingerprints)."""

    def acknowledged(self, address: str, fingerprint: str) -> bool:
        return False


def current_period(product: Product, t: datetime) -> Period | None:
    """The period the rule and reminders point at, at ``t`` (see the module docstring);
    ``None`` when the product has no periods."""
    periods = sorted(product.maintenance.periods, key=lambda p: p.opens_at)
    if not periods:
        return None
    return next((p for p in periods if p.deadline > t), periods[-1])


def fingerprint(asked: dict[str, Any]) -> str:
    """``"sha256:<hex>"`` of the canonical JSON of what a manual step asks."""
    text = json.dumps(asked, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class RuleStep:
    """Point an enrollment rule from the product's group at the certified course and the
    current period's course."""

    source_group: str
    targets: list[str]

    def asked(self) -> dict[str, Any]:
        return {"source_groups": [self.source_group], "target_courses": sorted(self.targets)}


@dataclass(slots=True)
class NotificationStep:
    """Assign a notification's courses for its event (to other ``recipients`` than the
    learner, when set)."""

    event: str
    courses: list[str]
    recipients: str | None = None
    note: str = ""  # a digest's reminder schedule in words, for its setup step

    def asked(self) -> dict[str, Any]:
        asked: dict[str, Any] = {"event": self.event, "courses": self.courses}
        if self.recipients is not None:
            asked["recipients"] = self.recipients
        return asked


@dataclass(slots=True)
class ScheduleStep:
    """Switch a digest to the rung of its reminder ladder in force: one entry per
    deadline it serves."""

    every: str
    deadlines: list[dict[str, Any]]

    def asked(self) -> dict[str, Any]:
        return {"event": DIGEST_EVENT, "schedule": self.every, "deadlines": self.deadlines}


@dataclass(slots=True)
class ConflictStep:
    """A rule or notification named by several products for things it cannot serve at
    once: the configuration must give each its own."""

    products: list[str]
    courses: list[str] | None = None  # a notification's: the union asked of it

    def asked(self) -> dict[str, Any]:
        asked: dict[str, Any] = {"conflict": sorted(self.products)}
        if self.courses is not None:
            asked["courses"] = self.courses
        return asked


Step = RuleStep | NotificationStep | ScheduleStep | ConflictStep


@dataclass(slots=True)
class _Ask:
    """One manual change being assembled (notifications may be shared by products)."""

    target: Target
    type: ChangeType
    products: list[str]
    step: Step
    steps: list[str] = field(default_factory=list)
    reason: str = ""

    @property
    def address(self) -> str:
        return self.target.address


def _rule_ask(product: Product, name: str, period: Period | None) -> _Ask:
    cert = str(product.certified_course.code)
    targets = [cert] + ([str(period.course.code)] if period else [])
    others = sorted(
        str(p.course.code)
        for p in product.maintenance.periods
        if period is None or p.course.code != period.course.code
    )
    steps = [
        f'Admin Menu > Enrollment Rules: open the rule "{name}" '
        "(if it does not exist: New Rule, source type Groups, target type Courses).",
        f'Set the source group to "{product.group.name}" and nothing else.',
        f"Set the target courses to {and_list(targets)}"
        + (f"; remove {and_list(others)} if listed." if others else "."),
        "Make sure the rule is active and save.",
    ]
    return _Ask(
        target=Target(TargetKind.ENROLLMENT_RULE, name=name),
        type=ChangeType.ENROLLMENT_RULE,
        products=[product.id],
        step=RuleStep(str(product.group.name), targets),
        steps=steps,
        reason=(
            "enrollment rules have no public API; joining the group must enroll into "
            + and_list(targets)
            + (f" (period {period.id})" if period else "")
            + ". certops itself enrolls existing members, since rules fire only on join"
        ),
    )


def _extended_courses(product: Product, current: Period | None, t: datetime) -> list[str]:
    """Earlier periods' courses where a learner's extension still runs at ``t``: their
    learners still need the reminders."""
    out = []
    for period in product.maintenance.periods:
        if current is None or period.opens_at >= current.opens_at:
            continue
        if any(e.period == period.id and end_of_day(e.until) > t for e in product.extensions):
            out.append(str(period.course.code))
    return out


def _opened_later(product: Product, current: Period, t: datetime) -> list[str]:
    """Courses of periods after ``current`` that have opened by ``t``: a whole period
    extended into the next one keeps being current while the next is owed already."""
    return [
        str(period.course.code)
        for period in product.maintenance.periods
        if period.opens_at > current.opens_at and period.opens_at <= t
    ]


def _schedule_ask(product: Product, digest: Digest, rung: RungAt) -> _Ask:
    """The dated step of a digest's ladder: switch the schedule to the rung in force."""
    every = rung.rung.every.value
    deadline = {
        "product": product.id,
        "period": rung.period.id,
        "due": rung.deadline.isoformat(),
        "from_days": rung.rung.from_days,
        "starts": rung.starts.isoformat(),
    }
    if rung.next_rung is not None and rung.next_starts is not None:
        deadline["next"] = {
            "every": rung.next_rung.every.value,
            "starts": rung.next_starts.isoformat(),
        }
    return _Ask(
        target=Target(TargetKind.NOTIFICATION, name=digest.name, schedule=every),
        type=ChangeType.NOTIFICATION,
        products=[product.id],
        # The rung and the deadline are what is asked: acknowledging this rung leaves the
        # next one (and the same rung of the next period's deadline) to be asked again.
        step=ScheduleStep(every, [deadline]),
    )


def _before(days: int, due: str) -> str:
    """``30 days before the 2026-12-31 deadline``; ``on the 2026-12-31 deadline`` for 0."""
    if days == 0:
        return f"on the {due} deadline"
    return f"{days} day{'s' if days != 1 else ''} before the {due} deadline"


def _schedule_steps(name: str, step: ScheduleStep, conflict: list[str]) -> list[str]:
    every = step.every
    steps = [f'Admin Menu > Notifications: open "{name}".']
    for d in step.deadlines:
        steps.append(
            f"Set its schedule to send the digest {every}: from {d['starts']}, "
            f"{_before(d['from_days'], d['due'])} of period {d['period']} of {d['product']}."
        )
        nxt = d.get("next")
        steps.append(
            f"Next switch: {nxt['every']} from {nxt['starts']} (certops lists it that day)."
            if nxt
            else "This is the last rung before that deadline; after it the digest follows "
            "the next period's ladder."
        )
    if conflict:
        steps.append(
            f"This digest is shared by products whose ladders ask for different schedules "
            f"now ({and_list(conflict)}); one notification has one schedule: give each "
            "product its own digest in the configuration."
        )
    steps.append("Make sure the notification is active and save.")
    return steps


def _schedule_reason(name: str, step: ScheduleStep) -> str:
    return "; ".join(
        f'set the digest "{name}" to {step.every}: '
        f"{_before(d['from_days'], d['due'])} ({d['product']}, period {d['period']})"
        for d in step.deadlines
    )


def _notification_asks(
    product: Product, period: Period | None, t: datetime, settings: Settings
) -> list[_Ask]:
    asks = []
    notes = product.notifications
    # During an extended period's overlap with the next one, learners owe both courses.
    current = [str(period.course.code), *_opened_later(product, period, t)] if period else []
    if notes.learner_enrolled is not None and current:
        asks.append(
            _Ask(
                target=Target(TargetKind.NOTIFICATION, name=notes.learner_enrolled.name),
                type=ChangeType.NOTIFICATION,
                products=[product.id],
                step=NotificationStep("user_enrolled_in_course", sorted(current)),
                reason="notifications have no public API: learners are told when enrolled "
                "in the current maintenance course",
            )
        )
    if notes.digest is not None and current:
        asks.append(
            _Ask(
                target=Target(TargetKind.NOTIFICATION, name=notes.digest.name),
                type=ChangeType.NOTIFICATION,
                products=[product.id],
                step=NotificationStep(
                    DIGEST_EVENT,
                    sorted(current + _extended_courses(product, period, t)),
                    note=ladder_text(settings.ladder_of(notes.digest)),
                ),
                reason="notifications have no public API: reminders go to learners who have "
                "not completed the current maintenance course",
            )
        )
        rung = rung_at(settings.ladder_of(notes.digest), period, t) if period else None
        if rung is not None:
            asks.append(_schedule_ask(product, notes.digest, rung))
    if notes.admin_certified is not None:
        asks.append(
            _Ask(
                target=Target(TargetKind.NOTIFICATION, name=notes.admin_certified.name),
                type=ChangeType.NOTIFICATION,
                products=[product.id],
                step=NotificationStep(
                    "user_enrolled_in_course",
                    [str(product.certified_course.code)],
                    recipients="superadmins",
                ),
                reason="notifications have no public API: admins are told when a learner is "
                "newly certified (enrolled in the certified course)",
            )
        )
    return asks


def _notification_steps(name: str, step: NotificationStep, all_courses: list[str]) -> list[str]:
    courses = step.courses
    remove = sorted(set(all_courses) - set(courses))
    event = {
        "user_enrolled_in_course": "User enrolled in a course",
        DIGEST_EVENT: "Digest: courses not yet completed",
    }[step.event]
    steps = [
        f'Admin Menu > Notifications: open "{name}" '
        f"(if it does not exist: Add Notification, event {event}).",
        f"Under Courses, select {and_list(courses)}"
        + (f"; remove {and_list(remove)} if selected." if remove else "."),
    ]
    if step.event == "user_enrolled_in_course" and step.recipients is None:
        steps.append("Recipients: the enrolled user; keep the [expire-at] tag in the message.")
    elif step.event == DIGEST_EVENT:
        steps.append(
            "Recipients: users enrolled who have not completed. Schedule: "
            + (step.note or "monthly, then weekly, then daily as the deadline nears")
            + "; certops lists each switch of the schedule on the day it is due."
        )
    else:
        steps.append(
            "Recipients: Superadmins (they set the learner's enrollment in the certified "
            "course to Completed, or let certops do it on its next run)."
        )
    steps.append("Make sure the notification is active and save.")
    return steps


def _merge(seen: _Ask, ask: _Ask) -> None:
    """``ask``, by another product, into ``seen`` at the same address: a notification's
    courses add up and a digest's deadlines too; one enrollment rule cannot serve two
    groups, and one notification cannot serve two purposes: those become conflicts."""
    if seen.type is ChangeType.ENROLLMENT_RULE:
        seen.step = ConflictStep(seen.products)
        seen.steps = [
            f"The products {and_list(seen.products)} all name the enrollment rule "
            f'"{ask.target.name}"; one rule would enroll '
            "each product's group into the other's courses.",
            "Give each product its own enrollment_rule name in the configuration, "
            "then follow the steps the next plan shows.",
        ]
        seen.reason = "one enrollment rule named by several products"
    elif isinstance(seen.step, ScheduleStep) and isinstance(ask.step, ScheduleStep):
        seen.step = ScheduleStep(
            seen.step.every,
            sorted(
                seen.step.deadlines + ask.step.deadlines,
                key=lambda d: (d["product"], d["period"]),
            ),
        )
    elif isinstance(seen.step, NotificationStep | ConflictStep) and isinstance(
        ask.step, NotificationStep
    ):
        merged = sorted(set(seen.step.courses or []) | set(ask.step.courses))
        same = (
            isinstance(seen.step, NotificationStep)
            and ask.step.event == seen.step.event
            and ask.step.recipients == seen.step.recipients
        )
        if same and isinstance(seen.step, NotificationStep):
            seen.step = replace(seen.step, courses=merged)
        else:
            # Two roles for one notification: ask for both, visibly.
            seen.step = ConflictStep(seen.products, merged)
            seen.reason = (
                "one notification named for different purposes by "
                + and_list(seen.products)
                + "; give each purpose its own notification"
            )


def manual_steps(config: Config, t: datetime, acks: Acknowledgements) -> list[Change]:
    """The ``manual`` changes for enrollment rules and notifications at ``t``, in address
    order, leaving out those whose address ``acks`` records with the same fingerprint.

    A notification named by several products is one change asking for the union of their
    courses. Two products naming the same enrollment rule cannot both be served (a rule
    would enroll each group into the other's courses), so that change asks to split it."""
    asks: dict[str, _Ask] = {}
    all_courses: dict[str, set[str]] = {}
    for product in config.products:
        period = current_period(product, t)
        product_courses = {str(code) for code in managed_codes(product)}
        found = _notification_asks(product, period, t, config.settings)
        if product.enrollment_rule is not None:
            found.insert(0, _rule_ask(product, product.enrollment_rule.name, period))
        for ask in found:
            all_courses.setdefault(ask.address, set()).update(product_courses)
            seen = asks.get(ask.address)
            if seen is None:
                asks[ask.address] = ask
            else:
                seen.products.append(product.id)
                _merge(seen, ask)

    # Schedules asked of one digest at once (by products sharing it): they conflict.
    schedules: dict[str, list[str]] = {}
    for ask in asks.values():
        if isinstance(ask.step, ScheduleStep):
            schedules.setdefault(ask.target.name, []).append(ask.step.every)

    changes = []
    for address in sorted(asks):
        ask = asks[address]
        step = ask.step
        if isinstance(step, ScheduleStep):
            name = ask.target.name
            conflict = sorted(schedules[name]) if len(schedules[name]) > 1 else []
            ask.steps = _schedule_steps(name, step, conflict)
            ask.reason = _schedule_reason(name, step)
        elif isinstance(step, NotificationStep):
            ask.steps = _notification_steps(ask.target.name, step, sorted(all_courses[address]))
        elif isinstance(step, ConflictStep) and ask.type is ChangeType.NOTIFICATION:
            ask.steps = [
                f'The notification "{ask.target.name}" is named for '
                "different purposes (enrollment notice, digest, admin notice); give each "
                "purpose its own name in the configuration."
            ]
        asked = step.asked()
        asked_print = fingerprint({"address": address, **asked})
        if acks.acknowledged(address, asked_print):
            continue
        changes.append(
            Change(
                target=ask.target,
                type=ask.type,
                action=Action.MANUAL,
                product=ask.products[0] if len(ask.products) == 1 else None,
                asked=asked,
                reason=ask.reason,
                steps=tuple(ask.steps),
                fingerprint=asked_print,
            )
        )
    return changes
