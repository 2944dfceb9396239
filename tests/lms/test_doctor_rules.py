"""``certops doctor`` shows the tenant's own group rule vocabulary, since the public record
does not name the course-completion rule certops writes."""

from __future__ import annotations

import asyncio

import httpx

from certops.lms.doctor import Outcome, run_checks
from certops.lms.records import GroupRule


def _rule_check(sandbox):
    checks = asyncio.run(run_checks(sandbox.address, connector=lambda a: sandbox.reader()))
    return next(c for c in checks if c.name == "group rule types")


def test_without_an_automatic_group_doctor_says_how_to_learn_the_names(loaded):
    check = _rule_check(loaded)
    assert check.outcome is Outcome.SKIPPED and "create one group" in check.detail


def test_certops_rule_in_use_is_recognised(loaded):
    async def make():
        async with loaded.writer() as lms:
            await lms.create_group("Certified", "", [GroupRule(("C-1",))], "ANY")

    asyncio.run(make())
    check = _rule_check(loaded)
    assert check.outcome is Outcome.OK
    assert "CourseEnrollmentStatus{course_ids, status}" in check.detail


def test_other_rule_names_are_listed_for_the_admin(loaded):
    async def make():
        # Lenient, as Docebo is: a rule type the sandbox does not model is stored as is.
        await loaded.admin("PUT", "settings", {"lenient": True})
        async with loaded.writer() as lms:
            token = await lms._http.token()
        transport = httpx.ASGITransport(app=loaded.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
            answer = await client.post(
                "/audiences/v1/audience",
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "name": "Made in the UI",
                    "type": "automatic",
                    "ruleset": {
                        "operator": "AND",
                        "sets": [
                            {
                                "rules_operator": "AND",
                                "rules": [
                                    {"type": "BranchMembership", "payload": {"branch_ids": [1]}}
                                ],
                            }
                        ],
                    },
                },
            )
            answer.raise_for_status()

    asyncio.run(make())
    check = _rule_check(loaded)
    assert check.outcome is Outcome.WARN
    assert "BranchMembership{branch_ids}" in check.detail
    assert "CourseEnrollmentStatus" in check.detail and "docs/wire.md" in check.detail
