"""The report as a rich table on a terminal: the columns a person scans first."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from certops.report.rows import ReportRow, ReportState

STYLES = {
    ReportState.CERTIFIED: "green",
    ReportState.SUSPENDED: "red",
    ReportState.REVOKED: "magenta",
    ReportState.NEEDS_REVIEW: "yellow",
    ReportState.NEVER: "dim",
}


def render_table(rows: Iterable[ReportRow], console: Console, *, title: str) -> int:
    """Prints ``rows`` as one table on ``console``; returns the number of rows."""
    table = Table(title=title, show_lines=False, header_style="bold")
    for name in ("user", "name", "product", "state", "since", "owes", "due", "days", "course"):
        table.add_column(name, justify="right" if name == "days" else "left")
    table.add_column("notes")
    count = 0
    for row in rows:
        record = row.record()
        notes = [
            (
                f"extended to {record['extension_until']} ({row.extension_reason})"
                if row.extension_until
                else ""
            ),
            f"{row.last_change} {record['last_change_at'][:10]}" if row.last_change_at else "",
            "deactivated" if not row.active else "",
            row.needs_review or "",
        ]
        table.add_row(
            row.username,
            row.name,
            row.product,
            f"[{STYLES[row.state]}]{row.state.value}[/]",
            (record["since"] or "")[:10],
            row.owes or "",
            record["deadline"] or "",
            "" if row.days_left is None else str(row.days_left),
            f"{row.maintenance_course} {row.maintenance.value}" if row.maintenance else "",
            "; ".join(n for n in notes if n),
        )
        count += 1
    console.print(table)
    return count
