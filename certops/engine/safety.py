"""The safety limit on suspensions (docs/plan.md, "Safety").

A plan that would suspend a large share of a product's certified learners at once is far
more often a mistake (a wrong period date, a course completed under another code, a broken
LMS read) than a real mass lapse, so it is blocked until someone passes ``--force``.
Small populations are exempt: suspending 2 of 5 learners is ordinary.
"""

from __future__ import annotations

from certops.config.model import Safety
from certops.engine.enrollments import EnrollmentPlan
from certops.plan.model import SafetyTrip

MAX_SUSPEND_FRACTION = "max_suspend_fraction"
MAX_REVERTED_MANUAL = "max_reverted_manual"


def check_safety(
    product_id: str, currently_certified: int, suspensions: int, settings: Safety
) -> SafetyTrip | None:
    """The trip when ``suspensions / currently_certified`` exceeds the limit, else None.
    The trip carries both counts, so that messages can say "50 of 51", not only 0.98.

    ``currently_certified`` counts the product's certified-course enrollments that are
    ``completed`` in the LMS now; the limit applies only when it is at least
    ``settings.min_population``. Exactly at the fraction does not trip.
    """
    if currently_certified < 0 or suspensions < 0:
        raise ValueError(
            f"product {product_id}: counts must be >= 0, got currently_certified="
            f"{currently_certified}, suspensions={suspensions}"
        )
    if currently_certified == 0 or currently_certified < settings.min_population:
        return None
    fraction = suspensions / currently_certified
    if fraction <= settings.max_suspend_fraction:
        return None
    return SafetyTrip(
        product=product_id,
        limit=MAX_SUSPEND_FRACTION,
        value=fraction,
        threshold=settings.max_suspend_fraction,
        suspensions=suspensions,
        certified=currently_certified,
    )


def check_plan_safety(plan: EnrollmentPlan, settings: Safety) -> SafetyTrip | None:
    """``check_safety`` for one product's enrollment plan; returns the trip or None."""
    return check_safety(plan.product, plan.currently_certified, plan.suspensions, settings)


def check_by_hand(plan: EnrollmentPlan, settings: Safety) -> SafetyTrip | None:
    """The trip when ``plan`` sets back more statuses set by hand (``plan.by_hand``) than
    ``settings.max_reverted_manual`` allows (default 0: any one blocks until ``--force``
    or the configuration names the exception); None otherwise. ``value`` and
    ``threshold`` are counts here, not fractions."""
    count = len(plan.by_hand)
    if count <= settings.max_reverted_manual:
        return None
    return SafetyTrip(
        product=plan.product,
        limit=MAX_REVERTED_MANUAL,
        value=float(count),
        threshold=float(settings.max_reverted_manual),
    )


MAX_REVERTED_DRIFT = "max_reverted_drift"


def check_reverted_drift(product: str, count: int, settings: Safety) -> SafetyTrip | None:
    """The trip when a product's plan sets back more values that someone changed by hand
    since certops wrote them (``count``, judged from the audit log by the caller) than
    ``settings.max_reverted_drift`` allows (default 0: a hand edit is reported, never
    silently reverted); None otherwise. ``value`` and ``threshold`` are counts."""
    if count <= settings.max_reverted_drift:
        return None
    return SafetyTrip(
        product=product,
        limit=MAX_REVERTED_DRIFT,
        value=float(count),
        threshold=float(settings.max_reverted_drift),
    )
