"""Docebo's OAuth2 credentials: what they are, where they come from, what is missing.

Credentials come only from the environment (``DOCEBO_CLIENT_ID``, ``DOCEBO_CLIENT_SECRET``,
and ``DOCEBO_USERNAME``/``DOCEBO_PASSWORD`` for the password grant), or are handed in by
the caller (a sandbox's stored client). Messages name the variables, never their values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from certops.lms.errors import LMSCredentialsError

ENV_CLIENT_ID = "DOCEBO_CLIENT_ID"
ENV_CLIENT_SECRET = "DOCEBO_CLIENT_SECRET"
ENV_USERNAME = "DOCEBO_USERNAME"
ENV_PASSWORD = "DOCEBO_PASSWORD"
ENV_NAMES = (ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_USERNAME, ENV_PASSWORD)


@dataclass(frozen=True, slots=True)
class Credentials:
    """OAuth2 credentials; the secret and password never show in ``repr``."""

    client_id: str
    client_secret: str = field(repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    source: str = "environment"  # where they came from, for messages

    @property
    def grant(self) -> str:
        return "password" if self.username else "client_credentials"

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.client_secret, self.password) if s)

    def token_form(self) -> dict[str, str]:
        form = {
            "grant_type": self.grant,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scope": "api",
        }
        if self.username:
            form["username"] = self.username
            form["password"] = self.password or ""
        return form

    def names(self) -> str:
        """Which credentials these are, for messages (names, never values)."""
        if self.source != "environment":
            return f"the credentials in {self.source}"
        if self.grant == "password":
            return f"{ENV_CLIENT_ID}/{ENV_CLIENT_SECRET} with {ENV_USERNAME}/{ENV_PASSWORD}"
        return f"{ENV_CLIENT_ID}/{ENV_CLIENT_SECRET}"


def credentials_from_env(env: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials from ``DOCEBO_*`` variables; None when none is set.

    Raises ``LMSCredentialsError`` naming every missing variable when only some are set.
    """
    env = os.environ if env is None else env
    values = {name: env.get(name, "") for name in ENV_NAMES}
    if not any(values.values()):
        return None
    missing = [n for n in (ENV_CLIENT_ID, ENV_CLIENT_SECRET) if not values[n]]
    if bool(values[ENV_USERNAME]) != bool(values[ENV_PASSWORD]):
        missing += [n for n in (ENV_USERNAME, ENV_PASSWORD) if not values[n]]
    if missing:
        raise LMSCredentialsError(
            "missing Docebo credentials: set "
            + ", ".join(missing)
            + f" (needed: {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET}; add {ENV_USERNAME} and "
            f"{ENV_PASSWORD} for the password grant)"
        )
    return Credentials(
        client_id=values[ENV_CLIENT_ID],
        client_secret=values[ENV_CLIENT_SECRET],
        username=values[ENV_USERNAME] or None,
        password=values[ENV_PASSWORD] or None,
    )


def missing_credentials_error() -> LMSCredentialsError:
    """The error for a tenant with no ``DOCEBO_*`` variable set at all."""
    return LMSCredentialsError(
        f"no Docebo credentials: set {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} (and "
        f"{ENV_USERNAME}/{ENV_PASSWORD} for the password grant) in the environment"
    )
