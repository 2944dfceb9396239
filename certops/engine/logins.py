"""Learners named by e-mail address: the configuration's exceptions in usernames. Pure.

An extension, reinstatement or revocation names its learner by username or by e-mail
address, as ``certops status`` and ``certops report --user`` accept either. The lifecycle
works on usernames (the LMS's natural key of a user), so before anything is evaluated an
exception naming an e-mail address is given the username of the user with that address
(compared without regard to case, as mail systems do). A name that is neither stays as it
is: the reference check (``certops.engine.references``) reports it where it is written.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace

from certops.config.model import Config, Product
from certops.records import User


def email_index(users: Iterable[User]) -> dict[str, str]:
    """Each e-mail address (lower case) of ``users`` -> the username; an address two users
    share names neither (it could not say which learner is meant)."""
    index: dict[str, str] = {}
    shared: set[str] = set()
    for user in users:
        email = user.email.strip().lower()
        if not email:
            continue
        if email in index and index[email] != user.username:
            shared.add(email)
        index[email] = user.username
    for email in shared:
        del index[email]
    return index


def username_of(name: str, usernames: Collection[str], emails: Mapping[str, str]) -> str | None:
    """The username ``name`` stands for: itself when it is one, else the username of the
    user with that e-mail address; None when it is neither."""
    if name in usernames:
        return name
    return emails.get(name.strip().lower())


def with_usernames(config: Config, usernames: Collection[str], users: Iterable[User]) -> Config:
    """``config`` with every exception that names its learner by e-mail address naming
    them by username instead. ``usernames`` holds the usernames of ``users`` (looked up
    first; the e-mail index is built only when some exception names something else)."""
    names = {
        entry.user
        for product in config.products
        for entries in (product.extensions, product.reinstatements, product.revocations)
        for entry in entries
    }
    others = {name for name in names if name not in usernames}
    if not others:
        return config
    emails = email_index(users)
    renamed = {
        name: username
        for name in others
        if (username := username_of(name, usernames, emails)) is not None
    }
    if not renamed:
        return config
    return replace(config, products=tuple(_renamed(p, renamed) for p in config.products))


def _renamed(product: Product, renamed: dict[str, str]) -> Product:
    if not any(
        entry.user in renamed
        for entries in (product.extensions, product.reinstatements, product.revocations)
        for entry in entries
    ):
        return product
    return replace(
        product,
        extensions=tuple(replace(e, user=renamed.get(e.user, e.user)) for e in product.extensions),
        reinstatements=tuple(
            replace(r, user=renamed.get(r.user, r.user)) for r in product.reinstatements
        ),
        revocations=tuple(
            replace(r, user=renamed.get(r.user, r.user)) for r in product.revocations
        ),
    )
