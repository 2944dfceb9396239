"""The HTML report: one self-contained file a manager opens offline.

No CDN, no web font, no external script or stylesheet: the styles and the few lines of
script (sorting and filtering the two lists) are inline, the charts are inline SVG, and a
Content-Security-Policy forbids the page from loading anything at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from html import escape

from certops.config.model import due_day
from certops.plan.jsonio import iso_utc
from certops.report.rows import ReportRow, ReportState
from certops.report.summary import ProductSummary

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:70rem;padding:0 1rem;color:#222}
h1{margin-bottom:.2rem}h2{margin-top:2.5rem;border-bottom:2px solid #ccc}
.meta{color:#666}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:left}
th{background:#f3f3f3}
table.list th{cursor:pointer;user-select:none}
table.list th[aria-sort=ascending]::after{content:" \\25B2"}
table.list th[aria-sort=descending]::after{content:" \\25BC"}
td.num,th.num{text-align:right}
.certified{color:#2e7d32}.suspended{color:#c62828}.revoked{color:#6a1b9a}
.needs_review{color:#ef6c00}.never{color:#777}
figure{margin:1rem 0}figcaption{font-weight:600;margin-bottom:.3rem}
figure svg{max-width:100%;height:auto}
input.filter{padding:.2rem .4rem;min-width:18rem}
.empty{color:#777;font-style:italic}
"""

# Sort a list by a header click (numbers as numbers), filter its rows by a text box.
SCRIPT = """
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
        var x = a.cells[column].textContent, y = b.cells[column].textContent;
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


def _day(instant: datetime | None) -> str:
    return "" if instant is None else due_day(instant).isoformat()


# The two lists: (header, cell of a row) per column; "days left" sorts as a number.
EXPIRING_COLUMNS: tuple[tuple[str, Callable[[ReportRow], object]], ...] = (
    ("username", lambda r: r.username),
    ("name", lambda r: r.name),
    ("email", lambda r: r.email),
    ("owes", lambda r: r.owes),
    ("due (UTC)", lambda r: _day(r.deadline_at)),
    ("days left", lambda r: r.days_left),
    ("course", lambda r: r.maintenance_course),
    ("progress", lambda r: r.maintenance.value if r.maintenance else ""),
    ("extension", lambda r: r.extension_reason),
    ("active", lambda r: "yes" if r.active else "no"),
)
LAPSED_COLUMNS: tuple[tuple[str, Callable[[ReportRow], object]], ...] = (
    ("username", lambda r: r.username),
    ("name", lambda r: r.name),
    ("email", lambda r: r.email),
    ("period", lambda r: r.lapsed_period),
    ("due (UTC)", lambda r: _day(r.lapsed_at)),
    ("state now", lambda r: r.state.value),
    ("since", lambda r: "" if r.since is None else iso_utc(r.since)[:10]),
    ("last change", lambda r: r.last_change_reason),
    ("active", lambda r: "yes" if r.active else "no"),
)
NUMERIC = {"days left"}


def _cell(value: object, css: str = "") -> str:
    attr = f' class="{css}"' if css else ""
    return f"<td{attr}>{escape('' if value is None else str(value))}</td>"


def _list_table(
    table_id: str,
    rows: tuple[ReportRow, ...],
    columns: tuple[tuple[str, Callable[[ReportRow], object]], ...],
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
    return (
        f'<p><input class="filter" type="search" data-table="{table_id}" '
        f'placeholder="Filter {escape(caption)}" aria-label="Filter {escape(caption)}"></p>'
        f'<table class="list" id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(lines)}</tbody></table>"
    )


def _counts_table(summary: ProductSummary) -> str:
    cells = "".join(
        f'<tr><th class="{s.value}">{s.value}</th><td class="num">{summary.counts[s]:,}</td></tr>'
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
        f"{figures.days_left} days left"
        if figures.days_left >= 0
        else f"passed {-figures.days_left} days ago"
    )
    rows = [
        ("owe it now", figures.owe),
        ("completed", figures.completed),
        ("in progress", figures.in_progress),
        ("not started", figures.not_started),
        ("owed it at some point", figures.owed_by),
    ]
    body = "".join(f'<tr><th>{k}</th><td class="num">{v:,}</td></tr>' for k, v in rows)
    return (
        f"<p>Current period <strong>{escape(period.id)}</strong> "
        f"({escape(period.course.code)}): due {period.due.isoformat()} (UTC, inclusive), "
        f"{days}.</p>"
        f'<table class="period"><tbody>{body}</tbody></table>'
    )


def _product_section(
    summary: ProductSummary, at: datetime, expiring_days: int, charts: dict[str, str]
) -> str:
    product = summary.product
    pid = escape(product.id)
    parts = [
        f'<section id="product-{pid}"><h2>{escape(product.name)} ({pid})</h2>',
        "<h3>Status</h3>",
        _counts_table(summary),
        "<h3>Maintenance</h3>",
        _period_table(summary),
        '<figure class="chart trend"><figcaption>Certified, suspended and owing, monthly over '
        "24 months (dashed: projection to the next deadline if nobody else completes)"
        f"</figcaption>{charts['trend']}</figure>",
    ]
    if "burnup" in charts and summary.current is not None:
        parts.append(
            f'<figure class="chart burnup"><figcaption>Completions of '
            f"{escape(summary.current.period.course.code)} against the learners who owe "
            f"period {escape(summary.current.period.id)}</figcaption>{charts['burnup']}"
            "</figure>"
        )
    parts.append(f"<h3>Expiring within {expiring_days} days ({len(summary.expiring):,})</h3>")
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
            f"{rollover.due.isoformat()} ({len(summary.lapsed):,})</h3>"
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
    summaries: Iterable[ProductSummary], *, at: datetime, lms: str, expiring_days: int
) -> str:
    """The whole HTML document for ``summaries`` (charts rendered here, with matplotlib)."""
    from certops.report.charts import burnup_svg, trend_svg

    sections = []
    for summary in summaries:
        pid = summary.product.id
        charts = {"trend": trend_svg(summary.trend, at, salt=f"{pid}-trend")}
        if summary.current is not None:
            charts["burnup"] = burnup_svg(summary.current, at, salt=f"{pid}-burnup")
        sections.append(_product_section(summary, at, expiring_days, charts))
    when = iso_utc(at)
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>Certification report at {when}</title><style>{STYLE}</style></head>\n"
        f"<body><h1>Certification report</h1>"
        f'<p class="meta">At {when} (UTC) &middot; LMS {escape(lms)} &middot; made by certops'
        "</p>\n" + "\n".join(sections) + f"\n<script>{SCRIPT}</script>\n</body></html>\n"
    )
