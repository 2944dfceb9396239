"""The report as one JSON document, written row by row so memory does not grow with it.

    {"format_version": 1, "at": "...Z", "lms": "...", "filters": {...},
     "products": [{"id": ..., "name": ...}], "rows": [{COLUMNS...}, ...], "count": N}

``count`` comes last because it is only known once every row is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from certops.config.model import Config
from certops.plan.jsonio import iso_utc
from certops.report.rows import FORMAT_VERSION, Filters, ReportRow


@dataclass(frozen=True, slots=True)
class ReportHeader:
    """What a report is about: the instant, the LMS, the products and the filters."""

    at: datetime
    lms: str
    config: Config
    filters: Filters


def write_json(header: ReportHeader, rows: Iterable[ReportRow], out: TextIO) -> int:
    """Writes the document to ``out``, streaming ``rows``; returns the number of rows."""
    filters = header.filters
    head = {
        "format_version": FORMAT_VERSION,
        "at": iso_utc(header.at),
        "lms": header.lms,
        "filters": {
            "products": list(filters.products),
            "states": [s.value for s in filters.states],
            "expiring_within": filters.expiring_within,
            "users": list(filters.users),
        },
        "products": [{"id": p.id, "name": p.name} for p in header.config.products],
    }
    # The head without its closing brace, then the rows array written as rows come.
    out.write(json.dumps(head, indent=1)[:-2] + ',\n "rows": [')
    count = 0
    for row in rows:
        out.write(("\n  " if count == 0 else ",\n  ") + json.dumps(row.record()))
        count += 1
    out.write(("\n ]" if count else "]") + f',\n "count": {count}\n}}\n')
    return count
