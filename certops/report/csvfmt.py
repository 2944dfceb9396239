"""The report as CSV: a header of ``COLUMNS`` then one line per row, written as it comes."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

from certops.escape import csv_text
from certops.report.rows import COLUMNS, ReportRow


def csv_value(value: Any) -> str:
    """A JSON value as a spreadsheet cell: empty for none, ``true``/``false`` for flags,
    numbers as they are, and text a spreadsheet could run as a formula (a username
    starting with ``=``, say) neutralised with a leading ``'`` (``csv_text``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return csv_text(str(value))


def write_csv(rows: Iterable[ReportRow], out: TextIO) -> int:
    """Writes the header and every row of ``rows`` to ``out`` one by one; returns the count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        record = row.record()
        writer.writerow([csv_value(record[name]) for name in COLUMNS])
        count += 1
    return count
