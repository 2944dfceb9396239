"""The HTML report's charts, drawn by matplotlib and rendered to inline SVG.

matplotlib is imported here only, and this module only when an HTML report is asked for:
CSV, JSON and table reports (and every other command) never pay for it. The figures use
matplotlib's object API (``Figure``), not ``pyplot``: no global state, no GUI backend,
nothing that needs a display. Text stays text in the SVG (``svg.fonttype: none``) so the
page's own font renders it; the SVG scales to the page's width (its size attributes are
dropped, its view box kept); and each chart gets its own id salt so the ids of clip paths
never collide when several charts share one page.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from certops.report.summary import Curve, Outlook, PeriodFigures, TrendPoint

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

COLORS = {
    "certified": "#2e7d32",
    "suspended": "#c62828",
    "owing": "#f9a825",
    "previous": "#9e9e9e",
    "now": "#555555",
}
WIDTH_IN, HEIGHT_IN = 11.0, 3.3  # drawn wide: the page shows it at its full width
_SIZE = re.compile(r'^(<svg[^>]*?)\s(?:width|height)="[^"]*"', re.S)


def _svg(figure: Figure, salt: str) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    # Inline SVG in HTML: drop the XML declaration and DOCTYPE that precede <svg>, and its
    # fixed size (the view box keeps the proportions; the page sets the width).
    svg = text[text.index("<svg") :]
    for _ in range(2):
        svg = _SIZE.sub(r"\1", svg, count=1)
    return svg


def _figure() -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=96, layout="constrained")
    axes = figure.add_subplot()
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    axes.tick_params(labelsize=9)
    return figure, axes


def _month_ticks(axes: Axes) -> None:
    import matplotlib.dates as mdates

    # matplotlib.dates ships no type hints (the rest of matplotlib does).
    axes.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 4, 7, 10)))  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))  # type: ignore[no-untyped-call]


def trend_svg(
    points: tuple[TrendPoint, ...], outlook: Outlook | None, at: datetime, *, salt: str
) -> str:
    """Certified, suspended and owing learners month by month; then, at the current
    period's deadline, the numbers expected there (a dotted line to each, never a drop
    drawn as if it had happened), or the range when nothing says what to expect."""
    # The x values are datetimes: matplotlib's date units convert them, but its type hints
    # take floats only (they do not model units), hence the ignores on those arguments.
    figure, axes = _figure()
    times = [p.at for p in points]
    for key in ("certified", "suspended", "owing"):
        axes.plot(
            times,  # type: ignore[arg-type]
            [getattr(p, key) for p in points],
            color=COLORS[key],
            label=key,
            linewidth=1.8,
            drawstyle="steps-post",
        )
    axes.axvline(at, color=COLORS["now"], linewidth=0.8, linestyle=":")  # type: ignore[arg-type]
    top = max([1, *(p.certified for p in points), *(p.suspended for p in points)])
    if outlook is not None and points:
        last = points[-1]
        end = outlook.deadline
        expected = (
            (outlook.expected_certified, outlook.expected_suspended)
            if outlook.expected is not None
            else None
        )
        for key, now, then, worst in (
            (
                "certified",
                last.certified,
                expected[0] if expected else None,
                last.certified - outlook.owe,
            ),
            (
                "suspended",
                last.suspended,
                expected[1] if expected else None,
                last.suspended + outlook.owe,
            ),
        ):
            if then is not None:
                axes.plot(
                    [at, end],  # type: ignore[arg-type]
                    [now, then],
                    color=COLORS[key],
                    linewidth=1.2,
                    linestyle=":",
                    marker="o",
                    markevery=[1],
                    markersize=5,
                )
                axes.annotate(
                    f"{then:,} expected",
                    (end, then),
                    xytext=(6, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=8,
                    color=COLORS[key],
                )
            else:
                # Between everyone and nobody completing: a bar, not a line.
                axes.vlines(
                    end,  # type: ignore[arg-type]
                    min(now, worst),
                    max(now, worst),
                    color=COLORS[key],
                    linewidth=4,
                    alpha=0.35,
                )
            top = max(top, now, worst, then or 0)
        axes.axvline(end, color=COLORS["suspended"], linewidth=0.6, alpha=0.5)  # type: ignore[arg-type]
        axes.set_xlim(right=end + timedelta(days=45))  # type: ignore[arg-type]
    axes.set_ylabel("learners", fontsize=9)
    axes.set_ylim(0, top * 1.12)
    _month_ticks(axes)
    axes.legend(loc="upper left", frameon=False, ncols=3, fontsize=9)
    return _svg(figure, salt)


def _days_to(instant: datetime, deadline: datetime) -> float:
    """Days from ``deadline`` to ``instant`` (negative before it)."""
    return (instant - deadline).total_seconds() / 86_400


def _curve_xy(curve: Curve, until: datetime | None = None) -> tuple[list[float], list[float]]:
    """The share of the period's learners who had completed it, by days to its deadline;
    from its opening (or its first completion) to ``until`` (default: its deadline)."""
    deadline = curve.period.deadline
    start = min([curve.period.opens_at, *curve.completions[:1]])
    end = until or deadline
    shown = [t for t in curve.completions if t <= end]
    xs = [_days_to(start, deadline), *(_days_to(t, deadline) for t in shown)]
    ys = [0.0, *((i + 1) / curve.owed for i in range(len(shown)))]
    xs.append(_days_to(end, deadline))
    ys.append(ys[-1])
    return xs, [100 * y for y in ys]


def completions_svg(
    figures: PeriodFigures,
    previous: Curve | None,
    outlook: Outlook | None,
    at: datetime,
    *,
    salt: str,
) -> str:
    """The current period's completions so far, as a share of those who owe it, by days
    to its deadline; beside it the last period's whole curve, and the share expected at
    the deadline."""
    figure, axes = _figure()
    current = figures.curve
    if previous is not None and previous.owed:
        xs, ys = _curve_xy(previous)
        axes.plot(
            xs,
            ys,
            color=COLORS["previous"],
            linewidth=1.6,
            linestyle="--",
            drawstyle="steps-post",
            label=f"period {previous.period.id}",
        )
    if current.owed:
        xs, ys = _curve_xy(current, min(at, current.period.deadline))
        axes.plot(
            xs,
            ys,
            color=COLORS["certified"],
            linewidth=2.0,
            drawstyle="steps-post",
            label=f"period {current.period.id} so far",
        )
        if outlook is not None and outlook.expected is not None:
            share = 100 * (figures.completed + outlook.expected) / current.owed
            axes.plot(
                [xs[-1], 0],
                [ys[-1], share],
                color=COLORS["certified"],
                linestyle=":",
                linewidth=1.2,
                marker="o",
                markevery=[1],
                markersize=5,
            )
            axes.annotate(
                f"{share:.0f}% expected",
                (0, share),
                xytext=(6, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
                color=COLORS["certified"],
            )
    now = _days_to(at, current.period.deadline)
    if now <= 0:
        axes.axvline(now, color=COLORS["now"], linewidth=0.8, linestyle=":")
    axes.axvline(0, color=COLORS["suspended"], linewidth=0.8, alpha=0.6)
    axes.set_xlabel("days to the deadline", fontsize=9)
    axes.set_ylabel("completed (%)", fontsize=9)
    axes.set_ylim(0, 105)
    left = min([-365.0, *(_curve_xy(c)[0][0] for c in (current, previous) if c and c.owed)])
    axes.set_xlim(left, 40)
    axes.legend(loc="upper left", frameon=False, fontsize=9)
    return _svg(figure, salt)
