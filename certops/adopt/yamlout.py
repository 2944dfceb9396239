"""Writing imported products as commented YAML, one file per product. Pure (text out).

The files are emitted by a YAML library (ruamel.yaml), never put together as text: every
name, code, username and reason read from the tenant is a double-quoted scalar, whatever
characters it holds (line breaks of any kind, quotes, ``#``, ``: ``, ``&``, ``!!``, NUL), so
tenant text is data and can never become configuration. Comments say what a reviewer must
confirm; where they show tenant text, ``comment_text`` escapes every line terminator and
control character first, so no comment can end early and let text through as YAML.
``check_round_trip`` then loads what was written and compares it with what was meant.
"""

from __future__ import annotations

import io
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from certops.adopt.discover import Draft
from certops.config.model import Catalog, Product
from certops.config.schema import fits
from certops.escape import visible
from certops.plan.jsonio import iso_utc

SCHEMA_COMMENT = "yaml-language-server: $schema=certops.schema.json"


def comment_text(text: str) -> str:
    """``text`` safe inside a one-line YAML comment: every line terminator (``\\r``,
    ``\\n``, ``\\x85``, U+2028, U+2029) and every other control or format character
    (C0, C1, bidi controls) written as an escape, so the comment cannot end early and
    nothing in it can be read as YAML or reorder what an editor shows."""
    return visible(text)


def _q(text: str) -> DoubleQuotedScalarString:
    """Tenant text as a double-quoted scalar (escapes for every character that needs one)."""
    quoted: DoubleQuotedScalarString = DoubleQuotedScalarString(text)
    return quoted


def _flow(**values: Any) -> CommentedMap:
    """A small mapping written on one line (``{name: ..., code: ...}``)."""
    mapping = CommentedMap(values)
    mapping.fa.set_flow_style()
    return mapping


def _note(mapping: Any, key: Any, lines: str | Sequence[str] | None, indent: int) -> None:
    """Comment lines above ``key``: ``lines`` (one text, or several of certops' own), each
    escaped with ``comment_text``."""
    if not lines:
        return
    texts = [lines] if isinstance(lines, str) else list(lines)
    before = "\n".join(comment_text(text) for text in texts if text)
    if before:
        mapping.yaml_set_comment_before_after_key(key, before=before, indent=indent)


def _dump(data: CommentedMap) -> str:
    yaml = YAML()
    yaml.width = 4096  # one entry, one line: as a person writes them
    yaml.allow_unicode = True  # names as people read them; line breaks are escaped anyway
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _product(product: Product, notes: Mapping[str, str], inferred_note: str) -> CommentedMap:
    item = CommentedMap()
    item["id"] = product.id
    item["name"] = _q(product.name)
    item["group"] = _flow(name=_q(product.group.name))
    _note(item, "group", notes.get("group"), 4)
    item["initial_paths"] = CommentedSeq(
        _flow(name=_q(p.name), all_of=CommentedSeq(_q(c) for c in p.all_of))
        for p in product.initial_paths
    )
    for seq in (p["all_of"] for p in item["initial_paths"]):
        seq.fa.set_flow_style()
    _note(item, "initial_paths", notes.get("initial_paths"), 4)
    cert = product.certified_course
    certified = CommentedMap()
    certified["code"] = _q(cert.code)
    certified["name"] = _q(cert.name)
    if cert.description:
        certified["description"] = _q(cert.description)
    if cert.salesforce_sync:
        certified["salesforce_sync"] = True
    item["certified_course"] = certified
    cert_notes = [n for n in (notes.get("certified_course"), notes.get("salesforce")) if n]
    _note(item, "certified_course", cert_notes, 4)
    maintenance = product.maintenance
    upkeep = CommentedMap()
    upkeep["new_learner_grace_days"] = maintenance.new_learner_grace_days
    upkeep["late_completion"] = maintenance.late_completion.value
    _note(upkeep, "new_learner_grace_days", inferred_note, 6)
    periods = CommentedSeq()
    for i, period in enumerate(maintenance.periods):
        course = _flow(code=_q(period.course.code), name=_q(period.course.name))
        if period.course.description:
            course["description"] = _q(period.course.description)
        entry = CommentedMap()
        entry["id"] = _q(period.id)
        entry["course"] = course
        entry["opens"] = period.opens
        entry["due"] = period.due
        if period.extension is not None:
            entry["extension"] = _flow(
                until=period.extension.until, reason=_q(period.extension.reason)
            )
        periods.append(entry)
        _note(periods, i, notes.get(f"period:{period.id}"), 8)
    upkeep["periods"] = periods
    item["maintenance"] = upkeep
    if product.enrollment_rule is not None:
        item["enrollment_rule"] = _flow(name=_q(product.enrollment_rule.name))
        _note(item, "enrollment_rule", notes.get("enrollment_rule"), 4)
    named = _notifications(product)
    if named:
        item["notifications"] = CommentedMap((key, _flow(name=_q(name))) for key, name in named)
        _note(item, "notifications", notes.get("notifications"), 4)
    if product.extensions:
        item["extensions"] = CommentedSeq(
            _flow(
                user=_q(e.user),
                period=_q(e.period),
                until=e.until,
                reason=_q(e.reason),
            )
            for e in product.extensions
        )
    for key, entries in (
        ("reinstatements", product.reinstatements),
        ("revocations", product.revocations),
    ):
        if entries:
            item[key] = CommentedSeq(
                _flow(user=_q(e.user), at=iso_utc(e.at), reason=_q(e.reason)) for e in entries
            )
    return item


def _notifications(product: Product) -> list[tuple[str, str]]:
    notes = product.notifications
    return [
        (key, ref.name)
        for key, ref in (
            ("learner_enrolled", notes.learner_enrolled),
            ("admin_certified", notes.admin_certified),
            ("digest", notes.digest),
        )
        if ref is not None
    ]


def product_yaml(draft: Draft, source: str, at: datetime, inferred_note: str, folder: str) -> str:
    """The configuration file of one imported product."""
    product = draft.product
    data = CommentedMap()
    data["version"] = 1
    data["products"] = CommentedSeq([_product(product, draft.notes, inferred_note)])
    addresses = []
    if product.enrollment_rule is not None:
        addresses.append(f"enrollment_rule.{product.enrollment_rule.name}")
    addresses += [f"notification.{name}" for _, name in _notifications(product)]
    header = [
        SCHEMA_COMMENT,
        "",
        f"{product.name}: imported from {source} at {iso_utc(at)} by `certops import`.",
        "Review every comment that says CONFIRM or PLACEHOLDER before the first apply;",
        "every exception below was read from the LMS and says 'imported ...; confirm'.",
    ]
    data.yaml_set_start_comment("\n".join(comment_text(line) for line in header))
    footer = [
        "",
        "Docebo has no API for enrollment rules and notifications: once the names above",
        "are confirmed (and the rule and notifications set as `certops plan` describes),",
        "record them at the instant of the plan (add --at TIME if the plan had one):",
        f"  certops ack --config {folder} " + " ".join(shlex.quote(a) for a in addresses),
        "or every step the plan lists for this product, course visibility checks included:",
        f"  certops ack --config {folder} --product {product.id} --all",
    ]
    return _dump(data) + "".join(f"# {comment_text(line)}".rstrip() + "\n" for line in footer)


def settings_yaml(catalog: Catalog | None, source: str, at: datetime) -> str:
    """The settings file: the Salesforce catalog, if one holds a certified course, and
    the defaults spelled out so a reviewer sees them."""
    settings = CommentedMap()
    if catalog is not None:
        settings["salesforce_catalog"] = _flow(code=_q(catalog.code), name=_q(catalog.name))
        _note(
            settings,
            "salesforce_catalog",
            "The catalog the certified courses are in, taken as the Salesforce one: CONFIRM",
            2,
        )
    safety = CommentedMap()
    safety["max_suspend_fraction"] = 0.25
    safety["min_population"] = 20
    safety["max_reverted_manual"] = 0
    settings["safety"] = safety
    _note(
        safety,
        "max_suspend_fraction",
        [
            "Refuse (exit 3) a run that would suspend more than this share of a product's",
            "certified learners (once it has min_population of them), or set back more than",
            "max_reverted_manual statuses someone set by hand in the LMS.",
        ],
        4,
    )
    data = CommentedMap()
    data["version"] = 1
    data["settings"] = settings
    data.yaml_set_start_comment(
        "\n".join(
            comment_text(line)
            for line in (
                SCHEMA_COMMENT,
                "",
                f"Settings imported from {source} at {iso_utc(at)} by `certops import`.",
            )
        )
    )
    return _dump(data)


def writable(draft: Draft) -> tuple[Draft | None, list[str]]:
    """``draft`` as far as the configuration can say it, and a note for each thing left
    out. A value the schema refuses (a username with a space at its end, a course code
    with characters a code cannot have, a blank name) cannot be written: an exception
    naming it is left out (the rest of the product is written), and a product whose own
    courses or names cannot be written is left out whole. Notes name the product and the
    object, with tenant text escaped for a terminal."""
    product = draft.product
    where = f"{product.id}"
    problems = []
    for value, definition, what in (
        (product.name, "displayName", "its name"),
        (product.group.name, "displayName", "its group's name"),
        (product.certified_course.code, "courseCode", "its certified course's code"),
        (product.certified_course.name, "displayName", "its certified course's name"),
        *((code, "courseCode", f"initial path {p.name}'s course") for p in product.initial_paths
          for code in p.all_of),
        *((p.name, "pathName", "an initial path's name") for p in product.initial_paths),
        *((p.id, "periodId", "a period's id") for p in product.maintenance.periods),
        *((p.course.code, "courseCode", f"period {p.id}'s course code")
          for p in product.maintenance.periods),
        *((p.course.name, "displayName", f"period {p.id}'s course name")
          for p in product.maintenance.periods),
        *(
            (ref.name, "displayName", f"the {what}'s name")
            for what, ref in (("enrollment rule", product.enrollment_rule),
                              *((k, r) for k, r in _refs(product)))
            if ref is not None
        ),
    ):  # fmt: skip
        if not fits(definition, value):
            problems.append(f"{what} {value!r}")
    if problems:
        return None, [
            comment_text(
                f"{where}: the configuration cannot hold "
                + "; ".join(problems)
                + " (see certops.schema.json); set the product up by hand"
            )
        ]
    notes = []

    def keep(key: str, entries: tuple[Any, ...]) -> tuple[Any, ...]:
        for entry in entries:
            if not fits("username", entry.user):
                notes.append(
                    comment_text(
                        f"{where}: {key} entry of user {entry.user!r} left out: the "
                        "configuration cannot hold that username (see certops.schema.json);"
                        " add it by hand"
                    )
                )
        return tuple(e for e in entries if fits("username", e.user))

    kept = replace(
        product,
        extensions=keep("extensions", product.extensions),
        reinstatements=keep("reinstatements", product.reinstatements),
        revocations=keep("revocations", product.revocations),
    )
    return replace(draft, product=kept), notes


def _refs(product: Product) -> list[tuple[str, Any]]:
    notes = product.notifications
    return [
        ("learner-enrolled notification", notes.learner_enrolled),
        ("admin-certified notification", notes.admin_certified),
        ("digest", notes.digest),
    ]


def summary_lines(drafts: Sequence[Draft]) -> list[str]:
    """One line per product for the terminal: what was found and what is a placeholder."""
    lines = []
    for draft in drafts:
        p = draft.product
        placeholders = sorted(k for k, v in draft.notes.items() if v.startswith("PLACEHOLDER"))
        lines.append(
            comment_text(
                f"{p.id}: {len(p.initial_paths)} initial path(s), {len(p.maintenance.periods)} "
                f"period(s), {len(p.extensions)} extension(s), {len(p.reinstatements)} "
                f"reinstatement(s), {len(p.revocations)} revocation(s); placeholders: "
                + (", ".join(placeholders) or "none")
            )
        )
    return lines
