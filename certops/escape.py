"""Tenant text made harmless where certops shows it: a terminal, Markdown, a spreadsheet,
a YAML comment.

Names, usernames, codes and messages come from the LMS, and anyone who can name a course
or a user there writes them. Shown as they are, they could move a terminal's cursor or
clear it (escape sequences), add a heading, a link or HTML to a pull-request comment, run
a formula in the spreadsheet a CSV is opened in, or end a YAML comment early. Each output
passes tenant text through the function made for it. Standard library only.
"""

from __future__ import annotations

import re
import unicodedata

# Line terminators, controls (C0, C1) and format characters (bidi controls, zero-width
# characters): what can end a line, move a cursor or reorder what is shown.
_HIDDEN = ("Cc", "Cf", "Zl", "Zp")


def visible(text: str) -> str:
    """``text`` with every line terminator, control and format character written as an
    escape (``\\u001b``, ``\\u2028``, ``\\u202e``): safe on a terminal and in a one-line
    comment, and showing a reader what is there."""
    if text.isprintable():
        return text  # the usual name: nothing to escape (every character escaped is unprintable)
    out = []
    for ch in text:
        if unicodedata.category(ch) in _HIDDEN or ch in "\r\n\x85\u2028\u2029":
            code = ord(ch)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


# What Markdown (CommonMark, GitHub) gives a meaning to inside a line, escaped with a
# backslash: emphasis, code, links, table cells, strikethrough. (Headings, lists and
# quotes need a line of their own, which ``visible`` never lets tenant text start.)
_MARKDOWN = frozenset("\\`*_[]|~")
# What GitHub turns into a link or a mention by itself: broken by a zero-width space.
_AUTOLINK = re.compile(r"(?i)(?<=https)(?=:)|(?<=http)(?=:)|(?<=www)(?=\.)|(?<=@)(?=\w)")


def markdown_text(text: str) -> str:
    """``text`` as literal Markdown, whatever it holds: escapes made visible (no line of
    its own), ``&``, ``<`` and ``>`` as entities (no HTML), emphasis, code, links and
    table cells behind a backslash, and no bare URL or @mention for GitHub to link."""
    out = []
    for ch in _AUTOLINK.sub("\u200b", visible(text)):
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch in _MARKDOWN:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def markdown_code(text: str) -> str:
    """``text`` as an inline code span that nothing inside it can end: fenced by one
    backtick more than its longest run of them, padded when it starts or ends with one."""
    shown = visible(text)
    longest = run = 0
    for ch in shown:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") or not shown.strip() else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


# Cell starts a spreadsheet reads as a formula (OWASP: CSV injection).
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_text(text: str) -> str:
    """A text cell a spreadsheet shows as text: one starting like a formula (``= + - @``,
    a tab or a carriage return) gets a leading ``'``, as OWASP recommends."""
    return "'" + text if text.startswith(_FORMULA) else text
