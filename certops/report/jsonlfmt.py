"""The report as JSON Lines: one JSON object per row (the CSV's columns as keys, with JSON
types), written as it comes, for tools that stream records (``jq``, data loaders)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

from certops.report.rows import ReportRow


def write_jsonl(rows: Iterable[ReportRow], out: TextIO) -> int:
    """Writes each row of ``rows`` to ``out`` as one line of JSON; returns the count."""
    count = 0
    for row in rows:
        out.write(json.dumps(row.record(), ensure_ascii=False) + "\n")
        count += 1
    return count
