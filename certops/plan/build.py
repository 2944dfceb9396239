"""Building a plan: configuration + live snapshot + instant -> ``Plan``. Pure.

The pipeline of DESIGN.md section 2 in one function: compile the desired setup, diff it
against the live setup, add the manual steps, evaluate every learner and plan their
enrollments, check the safety limits, and order everything by dependency.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from certops.config.model import Config
from certops.engine.deadlines import deadline_warnings
from certops.engine.enrollments import plan_enrollments
from certops.engine.manual import Acknowledgements, manual_steps
from certops.engine.safety import check_plan_safety
from certops.engine.setup import (
    DesiredSetup,
    desired_setup,
    diff_setup,
    setup_checks,
    setup_warnings,
)
from certops.live import LiveSnapshot
from certops.plan.jsonio import order_changes
from certops.plan.model import Change, Plan, PlanWarning, SafetyTrip, Skip


@dataclass(frozen=True, slots=True, repr=False)
class Planned:
    """A plan and what ``apply`` needs to carry it out."""

    plan: Plan
    desired: DesiredSetup

    def __repr__(self) -> str:
        # asyncio.run formats the repr of its task's result when it restores the SIGINT
        # handler (CPython 3.11, python/cpython#112559): with every change in it, that was
        # seconds and ~100 MB at 100,000 learners. A summary is all a repr needs.
        return f"Planned(at={self.plan.at.isoformat()}, changes={len(self.plan.changes)})"


def only_products(config: Config, product_ids: tuple[str, ...]) -> Config:
    """``config`` limited to ``product_ids`` (all products when empty)."""
    if not product_ids:
        return config
    return replace(config, products=tuple(p for p in config.products if p.id in product_ids))


def build_plan(config: Config, live: LiveSnapshot, t: datetime, acks: Acknowledgements) -> Planned:
    """The plan that brings ``live`` to what ``config`` asks for at ``t``."""
    desired = desired_setup(config, t)
    changes: list[Change] = list(diff_setup(desired, live.setup))
    warnings: list[PlanWarning] = list(setup_warnings(desired, live.setup))
    skipped: list[Skip] = []
    safety: list[SafetyTrip] = []
    changes += manual_steps(config, t, acks)
    changes += setup_checks(desired, acks)

    course_ids: dict[str, int | None] = {code: None for code in desired.courses}
    course_ids.update(live.course_ids)
    for product in config.products:
        planned = plan_enrollments(product, live.learner_facts(product), course_ids, t)
        changes += planned.changes
        skipped += planned.skipped
        warnings += deadline_warnings(product, planned, t, config.settings)
        warnings += planned.warnings
        trip = check_plan_safety(planned, config.settings.safety)
        if trip is not None:
            safety.append(trip)

    plan = Plan(
        at=t,
        lms=live.lms,
        changes=order_changes(changes),
        safety=tuple(safety),
        warnings=tuple(warnings),
        skipped=tuple(skipped),
        products=tuple(p.id for p in config.products),
    )
    return Planned(plan=plan, desired=desired)
