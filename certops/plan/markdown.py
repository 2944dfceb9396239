"""The plan as Markdown for a reviewer (a pull-request comment, a job summary, an issue).

The first screen holds what a reviewer signs off: the safety status of every product
(suspensions against the limit, in counts), the warnings, a summary table (create / update /
suspend / reinstate / enroll / manual, and the change classes), then every drift change and
every suspension and reinstatement by learner. The routine parts follow, collapsed: manual
steps, setup changes, bulk enrollments with counts, skipped learners with counts.

The whole text never weighs more than ``max_bytes`` (UTF-8; GitHub refuses a comment of
65,536 characters or more). Parts are written in that order and the routine ones come
last, so they are the first to be cut; whatever is cut is counted, and a closing note says
where the full plan is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from certops.escape import markdown_code, markdown_text, visible
from certops.plan.effects import EFFECT_ORDER, NOUNS, effect, effect_counts, effects_text
from certops.plan.jsonio import class_counts, display, iso_utc
from certops.plan.model import Action, Change, ChangeClass, ChangeType, Plan, SafetyTrip, Skip
from certops.plan.render import (
    BY_HAND_TITLE,
    _by_product,
    _change_lines,
    _label,
    by_hand_lines,
    percent,
    safety_text,
)
from certops.plan.review import Review, differences_by_product

GITHUB_COMMENT_LIMIT = 65_536  # characters; GitHub refuses a longer comment
# The default keeps room for what a CI job adds around the plan (a marker, a link).
DEFAULT_MAX_BYTES = GITHUB_COMMENT_LIMIT - 1_536
FIRST_WARNINGS = 10  # warnings shown on the first screen; the rest are collapsed below
RESERVE = 400  # bytes kept for the closing note and closing a block

CLASS_ORDER = (ChangeClass.DRIFT, ChangeClass.SCHEDULE, ChangeClass.CONFIG)
# The summary table's columns: what the changes do (certops.plan.effects), by name.
COLUMNS = tuple(e.value for e in EFFECT_ORDER)
REVIEW_SHOWN = 20  # changes a pull request brings, listed one by one before a count


def _size(text: str) -> int:
    return len(text.encode("utf-8")) + 1  # and its newline


def _cell(text: str) -> str:
    """Text (tenant text included) as literal Markdown: no heading, link, emphasis, table
    cell or HTML can come of it."""
    return markdown_text(text)


def _code(text: str) -> str:
    """A line inside a fenced code block: its escapes made visible (no line of its own can
    start), and no fence of its own to end the block early."""
    return visible(text).replace("```", "'''")


def _status(change: Change) -> str | None:
    value = change.after.get("status")
    return str(value) if isinstance(value, str) else None


def column(change: Change) -> str:
    """The summary-table column of a change: what it does (``certops.plan.effects``): a
    suspension, reinstatement or certification, a maintenance enrollment or moved deadline,
    a setup create or update, or a manual step."""
    return effect(change).value


def _user(change: Change) -> str:
    return change.target.user


def _course(change: Change) -> str:
    return change.target.course


def _class_tag(change: Change) -> str:
    return change.change_class.value if change.change_class else "unclassed"


class _Writer:
    """Lines with a running size; refuses what would pass the limit and counts it."""

    def __init__(self, limit: int) -> None:
        self.lines: list[str] = []
        self.size = 0
        self.limit = limit - RESERVE
        self.cut = 0  # lines or names left out for room

    def fits(self, text: str) -> bool:
        return self.size + _size(text) <= self.limit

    def add(self, text: str) -> bool:
        if not self.fits(text):
            self.cut += 1
            return False
        self.lines.append(text)
        self.size += _size(text)
        return True

    def force(self, text: str) -> None:
        """Add ``text`` even past the limit (closing a block; RESERVE keeps room for it)."""
        self.lines.append(text)
        self.size += _size(text)

    def names(self, head: str, names: Sequence[str], tail: str = "") -> int:
        """``head`` then as many of ``names`` as fit, comma-separated, with a count of the
        rest: a list of learners is cut, never dropped whole. Returns how many were shown."""
        if not names:
            return 0
        shown: list[str] = []
        used = _size(head) + len(tail) + 40  # room for "… and N more"
        for name in names:
            if self.size + used + len(name.encode("utf-8")) + 2 > self.limit:
                break
            shown.append(name)
            used += len(name.encode("utf-8")) + 2
        if not shown:
            self.add(f"{head}{len(names)} (not listed, for room){tail}")
            return 0
        more = len(names) - len(shown)
        extra = f" … and {more} more (not listed, for room)" if more else ""
        if more:
            self.cut += 1
        return (
            len(shown)
            if self.add(f"{head}{', '.join(_cell(n) for n in shown)}{extra}{tail}")
            else 0
        )


def _limit_rows(plan: Plan) -> list[str]:
    tripped = {(t.product, t.limit) for t in plan.safety}
    rows = []
    limits: Iterable[SafetyTrip] = plan.limits or plan.safety
    for trip in limits:
        if trip.suspensions is None or trip.certified is None:
            rows.append(f"| {_cell(trip.product)} | {_cell(safety_text(trip))} | | |")
            continue
        over = (trip.product, trip.limit) in tripped
        share = percent(trip.value, trip.threshold)
        limit = percent(trip.threshold, trip.value)
        if over:
            status = "**over the limit: blocked**"
        elif trip.value > trip.threshold:
            # Over the fraction yet not tripped: the product is below min_population.
            status = "limit not applied (fewer certified than settings.safety.min_population)"
        else:
            status = "within the limit"
        rows.append(
            f"| {_cell(trip.product)} | {trip.suspensions} of {trip.certified} ({share}) "
            f"| {limit} | {status} |"
        )
    return rows


def _summary_table(
    plan: Plan, order: list[str | None], groups: dict[str | None, list[Change]]
) -> list[str]:
    classes = [c.value for c in CLASS_ORDER]
    head = "| product | " + " | ".join(COLUMNS) + " | " + " | ".join(classes) + " |"
    rule = "|---|" + "---:|" * (len(COLUMNS) + len(classes))
    rows = [head, rule]
    for product in order:
        changes = groups[product]
        counts = dict.fromkeys(COLUMNS, 0)
        for change in changes:
            counts[column(change)] += 1
        by_class = class_counts(changes)
        cells = [str(counts[c]) for c in COLUMNS] + [str(by_class[c]) for c in classes]
        rows.append(f"| {_cell(_label(product))} | " + " | ".join(cells) + " |")
    return rows


def _grouped_names(changes: Iterable[Change]) -> dict[tuple[str | None, str, str], list[str]]:
    """Learners by (product, class, reason), in plan order; a reason that names its
    learner is grouped without the name."""
    out: dict[tuple[str | None, str, str], list[str]] = {}
    for change in changes:
        user = _user(change)
        reason = change.reason.removesuffix(f": {user}").removeprefix(f"{user} ")
        out.setdefault((change.product, _class_tag(change), reason), []).append(user)
    return out


def _learner_section(w: _Writer, title: str, changes: list[Change], plan: Plan) -> None:
    """Every learner of ``changes`` (suspensions or reinstatements), by product, class and
    reason; a product's heading carries its count against the limit for suspensions."""
    if not changes:
        return
    w.add(f"#### {title} ({len(changes)})")
    w.add("")
    limits = {t.product: t for t in plan.limits}
    current: str | None = "\0"
    listed = 0
    for (product, cls, reason), names in _grouped_names(changes).items():
        if product != current:
            if current != "\0":
                w.add("")
            current = product
            trip = limits.get(product or "")
            against = ""
            if title.startswith("Suspensions") and trip and trip.certified is not None:
                against = (
                    f": {trip.suspensions} of {trip.certified} certified, limit "
                    f"{percent(trip.threshold, trip.value)}"
                )
            w.add(f"**{_cell(_label(product))}**{against}")
            w.add("")
        listed += w.names(f"- {cls} · {_cell(reason or 'no reason given')} ({len(names)}): ", names)
    if listed < len(changes):
        w.force(f"- … {len(changes) - listed} of {len(changes)} not listed, for room")
    w.add("")


def _details(w: _Writer, summary: str, body: list[str]) -> None:
    """A collapsed block of ``body`` lines, cut (and counted) when it does not fit."""
    if not w.add(f"<details><summary>{_cell(summary)}</summary>\n"):
        return
    shown = 0
    for line in body:
        if not w.add(line):
            break
        shown += 1
    if shown < len(body):
        w.force(f"\n… {len(body) - shown} more lines not shown, for room")
    w.force("\n</details>\n")


def _code_details(w: _Writer, summary: str, changes: list[Change]) -> None:
    if not changes:
        return
    body = ["```diff"]
    for change in changes:
        body += [_code(line.text) for line in _change_lines(change)]
    if not w.add(f"<details><summary>{_cell(summary)}</summary>\n"):
        return
    shown = 0
    for line in body:
        if not w.add(line):
            break
        shown += 1
    w.force("```")
    if shown < len(body):
        w.force(f"\n… {len(body) - shown} more lines not shown, for room")
    w.force("\n</details>\n")


Listing = tuple[str, list[str]]  # a collapsed group's summary and its members


def _routine_enrollments(w: _Writer, changes: list[Change]) -> list[Listing]:
    """Bulk enrollments and validity updates: one line per (product, course, column,
    class) with a count; returns the groups, whose learners are listed at the end."""
    if not changes:
        return []
    groups: dict[tuple[str | None, str, str, str], list[Change]] = {}
    for change in changes:
        key = (change.product, _course(change), column(change), _class_tag(change))
        groups.setdefault(key, []).append(change)
    w.add(f"#### Enrollments ({len(changes)})")
    w.add("")
    listings = []
    for (product, course, col, cls), group in groups.items():
        what = {"maintenance": "enroll", "certify": "certify"}.get(col, "move the deadline of")
        status = _status(group[0])
        into = f" as {status}" if col == "maintenance" and status else ""
        summary = f"{_label(product)}: {what} {len(group)} in {course}{into} ({cls})"
        w.add(f"- {_cell(summary)}")
        listings.append((summary, [_user(c) for c in group]))
    w.add("")
    return listings


def _skipped(w: _Writer, skipped: Sequence[Skip]) -> list[Listing]:
    """Skips by product and shared reason, with counts; returns the groups."""
    if not skipped:
        return []
    groups: dict[tuple[str | None, str], list[str]] = {}
    for skip in skipped:
        # A reason names its learner and ends with their own details in parentheses;
        # what learners share is the rest.
        user = skip.target.user
        shared = skip.reason.removeprefix(f"{user} ").split(" (")[0]
        groups.setdefault((skip.product, shared), []).append(
            f"{skip.target.course}.{user}" if user else skip.address
        )
    w.add(f"#### Skipped ({len(skipped)})")
    w.add("")
    listings = []
    for (product, reason), addresses in groups.items():
        summary = f"{_label(product)}: {len(addresses)} skipped: {reason}"
        w.add(f"- {_cell(summary)}")
        listings.append((summary, addresses))
    w.add("")
    return listings


def _listings(w: _Writer, listings: list[Listing]) -> None:
    """The members of each collapsed group, as far as room allows (the last thing cut)."""
    for summary, names in listings:
        if not w.add(f"<details><summary>{_cell(summary)}</summary>\n"):
            continue
        w.names("", names)
        w.force("\n</details>\n")


def _change_words(change: Change) -> str:
    """One change with what it sets and why, for the pull request's own changes."""
    before, after = display(change.before), display(change.after)
    if change.action is Action.MANUAL:
        detail = "; ".join(change.steps[:2])
    elif change.action is Action.UPDATE:
        detail = ", ".join(f"{k}: {before.get(k)} → {v}" for k, v in after.items())
    else:
        detail = ", ".join(f"{k}: {v}" for k, v in after.items())
    noun = NOUNS[effect(change)][0]
    head = f"- {markdown_code(change.address)} ({_cell(_label(change.product))}, {_cell(noun)})"
    why = f". {_cell(change.reason)}" if change.reason else ""
    return f"{head}: {_cell(detail)}{why}"


def _review_section(w: _Writer, review: Review) -> None:
    """What the pull request changes in the configuration, then what that does."""
    w.add("#### This pull request")
    w.add("")
    grouped = differences_by_product(review.differences)
    if not grouped:
        w.add("It changes nothing in the configuration certops reads.")
        w.add("")
    for product, texts in grouped.items():
        w.add(f"**{_cell(product or 'settings')}**")
        w.add("")
        for text in texts:
            w.add(f"- {_cell(text)}")
        w.add("")
    for title, changes in (
        ("What it does", review.introduced),
        ("What it no longer does (planned without it)", review.withdrawn),
    ):
        if not changes:
            continue
        counts = effects_text(effect_counts(changes))
        w.add(f"{title} ({counts}):")
        w.add("")
        for change in changes[:REVIEW_SHOWN]:
            w.add(_change_words(change))
        if len(changes) > REVIEW_SHOWN:
            rest = effects_text(effect_counts(changes[REVIEW_SHOWN:]))
            w.add(f"- … and {len(changes) - REVIEW_SHOWN} more: {rest}")
        w.add("")
    if review.differences and not review.introduced and not review.withdrawn:
        w.add("It changes nothing in the LMS at this instant.")
        w.add("")


def render_markdown(
    plan: Plan,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    full_plan: str = "",
    review: Review | None = None,
) -> str:
    """The plan for a reviewer (see the module docstring), never over ``max_bytes`` UTF-8
    bytes. ``full_plan`` says where the whole plan is (default: how to get it).
    ``review`` (``certops plan --base``): what a pull request changes, shown first; the
    manual steps its base's plan shows too collapse to one line."""
    where = full_plan or "`certops plan --format json`"
    order, groups = _by_product(plan)
    w = _Writer(max_bytes)
    changes = [c for p in order for c in groups[p]]
    classes = class_counts(changes)
    w.add(f"### certops plan at `{iso_utc(plan.at)}`")
    w.add("")
    parts = ", ".join(f"{classes[c.value]} {c.value}" for c in CLASS_ORDER)
    w.add(f"Against {markdown_code(plan.lms)}: {len(changes)} changes ({parts}).")
    w.add("")
    if review is not None:
        _review_section(w, review)
    if plan.safety:
        w.add("> [!CAUTION]")
        w.add("> **Blocked by a safety limit**: nothing is applied without `--force`.")
        for trip in plan.safety:
            w.add(f"> - {_cell(trip.product)}: {_cell(safety_text(trip))}")
        w.add("")
    if plan.by_hand:
        # Decisions a reviewer must make: first screen, never cut.
        w.add(f"**{BY_HAND_TITLE}** ({len(plan.by_hand)})")
        w.add("")
        w.add("```yaml")
        for line in by_hand_lines(plan):
            w.add(_code(line if line.startswith(" ") else f"# {line}"))
        w.add("```")
        w.add("")
    rows = _limit_rows(plan)
    if rows:
        w.add("| product | suspensions | limit | status |")
        w.add("|---|---|---|---|")
        for row in rows:
            w.add(row)
        w.add("")
    if plan.warnings:
        w.add(f"**Warnings ({len(plan.warnings)})**")
        w.add("")
        for warning in plan.warnings[:FIRST_WARNINGS]:
            at = f" ({markdown_code(warning.address)})" if warning.address else ""
            w.add(f"- {_cell(_label(warning.product))}: {_cell(warning.message)}{at}")
        if len(plan.warnings) > FIRST_WARNINGS:
            w.add(f"- … and {len(plan.warnings) - FIRST_WARNINGS} more, listed below")
        w.add("")
    w.add("")
    for row in _summary_table(plan, order, groups):
        w.add(row)
    w.add("")
    if not changes:
        w.add("No changes.")
        w.add("")

    drift = [c for c in changes if c.change_class is ChangeClass.DRIFT]
    if drift:
        w.add(f"#### Drift ({len(drift)}): the LMS moved away from what certops set")
        w.add("")
        for change in drift:
            before, after = display(change.before), display(change.after)
            if change.type is ChangeType.ENROLLMENT:
                detail = ", ".join(f"{k}: {before.get(k)} → {v}" for k, v in after.items())
            else:
                detail = ", ".join(
                    f"{k}: {before.get(k)!r} → {after.get(k)!r}"
                    for k in sorted(set(before) | set(after))
                )
            w.add(
                f"- {markdown_code(change.address)} ({_cell(_label(change.product))}): "
                f"{_cell(detail)}" + (f". {_cell(change.reason)}" if change.reason else "")
            )
        w.add("")
    by_column: dict[str, list[Change]] = {c: [] for c in COLUMNS}
    for change in changes:
        by_column[column(change)].append(change)
    _learner_section(w, "Suspensions", by_column["suspend"], plan)
    _learner_section(w, "Reinstatements", by_column["reinstate"], plan)

    # Routine from here on: collapsed, and the first to be cut.
    manual = by_column["manual"]
    waiting = {id(c) for c in review.waiting} if review is not None else set()
    if manual:
        w.add(f"#### Manual steps ({len(manual)})")
        w.add("")
        if waiting:
            # Shown before and not acted on: one line, not the same list on every push.
            w.add(
                f"- {len(waiting)} already shown and still waiting for a person (not changed "
                "by this pull request; `certops ack` records each one once done)"
            )
        for change in manual:
            if id(change) not in waiting:
                w.add(f"- {markdown_code(change.address)} ({_class_tag(change)})")
        w.add("")
        fresh = [c for c in manual if id(c) not in waiting]
        _code_details(w, f"what to do for each of the {len(fresh)} manual steps", fresh)
    setup = by_column["create"] + by_column["update"]
    for cls in (*CLASS_ORDER, None):
        group = [c for c in setup if c.change_class is cls]
        label = cls.value if cls else "unclassed"
        _code_details(w, f"setup: {len(group)} {label} changes", group)
    routine = by_column["certify"] + by_column["maintenance"] + by_column["deadline"]
    listings = _routine_enrollments(w, routine)
    listings += _skipped(w, plan.skipped)
    if len(plan.warnings) > FIRST_WARNINGS:
        body = [
            f"- {_cell(_label(x.product))}: {_cell(x.message)}"
            for x in plan.warnings[FIRST_WARNINGS:]
        ]
        _details(w, f"the other {len(body)} warnings", body)
    _listings(w, listings)

    if w.cut:
        w.force(
            f"**Shortened** to stay under {max_bytes:,} bytes: some routine details are not "
            f"listed. The full plan is in {where}."
        )
    else:
        w.force(f"The full plan (every change, for `certops apply --plan`) is in {where}.")
    return "\n".join(w.lines) + "\n"


__all__ = ["DEFAULT_MAX_BYTES", "GITHUB_COMMENT_LIMIT", "column", "render_markdown"]
