"""The HTML report: one self-contained file a manager opens offline, and reads first.

Its first screen is a summary of every product: certified, compliance, the current
period's completions and what to expect at its deadline, who is expiring soon and who
lapsed at the last rollover, each linking to its product's section. A section then shows
its product's figures, the trend and the completion curves (full width), and the two
lists (long ones folded, all sortable and filterable). Dates read as people write them
("31 December 2026"; ISO in a list's sort key).

No CDN, no web font, no external script or stylesheet: the styles and the few lines of
script (sorting and filtering the lists) are inline, the charts are inline SVG, and a
Content-Security-Policy forbids the page from loading anything at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from html import escape

from certops.config.model import due_day
from certops.report.rows import ReportRow, ReportState
from certops.report.summary import Outlook, ProductSummary

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
FOLD_OVER = 25  # a list longer than this starts folded

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem auto;
max-width:84rem;padding:0 1.5rem;color:#222;line-height:1.4}
h1{margin-bottom:.2rem}h2{margin-top:2.5rem;border-bottom:2px solid #ccc}
a{color:#1565c0}
.meta{color:#666;margin-top:0}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}
table.summary{width:100%;font-size:.95rem}
table.summary td.num,table.summary th.num{text-align:right}
table.summary tr.total td{font-weight:600;background:#fafafa}
table.list th{cursor:pointer;user-select:none}
table.list th[aria-sort=ascending]::after{content:" \\25B2"}
table.list th[aria-sort=descending]::after{content:" \\25BC"}
td.num,th.num{text-align:right}
.certified{color:#2e7d32}.suspended{color:#c62828}.revoked{color:#6a1b9a}
.needs_review{color:#ef6c00}.never{color:#777}
.kpis{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.kpi{flex:1 1 12rem;border:1px solid #ddd;border-radius:6px;padding:.6rem .8rem;background:#fafafa}
.kpi .value{font-size:1.6rem;font-weight:600}
.kpi .label{color:#555;font-size:.85rem}
.tables{display:flex;flex-wrap:wrap;gap:2rem}
figure{margin:1.2rem 0}figcaption{font-weight:600;margin-bottom:.3rem}
figure svg{width:100%;height:auto;display:block}
.note{color:#555;font-size:.9rem}
input.filter{padding:.2rem .4rem;min-width:18rem}
details>summary{cursor:pointer;color:#1565c0;margin:.3rem 0}
.empty{color:#777;font-style:italic}
"""

# Sort a list by a header click (numbers as numbers, a cell's data-sort key first), filter
# its rows by a text box.
SCRIPT = """
function key(cell) {
  var sort = cell.getAttribute("data-sort");
  return sort === null ? cell.textContent : sort;
}
document.querySelectorAll("table.list").forEach(function (table) {
  var body = table.tBodies[0];
  table.querySelectorAll("th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach(function (other) {
        other.removeAttribute("aria-sort");
      });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a.cells[column]), y = key(b.cells[column]);
        var nx = parseFloat(x), ny = parseFloat(y);
        var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
document.querySelectorAll("input.filter").forEach(function (input) {
  var table = document.getElementById(input.getAttribute("data-table"));
  input.addEventListener("input", function () {
    var needle = input.value.toLowerCase();
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      row.hidden = needle !== "" && row.textContent.toLowerCase().indexOf(needle) < 0;
    });
  });
});
document.body.setAttribute("data-ready", "true");
"""


def long_date(day: date) -> str:
    """``31 December 2026``."""
    return f"{day.day} {day:%B %Y}"


def short_date(day: date) -> str:
    """``31 Dec 2026``."""
    return f"{day.day} {day:%b %Y}"


def _due(instant: datetime | None) -> date | None:
    return None if instant is None else due_day(instant)


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _percent(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "-"


# A list cell: (shown text, sort key or None).
Cell = tuple[object, object]


def _dated(day: date | None) -> Cell:
    return ("", "") if day is None else (short_date(day), day.isoformat())


def _plain(value: object) -> Cell:
    return value, None


# The two lists: (header, cell of a row) per column.
EXPIRING_COLUMNS: tuple[tuple[str, Callable[[ReportRow], Cell]], ...] = (
    ("username", lambda r: _plain(r.username)),
    ("name", lambda r: _plain(r.name)),
    ("email", lambda r: _plain(r.email)),
    ("owes", lambda r: _plain(r.owes)),
    ("due (UTC)", lambda r: _dated(_due(r.deadline_at))),
    ("days left", lambda r: _plain(r.days_left)),
    ("course", lambda r: _plain(r.maintenance_course)),
    ("progress", lambda r: _plain(r.maintenance.value.replace("_", " ") if r.maintenance else "")),
    ("extension", lambda r: _plain(r.extension_reason)),
    ("active", lambda r: _plain("yes" if r.active else "no")),
)
LAPSED_COLUMNS: tuple[tuple[str, Callable[[ReportRow], Cell]], ...] = (
    ("username", lambda r: _plain(r.username)),
    ("name", lambda r: _plain(r.name)),
    ("email", lambda r: _plain(r.email)),
    ("period", lambda r: _plain(r.lapsed_period)),
    ("was due (UTC)", lambda r: _dated(_due(r.lapsed_at))),
    ("state now", lambda r: _plain(r.state.value.replace("_", " "))),
    ("since", lambda r: _dated(None if r.since is None else r.since.date())),
    ("last change", lambda r: _plain(r.last_change_reason)),
    ("active", lambda r: _plain("yes" if r.active else "no")),
)
NUMERIC = {"days left"}


def _cell(cell: Cell, css: str = "") -> str:
    value, sort = cell
    attr = f' class="{css}"' if css else ""
    if sort is not None:
        attr += f' data-sort="{escape(str(sort))}"'
    return f"<td{attr}>{escape('' if value is None else str(value))}</td>"


def _list_table(
    table_id: str,
    rows: tuple[ReportRow, ...],
    columns: tuple[tuple[str, Callable[[ReportRow], Cell]], ...],
    caption: str,
) -> str:
    if not rows:
        return f'<p class="empty">None ({escape(caption)}).</p>'
    head = "".join(
        f'<th class="num">{name}</th>' if name in NUMERIC else f"<th>{name}</th>"
        for name, _ in columns
    )
    lines = [
        "<tr>"
        + "".join(_cell(cell(row), "num" if name in NUMERIC else "") for name, cell in columns)
        + "</tr>"
        for row in rows
    ]
    table = (
        f'<p><input class="filter" type="search" data-table="{table_id}" '
        f'placeholder="Filter {escape(caption)}" aria-label="Filter {escape(caption)}"></p>'
        f'<table class="list" id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(lines)}</tbody></table>"
    )
    if len(rows) <= FOLD_OVER:
        return table
    return (
        f"<details><summary>Show all {len(rows):,} ({escape(caption)})</summary>{table}</details>"
    )


def _expected(outlook: Outlook | None) -> str:
    """What to expect at the deadline, in one phrase for the summary table."""
    if outlook is None:
        return "-"
    if outlook.expected_lapses is None:
        return f"up to {outlook.owe:,}"
    return f"{outlook.expected_lapses:,} of {outlook.owe:,}"


def _summary(summaries: list[ProductSummary], expiring_days: int) -> str:
    head = (
        "<tr><th>product</th><th class=num>certified</th><th class=num>compliance</th>"
        "<th>current period</th><th class=num>completed it</th>"
        f"<th class=num>expiring within {expiring_days} days</th>"
        "<th class=num>expected to lapse at its deadline</th>"
        "<th class=num>lapsed at the last rollover</th></tr>"
    )
    rows = []
    totals = {
        "certified": 0,
        "population": 0,
        "expiring": 0,
        "lapsed": 0,
        "done": 0,
        "owed": 0,
        "lapse": 0,
    }
    for s in summaries:
        pid = escape(s.product.id)
        certified = s.counts[ReportState.CERTIFIED]
        rate = "-" if s.compliance is None else f"{s.compliance:.1%}"
        current = s.current
        if current is None:
            period, done = "none open yet", "-"
        else:
            when = long_date(current.period.last_day)
            left = current.days_left
            tail = f", {_plural(left, 'day')} left" if left >= 0 else ", passed"
            period = f"{escape(current.period.id)}, due {when}{tail}"
            share = _percent(current.completed, current.owed_by)
            done = f"{current.completed:,} of {current.owed_by:,} ({share})"
            totals["done"] += current.completed
            totals["owed"] += current.owed_by
        lapsed = (
            "-"
            if s.last_rollover is None
            else (f'<a href="#lapsed-{pid}">{len(s.lapsed):,}</a> ({escape(s.last_rollover.id)})')
        )
        expected = _expected(s.outlook)
        rows.append(
            f'<tr><td><a href="#product-{pid}">{escape(s.product.name)}</a></td>'
            f'<td class="num">{certified:,}</td><td class="num">{rate}</td>'
            f"<td>{period}</td><td class=num>{done}</td>"
            f'<td class="num"><a href="#expiring-{pid}">{len(s.expiring):,}</a></td>'
            f'<td class="num">{expected}</td><td class="num">{lapsed}</td></tr>'
        )
        totals["certified"] += certified
        totals["population"] += s.population
        totals["expiring"] += len(s.expiring)
        totals["lapsed"] += len(s.lapsed)
        if s.outlook is not None:
            totals["lapse"] += s.outlook.expected_lapses or 0
    if len(summaries) > 1:
        rows.append(
            '<tr class="total"><td>all products</td>'
            f'<td class="num">{totals["certified"]:,}</td>'
            f'<td class="num">{_percent(totals["certified"], totals["population"])}</td>'
            f'<td></td><td class="num">{totals["done"]:,} of {totals["owed"]:,}</td>'
            f'<td class="num">{totals["expiring"]:,}</td><td class="num">{totals["lapse"]:,}</td>'
            f'<td class="num">{totals["lapsed"]:,}</td></tr>'
        )
    return (
        '<section id="summary"><h2>Summary</h2>'
        f'<table class="summary"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
        '<p class="note">Compliance: certified learners over the learners ever certified. '
        "Completed it: the learners who owe the current period and have completed its "
        "maintenance course. Expected to lapse: of those who owe it now and have not "
        "completed it, how many are expected not to by its deadline, at the pace of the "
        "period before (each product's section says how). A learner certified in several "
        "products counts once in each.</p></section>"
    )


def _kpis(summary: ProductSummary) -> str:
    cards = []
    certified = summary.counts[ReportState.CERTIFIED]
    rate = "-" if summary.compliance is None else f"{summary.compliance:.0%}"
    cards.append((f"{certified:,}", f"certified ({rate} of {summary.population:,} ever certified)"))
    current = summary.current
    if current is not None:
        left = current.days_left
        when = long_date(current.period.last_day)
        cards.append(
            (
                f"{_percent(current.completed, current.owed_by)}",
                f"completed period {escape(current.period.id)}: {current.completed:,} of "
                f"{current.owed_by:,}; due {when}"
                + (f", {_plural(left, 'day')} left" if left >= 0 else ""),
            )
        )
    outlook = summary.outlook
    if outlook is not None and outlook.owe:
        if outlook.expected is not None:
            cards.append(
                (
                    f"{outlook.expected_lapses:,}",
                    f"expected to lapse on {long_date(due_day(outlook.deadline))}: of the "
                    f"{outlook.owe:,} who owe it and are due then, {outlook.expected:,} are "
                    f"expected to complete it ({escape(outlook.basis)})",
                )
            )
        else:
            cards.append(
                (
                    f"0-{outlook.owe:,}",
                    f"may lapse on {long_date(due_day(outlook.deadline))}: the "
                    f"{outlook.owe:,} who owe it and are due then ({escape(outlook.basis)})",
                )
            )
    cards.append((f"{len(summary.expiring):,}", "expiring soon (listed below)"))
    if summary.last_rollover is not None:
        cards.append(
            (
                f"{len(summary.lapsed):,}",
                f"lapsed at the last rollover (period {escape(summary.last_rollover.id)})",
            )
        )
    return (
        '<div class="kpis">'
        + "".join(
            f'<div class="kpi"><div class="value">{value}</div>'
            f'<div class="label">{label}</div></div>'
            for value, label in cards
        )
        + "</div>"
    )


def _counts_table(summary: ProductSummary) -> str:
    cells = "".join(
        f'<tr><th class="{s.value}">{s.value.replace("_", " ")}</th>'
        f'<td class="num">{summary.counts[s]:,}</td></tr>'
        for s in ReportState
    )
    rate = summary.compliance
    shown = "-" if rate is None else f"{rate:.1%}"
    return (
        '<table class="counts"><tbody>'
        f"{cells}"
        f'<tr><th>population (ever certified)</th><td class="num">{summary.population:,}</td>'
        f'</tr><tr><th>compliance rate (certified / population)</th><td class="num">{shown}'
        "</td></tr></tbody></table>"
    )


def _period_table(summary: ProductSummary) -> str:
    figures = summary.current
    if figures is None:
        return '<p class="empty">No maintenance period has opened yet.</p>'
    period = figures.period
    days = (
        f"{_plural(figures.days_left, 'day')} left"
        if figures.days_left >= 0
        else f"passed {_plural(-figures.days_left, 'day')} ago"
    )
    extended = ""
    if period.extension is not None and period.last_day > period.due:
        extended = f" (extended from {long_date(period.due)}: {escape(period.extension.reason)})"
    rows = [
        ("owe it now", figures.owe),
        ("completed", figures.completed),
        ("in progress", figures.in_progress),
        ("not started", figures.not_started),
        ("owed it at some point", figures.owed_by),
    ]
    body = "".join(f'<tr><th>{k}</th><td class="num">{v:,}</td></tr>' for k, v in rows)
    return (
        '<div><table class="period"><caption style="text-align:left;font-weight:600">'
        f"Period {escape(period.id)} ({escape(period.course.code)}): due "
        f"{long_date(period.last_day)}{extended}, {days}</caption>"
        f"<tbody>{body}</tbody></table></div>"
    )


def _product_section(summary: ProductSummary, expiring_days: int, charts: dict[str, str]) -> str:
    product = summary.product
    pid = escape(product.id)
    parts = [
        f'<section id="product-{pid}"><h2>{escape(product.name)} ({pid})</h2>',
        _kpis(summary),
        '<div class="tables"><div><h3>Status</h3>',
        _counts_table(summary),
        "</div><div><h3>Maintenance</h3>",
        _period_table(summary),
        "</div></div>",
    ]
    outlook = summary.outlook
    ahead = ""
    if outlook is not None:
        ahead = f", and what to expect on {long_date(due_day(outlook.deadline))}"
    parts.append(
        '<figure class="chart trend"><figcaption>Certified, suspended and owing learners, '
        f"month by month over two years{ahead}</figcaption>{charts['trend']}</figure>"
    )
    if "completions" in charts and summary.current is not None:
        previous = summary.previous
        beside = (
            f", beside period {escape(previous.period.id)} as it went"
            if previous is not None and previous.owed
            else ""
        )
        parts.append(
            '<figure class="chart completions"><figcaption>Share of the learners who owe '
            f"period {escape(summary.current.period.id)} who have completed "
            f"{escape(summary.current.period.course.code)}, by days to its deadline{beside}"
            f"</figcaption>{charts['completions']}</figure>"
        )
    parts.append(
        f'<h3 id="expiring-{pid}-list">Expiring within {expiring_days} days '
        f"({len(summary.expiring):,})</h3>"
    )
    parts.append(
        _list_table(
            f"expiring-{pid}",
            summary.expiring,
            EXPIRING_COLUMNS,
            f"learners due within {expiring_days} days",
        )
    )
    rollover = summary.last_rollover
    if rollover is None:
        parts.append("<h3>Lapsed at the last rollover</h3>")
        parts.append('<p class="empty">No period deadline has passed yet.</p>')
    else:
        parts.append(
            f"<h3>Lapsed at the last rollover: period {escape(rollover.id)}, due "
            f"{long_date(rollover.last_day)} ({len(summary.lapsed):,})</h3>"
        )
        parts.append(
            _list_table(
                f"lapsed-{pid}",
                summary.lapsed,
                LAPSED_COLUMNS,
                f"learners who lapsed on {rollover.id}",
            )
        )
    parts.append("</section>")
    return "\n".join(parts)


def render_html(
    summaries: Iterable[ProductSummary],
    *,
    at: datetime,
    lms: str,
    expiring_days: int,
    progress: Callable[[str], None] | None = None,
) -> str:
    """The whole HTML document for ``summaries`` (charts drawn here, with matplotlib);
    ``progress`` is told which product is being drawn."""
    from certops.report.charts import completions_svg, trend_svg

    held = []
    sections = []
    for summary in summaries:
        held.append(summary)
        pid = summary.product.id
        if progress is not None:
            progress(f"report: {summary.product.name}: drawing the charts")
        charts = {"trend": trend_svg(summary.trend, summary.outlook, at, salt=f"{pid}-trend")}
        if summary.current is not None:
            charts["completions"] = completions_svg(
                summary.current, summary.previous, summary.outlook, at, salt=f"{pid}-curves"
            )
        sections.append(_product_section(summary, expiring_days, charts))
    when = f"{at:%A} {long_date(at.date())}, {at:%H:%M} UTC"
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>Certification report, {long_date(at.date())}</title>"
        f"<style>{STYLE}</style></head>\n"
        f"<body><h1>Certification report, {long_date(at.date())}</h1>"
        f'<p class="meta">As of {when} &middot; LMS {escape(lms)} &middot; made by certops '
        f"({escape(at.isoformat().replace('+00:00', 'Z'))})</p>\n"
        + _summary(held, expiring_days)
        + "\n"
        + "\n".join(sections)
        + f"\n<script>{SCRIPT}</script>\n</body></html>\n"
    )
