"""What a pull request changes: the configuration's differences in words (exceptions by
learner, anything else by its path), and the plan's changes one configuration makes and
the other does not; rendered first in the Markdown plan, manual steps both wait for on
one line."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

from certops.config import load_config
from certops.config.model import Config, Extension, Safety
from certops.plan.markdown import render_markdown
from certops.plan.model import Plan
from certops.plan.render import render_text
from certops.plan.review import config_differences, review
from tests.plan.plan_samples import AT, new_enrollment, setup_changes

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def examples() -> Config:
    return load_config([str(EXAMPLES)])


def with_product(config: Config, product_id: str, **changes: object) -> Config:
    products = tuple(
        dataclasses.replace(p, **changes) if p.id == product_id else p for p in config.products
    )
    return dataclasses.replace(config, products=products)


def test_exceptions_are_told_by_learner_and_the_rest_by_path() -> None:
    base = examples()
    gadget = base.product("gadget-max")
    assert gadget is not None
    added = Extension("learner0066", "2026", date(2027, 1, 31), "surgery, HR-4411")
    moved = dataclasses.replace(gadget.extensions[0], until=date(2027, 2, 28))
    head = with_product(base, "gadget-max", extensions=(moved, added), revocations=())
    safety = Safety(max_suspend_fraction=0.3)
    head = dataclasses.replace(head, settings=dataclasses.replace(head.settings, safety=safety))
    texts = [(d.product, d.text) for d in config_differences(base, head)]
    assert texts == [
        (
            "gadget-max",
            "extension for jdoe in 2026: due 2027-02-28, reason: parental leave "
            "(was: extension for jdoe in 2026: due 2027-01-31, reason: parental leave)",
        ),
        (
            "gadget-max",
            "extension for learner0066 in 2026: due 2027-01-31, reason: surgery, HR-4411",
        ),
        ("gadget-max", "revocation of bcole at 2026-06-01T00:00:00Z, reason: misconduct: removed"),
        (None, "settings.safety.max_suspend_fraction: 0.25 → 0.3"),
    ]
    assert config_differences(base, base) == ()


def test_the_pull_request_comes_first_and_waiting_steps_are_one_line() -> None:
    base_config = examples()
    added = Extension("jdoe2", "2026", date(2027, 1, 31), "surgery")
    gadget = base_config.product("gadget-max")
    assert gadget is not None
    head_config = with_product(base_config, "gadget-max", extensions=(*gadget.extensions, added))
    steps = [c for c in setup_changes() if c.action.value == "manual"]
    moved = new_enrollment("MOC-GM-2026", "jdoe2", product="gadget-max")
    base_plan = Plan(at=AT, lms="sandbox:x", changes=tuple(steps), products=("gadget-max",))
    head_plan = dataclasses.replace(base_plan, changes=(*steps, moved))
    found = review(base_config, head_config, base_plan, head_plan)
    assert found.introduced == (moved,) and found.withdrawn == ()
    assert found.waiting == tuple(steps)
    md = render_markdown(head_plan, review=found)
    section = md[md.index("#### This pull request") : md.index("| product | suspend")]
    assert "extension for jdoe2 in 2026: due 2027-01-31, reason: surgery" in section
    assert "`enrollment.MOC-GM-2026.jdoe2`" in section
    manual = md[md.index("#### Manual steps") :]
    assert f"- {len(steps)} already shown and still waiting for a person" in manual
    assert "enrollment_rule.Certified: Widget Pro courses" not in manual  # on that one line


def test_the_text_plan_says_it_too() -> None:
    base_config = examples()
    gadget = base_config.product("gadget-max")
    assert gadget is not None
    added = Extension("jdoe2", "2026", date(2027, 1, 31), "surgery")
    head_config = with_product(base_config, "gadget-max", extensions=(*gadget.extensions, added))
    moved = new_enrollment("MOC-GM-2026", "jdoe2", product="gadget-max")
    base_plan = Plan(at=AT, lms="sandbox:x", changes=(), products=("gadget-max",))
    head_plan = dataclasses.replace(base_plan, changes=(moved,))
    text = render_text(head_plan, False, review(base_config, head_config, base_plan, head_plan))
    assert "gadget-max: extension for jdoe2 in 2026: due 2027-01-31, reason: surgery" in text
    assert "and brings: 1 maintenance enrollment" in text
