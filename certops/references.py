"""The reference check of ``plan``, ``apply`` and ``validate --lms``: the configuration's
usernames and initial course codes against a live snapshot, with no extra LMS read."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping

from certops.config.model import Config, Product
from certops.config.problems import sort_problems
from certops.config.refs import references
from certops.engine import logins
from certops.engine.logins import email_index
from certops.engine.references import check_references
from certops.errors import ConfigError
from certops.live import LiveSnapshot
from certops.plan.model import PlanWarning


def verify_references(config: Config, live: LiveSnapshot) -> list[PlanWarning]:
    """The warnings about ``config``'s references to the LMS in ``live``.

    Raises ``ConfigError`` with every located problem when a username or initial course
    code is not in the LMS (before anything is planned or written)."""
    users = {u.username: u.active for u in live.users_by_id.values()}
    codes = set(live.listed_codes) | set(live.course_ids)
    enrolled = _Enrolled(live, config.products)
    refs = references(config)
    emails = (
        email_index(live.users_by_id.values())
        if any(ref.is_user and ref.value not in users for ref in refs)
        else {}
    )
    problems, warnings = check_references(refs, users, codes, enrolled, emails)
    if problems:
        raise ConfigError(sort_problems(problems))
    return warnings


def with_usernames(config: Config, live: LiveSnapshot) -> Config:
    """``config`` with exceptions that name their learner by e-mail address naming them by
    their username in ``live`` (``certops.engine.logins``)."""
    return logins.with_usernames(config, live.user_ids, live.users_by_id.values())


class _Enrolled(Mapping[str, Collection[str]]):
    """Each product's enrolled usernames, built when first asked: the check asks only for
    a product one of whose configured usernames is deactivated, and building the set
    walks every enrollment of the product's courses (hundreds of thousands of rows)."""

    def __init__(self, live: LiveSnapshot, products: tuple[Product, ...]) -> None:
        self._live = live
        self._products = {p.id: p for p in products}
        self._built: dict[str, Collection[str]] = {}

    def __getitem__(self, product_id: str) -> Collection[str]:
        if product_id not in self._built:
            product = self._products[product_id]  # KeyError: not a product, as a dict's
            self._built[product_id] = self._live.enrolled_usernames(product)
        return self._built[product_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._products)

    def __len__(self) -> int:
        return len(self._products)
