"""A plan with no enrollment change left (an applied tenant: only manual steps) classes
its changes without planning the learners again at the last apply's instant, and the
classes are exactly those the full plan at that instant gives."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from certops.config import load_config
from certops.connection import connect_reader
from certops.live import LiveSnapshot, read_live
from certops.plan.ack import AckFile
from certops.plan.classes import AppliedRecord, LastApply, classify, config_digest
from certops.plan.model import ChangeType
from certops.run import _assemble, build_plan
from tests.cli.conftest import Workspace

AT = datetime(2026, 6, 1, tzinfo=UTC)


def test_manual_steps_are_classed_as_against_the_full_earlier_plan(ws: Workspace) -> None:
    applied = ws.run("apply", "conf", "--yes", "--at", AT.isoformat())
    assert applied.code == 0, applied.output
    config = load_config([str(ws.conf)])
    acks = AckFile.load(ws.conf / ".certops-ack.yaml")

    async def read() -> LiveSnapshot:
        async with connect_reader(ws.address) as reader:
            return await read_live(reader, config)

    live = asyncio.run(read())
    # The last apply's instant: a year on, when the next period's enrollments are due, so
    # the plan there holds enrollment changes that a lookup could (wrongly) meet.
    later = AT + timedelta(days=400)
    assert any(
        c.type is ChangeType.ENROLLMENT for c in _assemble(config, live, later, acks).plan.changes
    )
    record = AppliedRecord(
        last={p.id: LastApply(later, config_digest(config, p.id)) for p in config.products}
    )

    planned = build_plan(config, live, AT, acks, record)

    now = _assemble(config, live, AT, acks).plan.changes
    assert now and not any(c.type is ChangeType.ENROLLMENT for c in now)
    expected = classify(
        now, config, record, lambda i: _assemble(config, live, i, acks).plan.changes
    )
    assert [c.change_class for c in planned.plan.changes] == [c.change_class for c in expected]
    assert {c.change_class for c in expected} != {None}
