"""Manual steps for enrollment rules and notifications, and their acknowledgement."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

from certops.config.model import (
    CertifiedCourse,
    Config,
    CourseSpec,
    Digest,
    Extension,
    InitialPath,
    Maintenance,
    NamedRef,
    Notifications,
    Period,
    Product,
)
from certops.engine.manual import NoAcks, current_period, manual_steps
from certops.plan.ack import AckFile
from certops.plan.model import Action, ChangeType

DEC_2026 = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
JAN_2027 = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)


def period(year: int) -> Period:
    return Period(
        id=str(year),
        course=CourseSpec(f"MOC-WP-{year}", f"Widget Pro MoC {year}"),
        opens=date(year, 1, 1),
        due=date(year, 12, 31),
    )


def widget_pro(**changes: object) -> Product:
    product = Product(
        id="widget-pro",
        name="Widget Pro",
        group=NamedRef("Certified: Widget Pro"),
        initial_paths=(InitialPath("classic", ("WP-101",)),),
        certified_course=CertifiedCourse("CERT-WP", "Certified: Widget Pro"),
        maintenance=Maintenance(periods=(period(2026), period(2027))),
        enrollment_rule=NamedRef("Certified: Widget Pro courses"),
        notifications=Notifications(
            learner_enrolled=NamedRef("Maintenance of certification enrollment"),
            admin_certified=NamedRef("New Widget Pro certification"),
            digest=Digest("Maintenance of certification not yet completed"),
        ),
    )
    return dataclasses.replace(product, **changes)


def by_address(config: Config, t: datetime, acks: object = None) -> dict[str, object]:
    return {c.address: c for c in manual_steps(config, t, acks or NoAcks())}


def test_manual_changes_for_rule_and_notifications() -> None:
    changes = manual_steps(Config(products=(widget_pro(),)), DEC_2026, NoAcks())

    assert [c.address for c in changes] == [
        "enrollment_rule.Certified: Widget Pro courses",
        "notification.Maintenance of certification enrollment",
        "notification.Maintenance of certification not yet completed",
        # 2026-12-31 is within 7 days of the deadline: the daily rung of the ladder.
        "notification.Maintenance of certification not yet completed.schedule.daily",
        "notification.New Widget Pro certification",
    ]
    assert all(c.action is Action.MANUAL and c.product == "widget-pro" for c in changes)
    assert all(c.steps and c.fingerprint.startswith("sha256:") for c in changes)
    rule = changes[0]
    assert rule.type is ChangeType.ENROLLMENT_RULE
    assert rule.after == {
        "source_groups": ["Certified: Widget Pro"],
        "target_courses": ["CERT-WP", "MOC-WP-2026"],
    }
    text = " ".join(rule.steps)
    assert "Admin Menu > Enrollment Rules" in text
    assert "Set the target courses to CERT-WP and MOC-WP-2026; remove MOC-WP-2027" in text
    admin = changes[4]
    assert admin.after["courses"] == ["CERT-WP"]


def test_steps_switch_at_the_rollover() -> None:
    config = Config(products=(widget_pro(),))
    before = by_address(config, DEC_2026)
    after = by_address(config, JAN_2027)

    rule_before = before["enrollment_rule.Certified: Widget Pro courses"]
    rule_after = after["enrollment_rule.Certified: Widget Pro courses"]
    assert rule_after.after["target_courses"] == ["CERT-WP", "MOC-WP-2027"]
    assert "remove MOC-WP-2026" in " ".join(rule_after.steps)
    assert rule_before.fingerprint != rule_after.fingerprint
    digest = "notification.Maintenance of certification not yet completed"
    assert after[digest].after["courses"] == ["MOC-WP-2027"]
    assert before[digest].fingerprint != after[digest].fingerprint
    # The admin notice points at the certified course, which does not roll over.
    admin = "notification.New Widget Pro certification"
    assert before[admin].fingerprint == after[admin].fingerprint


def test_current_period() -> None:
    product = widget_pro()
    assert current_period(product, datetime(2025, 5, 1, tzinfo=UTC)).id == "2026"
    assert current_period(product, DEC_2026).id == "2026"
    assert current_period(product, JAN_2027).id == "2027"
    assert current_period(product, datetime(2030, 1, 1, tzinfo=UTC)).id == "2027"
    assert current_period(widget_pro(maintenance=Maintenance(periods=())), JAN_2027) is None


def test_digest_keeps_an_extended_period_course() -> None:
    extended = widget_pro(extensions=(Extension("jdoe", "2026", date(2027, 1, 31), "leave"),))
    steps = by_address(Config(products=(extended,)), datetime(2027, 1, 15, tzinfo=UTC))
    digest = steps["notification.Maintenance of certification not yet completed"]
    assert digest.after["courses"] == ["MOC-WP-2026", "MOC-WP-2027"]
    later = by_address(Config(products=(extended,)), datetime(2027, 2, 1, tzinfo=UTC))
    assert later["notification.Maintenance of certification not yet completed"].after[
        "courses"
    ] == ["MOC-WP-2027"]


def test_shared_notification_asks_for_the_union() -> None:
    gadget = widget_pro(
        id="gadget",
        group=NamedRef("Certified: Gadget"),
        certified_course=CertifiedCourse("CERT-G", "Certified: Gadget"),
        maintenance=Maintenance(
            periods=(dataclasses.replace(period(2026), course=CourseSpec("MOC-G-2026", "G")),)
        ),
        enrollment_rule=NamedRef("Certified: Gadget courses"),
        notifications=Notifications(
            learner_enrolled=NamedRef("Maintenance of certification enrollment")
        ),
    )
    steps = by_address(Config(products=(widget_pro(), gadget)), DEC_2026)
    shared = steps["notification.Maintenance of certification enrollment"]
    assert shared.product is None
    assert shared.after["courses"] == ["MOC-G-2026", "MOC-WP-2026"]
    assert "select MOC-G-2026 and MOC-WP-2026; remove" in " ".join(shared.steps)


def test_one_rule_named_by_two_products_asks_to_split_it() -> None:
    gadget = widget_pro(id="gadget", group=NamedRef("Certified: Gadget"))
    steps = by_address(Config(products=(widget_pro(), gadget)), DEC_2026)
    rule = steps["enrollment_rule.Certified: Widget Pro courses"]
    assert rule.after == {"conflict": ["gadget", "widget-pro"]} and rule.product is None
    assert "own enrollment_rule name" in " ".join(rule.steps)


def test_ack_hides_a_step_until_what_is_asked_changes(tmp_path: Path) -> None:
    config = Config(products=(widget_pro(),))
    acks = AckFile.load(tmp_path / ".certops-ack.yaml")
    rule = by_address(config, DEC_2026)["enrollment_rule.Certified: Widget Pro courses"]

    acks.record(rule.address, rule.fingerprint, DEC_2026, "jdoe")
    acks.save()
    reloaded = AckFile.load(tmp_path / ".certops-ack.yaml")

    assert rule.address not in by_address(config, DEC_2026, reloaded)
    assert len(by_address(config, DEC_2026, reloaded)) == 4
    # The rollover changes what the rule must target: the step shows again.
    again = by_address(config, JAN_2027, reloaded)
    assert rule.address in again
    assert again[rule.address].fingerprint != rule.fingerprint


def test_products_without_rule_or_notifications_ask_nothing() -> None:
    bare = widget_pro(enrollment_rule=None, notifications=Notifications())
    assert manual_steps(Config(products=(bare,)), DEC_2026, NoAcks()) == []
