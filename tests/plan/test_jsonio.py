"""The plan's JSON form, digest and dependency order (docs/plan.md)."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

from certops.plan.jsonio import (
    PlanFileError,
    order_changes,
    plan_digest,
    plan_from_dict,
    plan_to_dict,
)
from certops.plan.model import Plan, PlanWarning, SafetyTrip
from tests.plan.plan_samples import AT, enrollment, new_enrollment, sample_plan, setup_changes

LMS = "https://acme.docebosaas.com"


@pytest.fixture
def plan() -> Plan:
    return sample_plan()


def test_plan_to_dict_has_the_contract_shape(plan: Plan) -> None:
    data = plan_to_dict(plan)

    assert list(data)[:7] == [
        "format_version",
        "at",
        "lms",
        "digest",
        "summary",
        "changes",
        "safety",
    ]
    assert data["format_version"] == 2
    assert data["at"] == "2027-01-02T00:00:00Z"
    assert data["digest"].startswith("sha256:") and len(data["digest"]) == 7 + 64
    assert data["summary"] == {
        "create": 3,
        "update": 2,
        "manual": 1,
        "blocked": True,
        "classes": {"drift": 0, "schedule": 0, "config": 0},  # the sample is unclassified
        # What the changes do, by name: the suspension is not "1 to update".
        "effects": {
            "suspend": 1,
            "reinstate": 0,
            "certify": 0,
            "maintenance": 1,
            "deadline": 0,
            "create": 2,
            "update": 1,
            "manual": 1,
        },
    }
    first = data["changes"][0]
    settings = {
        "name": "Widget Pro MoC 2028",
        "description": "",
        "course_type": "elearning",
        "published": True,
        "self_unenrollment": True,
        "enrollment_policy": "free",
        "date_begin": None,
        "date_end": None,
        "soft_deadline": False,
        "visible_only_to_enrolled": None,
    }
    assert first == {
        "address": "course.MOC-WP-2028",
        "target": {"kind": "course", "course": "MOC-WP-2028"},
        "type": "course",
        "action": "create",
        "product": "widget-pro",
        "before": {},
        "after": settings,
        "reason": "maintenance course for period 2028 does not exist",
        # What apply sends, whole: a create has no id yet and sends every setting.
        "write": {
            "course_id": None,
            "settings": settings,
            "send": sorted(settings),
            "verify": ["name"],
        },
    }
    suspend = next(c for c in data["changes"] if c["address"] == "enrollment.CERT-WP.jdoe")
    assert (suspend["before"], suspend["after"]) == (
        {"status": "completed"},
        {"status": "suspended"},
    )
    assert suspend["write"] == {"user_id": 1, "course_id": 1, "status": "suspended"}
    manual = next(c for c in data["changes"] if c["action"] == "manual")
    assert manual["steps"][0].startswith("Admin Menu") and manual["fingerprint"].startswith("sha")
    assert data["safety"] == [
        {"product": "widget-pro", "limit": "max_suspend_fraction", "value": 0.4, "threshold": 0.25}
    ]
    assert data["skipped"][0]["reason"] == "user is deactivated"
    assert data["warnings"][0]["address"] == "enrollment.CERT-WP.x"
    json.dumps(data)  # JSON-able throughout


def test_round_trip_through_json_text(plan: Plan) -> None:
    text = json.dumps(plan_to_dict(plan))
    back = plan_from_dict(json.loads(text))
    assert back == dataclasses.replace(plan, changes=order_changes(plan.changes))


def test_digest_is_stable_and_sensitive(plan: Plan) -> None:
    changes = list(plan.changes)
    digest = plan_digest(changes, AT, LMS)
    assert plan_digest(list(reversed(changes)), AT, LMS) == digest  # order-independent
    assert plan_digest(changes, AT + timedelta(seconds=1), LMS) != digest
    last = changes[-1]
    assert last.write is not None
    edited = dataclasses.replace(last, write=dataclasses.replace(last.write, user_id=99))
    assert plan_digest([*changes[:-1], edited], AT, LMS) != digest
    assert plan_digest(changes[:-1], AT, LMS) != digest
    # The LMS is covered: a plan cannot be pointed at another host by editing the file.
    assert plan_digest(changes, AT, "https://evil.example.com") != digest


def test_editing_the_lms_of_a_saved_plan_breaks_its_digest(plan: Plan) -> None:
    data = plan_to_dict(plan)
    data["lms"] = "https://evil.example.com"
    with pytest.raises(PlanFileError, match=r"digest .* does not match"):
        plan_from_dict(data)


def test_order_by_dependency_then_product_then_address() -> None:
    changes = [
        new_enrollment("MOC-WP-2027", "b", product="widget-pro"),
        new_enrollment("MOC-WP-2027", "a", product="widget-pro"),
        new_enrollment("MOC-G-2027", "z", product="gadget"),
        *setup_changes(),
    ]
    ordered = [c.address for c in order_changes(changes)]
    assert ordered == [
        "course.MOC-WP-2028",
        "catalog.SF-SYNC",
        "group.Certified: Widget Pro",
        "enrollment.MOC-G-2027.z",
        "enrollment.MOC-WP-2027.a",
        "enrollment.MOC-WP-2027.b",
        "enrollment_rule.Certified: Widget Pro courses",
    ]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format_version=3), "format_version: expected 2"),
        (lambda d: d.update(format_version=1), "format_version 1 was written by an earlier"),
        (lambda d: d.pop("changes"), "missing key 'changes'"),
        (lambda d: d.update(at="tomorrow"), "at: expected an ISO 8601 instant"),
        (lambda d: d["changes"][0].update(action="delete"), "changes[0].action: expected one of"),
        (lambda d: d["changes"][1].update(type="user"), "changes[1].type: expected one of"),
        (lambda d: d["changes"][0].update(after=[1]), "changes[0].after: expected an object"),
        (lambda d: d["safety"][0].update(value="x"), "safety[0].value: expected a number"),
        (lambda d: d["changes"][0]["after"].update(name="x"), "after is not what its write"),
        (lambda d: d["changes"][0]["write"]["settings"].update(name="x"), "not what its write"),
        (lambda d: d["changes"][0]["write"].update(course_id=7), "does not match its changes"),
        (lambda d: d["changes"][0]["write"].update(send=["colour"]), "write.send: expected"),
        (lambda d: d["changes"][0].pop("write"), "changes[0]: missing key 'write'"),
        (lambda d: d["changes"][0].pop("target"), "changes[0]: missing key 'target'"),
        (
            lambda d: d["changes"][0]["target"].update(course="OTHER"),
            "changes[0].target: expected the key of 'course.MOC-WP-2028'",
        ),
        (lambda d: d["changes"][0]["target"].update(kind="user"), "target.kind: expected one of"),
    ],
)
def test_malformed_plan_files_are_refused_clearly(plan: Plan, mutate, message: str) -> None:
    data = json.loads(json.dumps(plan_to_dict(plan)))
    mutate(data)
    with pytest.raises(PlanFileError, match=message.replace("[", r"\[").replace("]", r"\]")):
        plan_from_dict(data)


def test_a_dotted_course_code_round_trips_by_its_parts() -> None:
    change = new_enrollment("MOC.WP.2027", "j.doe")
    plan = dataclasses.replace(sample_plan(), changes=(change,), safety=())
    data = json.loads(json.dumps(plan_to_dict(plan)))
    assert data["changes"][0]["address"] == "enrollment.MOC.WP.2027.j.doe"
    assert data["changes"][0]["target"] == {
        "kind": "enrollment",
        "course": "MOC.WP.2027",
        "user": "j.doe",
    }
    [back] = plan_from_dict(data).changes
    assert (back.target.course, back.target.user) == ("MOC.WP.2027", "j.doe")


def test_a_decoded_plan_holds_the_typed_changes_it_was_made_of(plan: Plan) -> None:
    back = plan_from_dict(json.loads(json.dumps(plan_to_dict(plan))))
    by_address = {c.address: c for c in back.changes}
    created = by_address["enrollment.MOC-WP-2027.asmith"]
    assert created.write == new_enrollment("MOC-WP-2027", "asmith").write
    group = by_address["group.Certified: Widget Pro"]
    assert group.before == setup_changes()[0].before  # rule sets as GroupRule tuples


def test_not_an_object_is_refused() -> None:
    with pytest.raises(PlanFileError, match="top level: expected an object"):
        plan_from_dict([1, 2])


def test_update_changes_round_trip_values() -> None:
    change = enrollment("CERT-WP", "j.doe@example.com", "completed", "suspended")
    plan = Plan(at=AT, lms="https://acme.docebosaas.com", changes=(change,))
    assert plan_from_dict(plan_to_dict(plan)).changes == (change,)


def test_counts_and_structured_warnings_round_trip_as_extra_fields(plan: Plan) -> None:
    counted = dataclasses.replace(
        plan,
        safety=(SafetyTrip("widget-pro", "max_suspend_fraction", 50 / 51, 0.25, 50, 51),),
        warnings=(
            PlanWarning(
                "widget-pro",
                "2026 due in 7 days (2026-12-31); 1 of 2 who owe it have not completed",
                kind="deadline",
                details={"period": "2026", "days_left": 7, "owed": 2, "not_completed": 1},
            ),
            *plan.warnings,
        ),
    )
    data = json.loads(json.dumps(plan_to_dict(counted)))
    assert data["format_version"] == 2
    assert data["safety"] == [
        {
            "product": "widget-pro",
            "limit": "max_suspend_fraction",
            "value": 50 / 51,
            "threshold": 0.25,
            "suspensions": 50,
            "certified": 51,
        }
    ]
    assert data["warnings"][0]["kind"] == "deadline"
    assert data["warnings"][0]["details"]["owed"] == 2
    # A warning without a kind keeps exactly the fields it always had.
    assert set(data["warnings"][1]) == {"product", "message", "address"}
    back = plan_from_dict(data)
    assert (back.safety, back.warnings) == (counted.safety, counted.warnings)
    # A plan saved before the counts existed still reads, without them.
    for trip in data["safety"]:
        del trip["suspensions"], trip["certified"]
    assert plan_from_dict(data).safety[0].suspensions is None
    data["safety"][0]["certified"] = -1
    with pytest.raises(PlanFileError, match=r"safety\[0\].certified: expected a whole number"):
        plan_from_dict(data)
