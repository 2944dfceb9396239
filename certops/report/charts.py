"""The HTML report's charts, drawn by matplotlib and rendered to inline SVG.

matplotlib is imported here only, and this module only when an HTML report is asked for:
CSV, JSON and table reports (and every other command) never pay for it. The figures use
matplotlib's object API (``Figure``), not ``pyplot``: no global state, no GUI backend,
nothing that needs a display. Text stays text in the SVG (``svg.fonttype: none``) so the
page's own font renders it, and each chart gets its own id salt so the ids of clip paths
never collide when several charts share one page.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import TYPE_CHECKING

from certops.report.summary import PeriodFigures, TrendPoint

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

COLORS = {"certified": "#2e7d32", "suspended": "#c62828", "owing": "#f9a825"}


def _svg(figure: Figure, salt: str) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    # Inline SVG in HTML: drop the XML declaration and DOCTYPE that precede <svg>.
    return text[text.index("<svg") :]


def _figure() -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.2, 3.0), dpi=96, layout="constrained")
    axes = figure.add_subplot()
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    return figure, axes


def _month_ticks(axes: Axes) -> None:
    import matplotlib.dates as mdates

    # matplotlib.dates ships no type hints (the rest of matplotlib does).
    formatter = mdates.DateFormatter("%Y-%m")  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_formatter(formatter)


def trend_svg(points: tuple[TrendPoint, ...], at: datetime, *, salt: str) -> str:
    """Certified, suspended and owing learners over time; the projection dashed."""
    # The x values are datetimes: matplotlib's date units convert them, but its type hints
    # take floats only (they do not model units), hence the ignores on those arguments.
    figure, axes = _figure()
    past = [p for p in points if not p.projected]
    # The projection starts from the report's instant so the dashed line joins the solid one.
    ahead = [p for p in points if p.projected]
    if ahead and past:
        ahead = [past[-1], *ahead]
    for key in ("certified", "suspended", "owing"):
        axes.plot(
            [p.at for p in past],  # type: ignore[arg-type]
            [getattr(p, key) for p in past],
            color=COLORS[key],
            label=key,
            linewidth=1.8,
            drawstyle="steps-post",
        )
        if ahead:
            axes.plot(
                [p.at for p in ahead],  # type: ignore[arg-type]
                [getattr(p, key) for p in ahead],
                color=COLORS[key],
                linewidth=1.4,
                linestyle="--",
                drawstyle="steps-post",
            )
    axes.axvline(at, color="#555555", linewidth=0.8, linestyle=":")  # type: ignore[arg-type]
    axes.set_ylabel("learners")
    axes.set_ylim(bottom=0)
    _month_ticks(axes)
    axes.legend(loc="upper left", frameon=False, ncols=3, fontsize=8)
    axes.tick_params(labelsize=8)
    return _svg(figure, salt)


def burnup_svg(figures: PeriodFigures, at: datetime, *, salt: str) -> str:
    """Completions of the period's course over time against the learners who owe it."""
    figure, axes = _figure()
    period = figures.period
    start = min([period.opens_at, *figures.completions[:1]])
    end = min(at, period.deadline)
    shown = [t for t in figures.completions if t <= end]
    times = [start, *shown, end]
    done = [0, *range(1, len(shown) + 1), len(shown)]
    # Datetimes on x, as in ``trend_svg``: converted by matplotlib's date units, which its
    # type hints (floats only) do not model.
    axes.plot(
        times,  # type: ignore[arg-type]
        done,
        color=COLORS["certified"],
        drawstyle="steps-post",
        label="completed",
    )
    axes.axhline(figures.owed_by, color=COLORS["owing"], linestyle="--", label="owe the period")
    deadline = period.deadline
    axes.axvline(deadline, color=COLORS["suspended"], linewidth=0.8)  # type: ignore[arg-type]
    axes.set_xlim(start, max(deadline, end))  # type: ignore[arg-type]
    axes.set_ylim(0, max(1, figures.owed_by) * 1.08)
    axes.set_ylabel("learners")
    _month_ticks(axes)
    axes.legend(loc="upper left", frameon=False, fontsize=8)
    axes.tick_params(labelsize=8)
    return _svg(figure, salt)
