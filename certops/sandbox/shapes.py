"""Which of the response shapes seen on real tenants the sandbox answers in.

Production integrations see more than one shape for some fields (``docs/wire.md``): a
course list whose dates are epoch milliseconds, enrollment rows whose validity is named
``_date`` or ``_datetime``, catalog items typed ``learning_course_type`` or ``course``,
tenants that page by number and never hand out a cursor. The sandbox answers in one of
each, chosen per sandbox (``PUT /_sandbox/settings {"shapes": {...}}``, or
``certops sandbox init|serve --shape KEY=VALUE``), so certops is tested against every
shape the record shows. The defaults are the shapes the best evidence shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

# Every setting and its choices; the first choice is the default.
CHOICES: dict[str, tuple[str, ...]] = {
    # The course list's start_date/end_date: dates (``YYYY-MM-DD``), or strings of epoch
    # milliseconds as a production course list shows.
    "course_list_dates": ("date", "epoch_ms"),
    # The validity fields of course enrollment rows: ``_date`` (production readers),
    # ``_datetime`` (one trial-and-error client), or both.
    "enrollment_validity": ("date", "datetime", "both"),
    # A course's ``item_type`` in catalog reads (``course`` is the write-side word).
    "catalog_item_type": ("learning_course_type", "course"),
    # ``cursor``: lists hand out a cursor on ``get_cursor=1`` and follow it; ``page_only``:
    # they ignore both and page by number alone.
    "paging": ("cursor", "page_only"),
}


class ShapesError(ValueError):
    """A shape setting that does not exist, or a value it does not take."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Shapes:
    course_list_dates: str = CHOICES["course_list_dates"][0]
    enrollment_validity: str = CHOICES["enrollment_validity"][0]
    catalog_item_type: str = CHOICES["catalog_item_type"][0]
    paging: str = CHOICES["paging"][0]

    def with_changes(self, raw: Any) -> Shapes:
        """These shapes with the settings in ``raw`` (an object) changed; raises
        ``ShapesError`` naming the first unknown setting or value."""
        if not isinstance(raw, Mapping):
            raise ShapesError(
                "must be an object {" + ", ".join(f"{k}: ..." for k in CHOICES) + "}", "shapes"
            )
        changes: dict[str, str] = {}
        for key, value in raw.items():
            if key not in CHOICES:
                raise ShapesError(
                    f"unknown shape setting (expected {', '.join(CHOICES)})", f"shapes.{key}"
                )
            if value not in CHOICES[key]:
                raise ShapesError(
                    f"expected one of {', '.join(CHOICES[key])}, got {value!r}", f"shapes.{key}"
                )
            changes[key] = value
        return replace(self, **changes)

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def parse_shape_options(pairs: tuple[str, ...]) -> dict[str, str]:
    """``KEY=VALUE`` command-line pairs as a shapes object (checked by ``with_changes``)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ShapesError(f"expected KEY=VALUE, got {pair!r}", "shapes")
        out[key.strip()] = value.strip()
    Shapes().with_changes(out)
    return out
