"""The safety limit on suspensions (DESIGN.md sections 4 and 5).

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
