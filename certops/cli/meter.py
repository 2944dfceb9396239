"""Progress of a long run: pages read and changes written, with an estimate of the time left.

On a terminal (stderr a TTY, and not in CI) a rich progress display sits at the bottom
of the screen: the API reads made so far, and the changes written out of those planned
with the time left; diagnostics print above it. Elsewhere (CI logs, files) it prints a
plain line at most every ``interval`` seconds, so a long run shows it is alive without
flooding the log. A short run shows nothing but its diagnostics.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import IO, Any

import click

# Plain lines at most this often in CI; a run shorter than this prints none.
INTERVAL_S = 10.0


def interactive(stream: IO[str], no_color: bool = False) -> bool:
    """Whether ``stream`` is a person's terminal (not CI, not a pipe or file) that may get
    control codes (not with ``--no-color`` or ``NO_COLOR``)."""
    if no_color or os.environ.get("NO_COLOR"):
        return False
    return stream.isatty() and not os.environ.get("CI")


class Meter:
    """Counts reads and written changes for one command; use as a context manager and pass
    ``meter`` as the progress callback, ``meter.call`` as the client's ``on_call``,
    ``meter.writing`` and ``meter.settled`` to apply."""

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        live: bool | None = None,
        no_color: bool = False,
        interval: float = INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream or sys.stderr
        self.live = interactive(self.stream, no_color) if live is None else live
        self.interval = interval
        self.clock = clock
        self.reads = 0
        self.writes_planned = 0
        self.writes_done = 0
        self._started = clock()
        self._writing_since: float | None = None
        self._last_line = self._started
        self._progress: Any = None  # rich.progress.Progress on a terminal, while shown
        self._task: Any = None  # its one task: the reads, then the writes

    def __enter__(self) -> Meter:
        self._start("reading the LMS (API calls)", None)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.pause()

    def _start(self, what: str, total: int | None) -> None:
        """Shows the display (on a terminal) with one task, ``what``, out of ``total``."""
        if not self.live:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=self.stream),
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(what, total=total)

    def pause(self) -> None:
        """Takes the display off the screen (before the plan is printed or a prompt)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    # --- what the run reports ----------------------------------------------------------

    def __call__(self, message: str) -> None:
        """A diagnostic line: above the display on a terminal, plain otherwise."""
        if self._progress is not None:
            self._progress.console.print(f"certops: {message}", markup=False, highlight=False)
        else:
            click.echo(f"certops: {message}", err=True)

    def call(self, endpoint: str) -> None:
        """One API request sent (``METHOD /path``)."""
        self.reads += endpoint.startswith("GET ")
        if self._progress is not None:
            if self._writing_since is None:
                self._progress.update(self._task, completed=self.reads)
        else:
            self._maybe_line()

    def writing(self, planned: int) -> None:
        """``planned`` changes are about to be written."""
        self.writes_planned = planned
        self._writing_since = self.clock()
        self.pause()
        if planned:
            self._start("writing changes", planned)

    def settled(self, count: int) -> None:
        """``count`` more changes were written (or failed, or were skipped)."""
        self.writes_done += count
        if self._progress is not None:
            self._progress.update(self._task, completed=self.writes_done)
        else:
            self._maybe_line()

    # --- plain lines ------------------------------------------------------------------

    def line(self) -> str:
        """Where the run is, in words (the plain form of the display)."""
        text = f"progress: {self.reads:,} API reads"
        if self.writes_planned:
            text += f"; {self.writes_done:,} of {self.writes_planned:,} changes written"
            left = self.time_left()
            if left is not None:
                text += f", about {left:.0f} s left"
        return text

    def time_left(self) -> float | None:
        """The seconds the writes still need at their pace so far; None before any."""
        if self._writing_since is None or not self.writes_done:
            return None
        pace = (float(self.clock()) - self._writing_since) / self.writes_done
        return pace * max(0, self.writes_planned - self.writes_done)

    def _maybe_line(self) -> None:
        now = self.clock()
        if now - self._last_line >= self.interval:
            self._last_line = now
            click.echo(f"certops: {self.line()}", err=True)
