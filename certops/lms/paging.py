"""Paging that always ends, whatever the tenant answers.

A list read asks page after page while the answer says ``has_more_data``. A tenant that
ignores the cursor certops passes back, repeats a page, or never clears the flag would
otherwise be read forever, against an allowance of about 1,000 calls an hour. Each page is
checked against the pages before it; the first sign that the read does not advance stops
it with a named error, a call or two after it started to loop.

``page_size_from_env`` reads the rows asked per page from ``CERTOPS_PAGE_SIZE``.
"""

from __future__ import annotations

import os
from typing import Any

from certops.lms import paths
from certops.lms.errors import LMSAddressError, LMSResponseError
from certops.lms.wire import Page

ENV_PAGE_SIZE = "CERTOPS_PAGE_SIZE"

# A read that states no page count and keeps finding new rows is cut here (20 million
# rows at 200 a page: more than any tenant holds in one list).
MAX_PAGES = 100_000


class PagingError(LMSResponseError):
    """A paged read stopped because the tenant's answers did not advance."""


class PagingGuard:
    """The checks for one paged read: feed it every page in order (``check``)."""

    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint
        self._pages = 0
        self._number: int | None = None
        self._cursors: set[str] = set()
        self._edges: tuple[int, Any, Any] | None = None

    def _fail(self, problem: str) -> PagingError:
        return PagingError(
            f"unexpected response from {self._endpoint}: paging does not advance: {problem}; "
            "certops stopped this read instead of reading it forever (see docs/wire.md, "
            "Paging, and run 'certops doctor --shapes FILE' to report it)"
        )

    def check(self, page: Page) -> None:
        """Raises ``PagingError`` when ``page`` shows that the read is not advancing:
        ``current_page`` not past the previous one, a cursor given twice, more pages than
        ``total_page_count`` (+1, for rows added during the read), or the same rows as the
        page before."""
        self._pages += 1
        number = page.number
        if number is not None and self._number is not None and number <= self._number:
            raise self._fail(
                f"page {self._pages} answered current_page {number} after {self._number}"
            )
        if number is not None:
            self._number = number
        if page.cursor is not None:
            if page.cursor in self._cursors:
                raise self._fail(f"page {self._pages} returned a cursor it had returned before")
            self._cursors.add(page.cursor)
        if page.has_more and page.total_pages is not None and self._pages > page.total_pages:
            raise self._fail(
                f"{self._pages} pages read and still has_more_data, but total_page_count "
                f"is {page.total_pages}"
            )
        if page.has_more and self._pages >= MAX_PAGES:
            raise self._fail(f"{self._pages} pages read and still has_more_data")
        if page.items:
            edges = (len(page.items), page.items[0], page.items[-1])
            if edges == self._edges:
                raise self._fail(f"page {self._pages} holds the same rows as the page before")
            self._edges = edges


def page_size_from_env() -> int | None:
    """The page size ``CERTOPS_PAGE_SIZE`` sets, if any."""
    text = os.environ.get(ENV_PAGE_SIZE, "").strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= paths.MAX_PAGE_SIZE:
        raise LMSAddressError(
            f"{ENV_PAGE_SIZE}={text!r} is not a page size from 1 to {paths.MAX_PAGE_SIZE}"
        )
    return int(text)
