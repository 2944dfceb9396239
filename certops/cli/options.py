"""Options shared by several commands (docs/architecture.md, "The command line")."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from certops import instants
from certops.address import LMSAddress, parse_address, sandbox_address

# The LMS of a command given none: the working folder's sandbox.
DEFAULT_SANDBOX = sandbox_address(".certops/sandbox.db")

# What an option decorator wraps (a command function or a command): click records the
# option on it and hands the same object back, so the decorators keep its type.
F = TypeVar("F", bound=Callable[..., Any])

# Instants certops accepts at all (after conversion to UTC): before 1970 no LMS has data
# and past 9999 Python's dates end.
MIN_YEAR = 1970
MAX_YEAR = 9999
# An instant further than this from now is refused by apply and warned about by plan.
NEAR_YEARS = 5


def parse_instant(value: str) -> datetime:
    """Parse an ISO 8601 date or date-time; UTC when no zone is given. Returns aware UTC."""
    instant: datetime | None
    try:
        instant = instants.parse_instant(value.strip())
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 date or date-time (e.g. 2027-01-02 or "
            "2027-01-02T00:00:00Z)"
        ) from exc
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        instant = None
    if instant is None or not MIN_YEAR <= instant.year <= MAX_YEAR:
        raise click.BadParameter(
            f"{value!r} is outside the years {MIN_YEAR}-{MAX_YEAR} once converted to UTC; "
            "certops evaluates instants in that range (e.g. 2027-01-02T00:00:00Z)"
        )
    return instant


def check_instant_near(at: datetime, now: datetime, *, command: str, lms: LMSAddress) -> str | None:
    """Whether ``at`` is plausibly meant: more than ``NEAR_YEARS`` years from ``now`` is
    almost always a typo (a wrong year, a missing digit). ``apply`` to a tenant raises
    ``click.UsageError`` (it would write the consequences of that instant into the LMS);
    otherwise returns a warning: ``plan`` only reads, and a sandbox on this machine is
    where rehearsing far instants is the point. None when the instant is near."""
    if abs(at - now) <= timedelta(days=365 * NEAR_YEARS + NEAR_YEARS // 4 + 1):
        return None
    when = instants.format_instant(at)
    direction = "after" if at > now else "before"
    problem = f"--at {when} is more than {NEAR_YEARS} years {direction} now"
    if command != "apply":
        return f"warning: {problem}; check the year (apply to a tenant would refuse it)"
    if lms.is_local:
        return f"warning: {problem}; applied to this sandbox anyway (a tenant would refuse it)"
    raise click.UsageError(
        f"{problem}; apply refuses to write a tenant as of such an instant (check the year; "
        "preview it with `certops plan --at`, or rehearse it on a sandbox)"
    )


if TYPE_CHECKING:
    # Newer click types a parameter type by the value it converts to; click 8.1 (which
    # certops still supports) cannot subscript ParamType at run time.
    _InstantParam = click.ParamType[datetime]
else:
    _InstantParam = click.ParamType


class InstantType(_InstantParam):
    """``--at``: an ISO 8601 date or date-time, converted to aware UTC."""

    name = "TIME"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_instant(value)
        except click.BadParameter as exc:
            self.fail(str(exc.message), param, ctx)


def at_option(f: F) -> F:
    """``--at TIME`` (into ``at``, None when not given): the instant to evaluate."""
    return click.option(
        "--at",
        "at",
        type=InstantType(),
        envvar="CERTOPS_AT",
        default=None,
        help="Evaluate at this instant (ISO 8601, UTC if no zone). Env: CERTOPS_AT.",
    )(f)


LMS_ENV = "CERTOPS_LMS"


def lms_option(f: F) -> F:
    """``--lms`` (into ``lms``, None when not given; see ``resolve_lms``)."""
    return click.option(
        "--lms",
        "lms",
        envvar=LMS_ENV,
        default=None,
        help="https://TENANT.docebosaas.com or sandbox:PATH. Env: CERTOPS_LMS.",
    )(f)


def progress(message: str) -> None:
    """Progress and diagnostics: on stderr, marked as certops' own."""
    click.echo(f"certops: {message}", err=True)


def resolve_lms(lms: str | None) -> LMSAddress:
    """The LMS ``--lms`` (or ``CERTOPS_LMS``) names, parsed once (``LMSAddressError`` says
    what is wrong with it); with none configured, the working folder's sandbox."""
    if lms:
        return parse_address(lms)
    if os.environ.get(LMS_ENV) is not None:
        # Set but empty: a CI secret or variable that did not reach the job. Falling back
        # to the local sandbox would plan against the wrong LMS and look fine.
        raise click.UsageError(
            f"{LMS_ENV} is set but empty; set it to https://TENANT.docebosaas.com or "
            "sandbox:PATH, or unset it to use the local sandbox"
        )
    click.echo(f"certops: no LMS configured, using {DEFAULT_SANDBOX}", err=True)
    return DEFAULT_SANDBOX


def now_utc() -> datetime:
    """The one clock read of a run, done at the edge."""
    return datetime.now(UTC).replace(microsecond=0)


def color_enabled(no_color: bool) -> bool:
    if no_color or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


@dataclass(frozen=True, slots=True)
class Limits:
    """How hard certops may press the LMS (passed to ``certops.connection``)."""

    max_in_flight: int = 4
    calls_per_hour: int | None = None  # None: the client reads CERTOPS_CALLS_PER_HOUR
    page_size: int | None = None  # None: the client reads CERTOPS_PAGE_SIZE, else 200

    def connect_kwargs(self) -> dict[str, Any]:
        return {
            "max_in_flight": self.max_in_flight,
            "calls_per_hour": self.calls_per_hour,
            "page_size": self.page_size,
        }


def limits_options(f: F) -> F:
    """``--max-in-flight``, ``--calls-per-hour`` and ``--page-size``, handed to the command
    as one ``limits: Limits``."""

    @functools.wraps(f)
    def command(
        *args: Any,
        max_in_flight: int,
        calls_per_hour: int | None,
        page_size: int | None,
        **kwargs: Any,
    ) -> Any:
        return f(*args, limits=Limits(max_in_flight, calls_per_hour, page_size), **kwargs)

    wrapped: Any = command
    wrapped = click.option(
        "--page-size",
        type=click.IntRange(min=1, max=10_000),
        envvar="CERTOPS_PAGE_SIZE",
        default=None,
        help="Rows per page of every list read (default 200; 'certops doctor' tells whether "
        "the tenant honours more). Env: CERTOPS_PAGE_SIZE.",
    )(wrapped)
    wrapped = click.option(
        "--calls-per-hour",
        type=click.IntRange(min=1),
        envvar="CERTOPS_CALLS_PER_HOUR",
        default=None,
        help="Never make more API calls than this in any hour (a tenant's contractual "
        "limit). Env: CERTOPS_CALLS_PER_HOUR.",
    )(wrapped)
    wrapped = click.option(
        "--max-in-flight",
        type=click.IntRange(min=1, max=32),
        envvar="CERTOPS_MAX_IN_FLIGHT",
        default=4,
        show_default=True,
        help="API requests in flight at once (writes are always one at a time). "
        "Env: CERTOPS_MAX_IN_FLIGHT.",
    )(wrapped)
    return cast(F, wrapped)


def config_option(f: F) -> F:
    """``--config PATH`` (repeatable, into ``config_paths``): the configuration, taken the
    same way by every command; where a command also takes PATH... arguments, both add up."""
    return click.option(
        "--config",
        "config_paths",
        multiple=True,
        metavar="PATH",
        help="Configuration file or folder (repeatable; default: ./certops/ or the current "
        "folder).",
    )(f)
