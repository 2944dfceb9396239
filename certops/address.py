"""The LMS address: what ``--lms`` (or ``CERTOPS_LMS``) names, parsed once.

``parse_address`` turns the text into an ``LMSAddress``: a Docebo tenant, by its
``https://HOST[:PORT]`` base URL (plain ``http://`` only to this machine, for a sandbox
served here), or a sandbox file, ``sandbox:PATH``. The command line parses the text once;
everything below it receives the typed address, and this is the only module that reads
the ``sandbox:`` syntax.

An address answers what its users ask: the form plans record as their ``lms`` (``display``,
part of a plan's digest), the host messages name, whether it is on this machine
(``is_local``), and the LMS it names however it is spelled (``identity``), which the writer
lock keys on.

Standard library only: it sits with the records (docs/architecture.md, layer 1).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from certops.errors import LMSAddressError

SANDBOX_SCHEME = "sandbox:"
# Plain http:// is allowed to these hosts only: credentials and tokens must not cross a
# network in clear text.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
DEFAULT_PORTS = {"http": 80, "https": 443}


class AddressKind(StrEnum):
    TENANT = "tenant"  # a Docebo tenant (or a sandbox served over HTTP): a base URL
    SANDBOX = "sandbox"  # a sandbox file, mounted in-process


@dataclass(frozen=True, slots=True)
class TenantIdentity:
    """A tenant however its address is spelled: scheme, host in lower case without a
    trailing dot (every loopback name as ``localhost``), and the port the connection
    really uses."""

    scheme: str
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class LMSAddress:
    """One LMS: a tenant's base URL (``scheme://HOST[:PORT]``, as written, without path) or
    a sandbox file's path (as written). Built by ``parse_address`` or ``sandbox_address``;
    constructing one directly checks the same rules."""

    kind: AddressKind
    location: str

    def __post_init__(self) -> None:
        if self.kind is AddressKind.SANDBOX:
            if not self.location:
                raise LMSAddressError("sandbox: needs a path, e.g. sandbox:.certops/sandbox.db")
        elif _tenant_base(self.location) != self.location:
            raise LMSAddressError(
                f"not a tenant's base URL: {self.location!r} (expected scheme://HOST[:PORT])"
            )

    @property
    def is_sandbox(self) -> bool:
        return self.kind is AddressKind.SANDBOX

    @property
    def display(self) -> str:
        """The address as plans record it (``lms``, covered by their digest): the sandbox
        address as written, or the tenant's base URL."""
        return SANDBOX_SCHEME + self.location if self.is_sandbox else self.location

    def __str__(self) -> str:
        return self.display

    @property
    def host(self) -> str:
        """The name messages use: the tenant's host, or the sandbox address itself."""
        if self.is_sandbox:
            return self.display
        return urlsplit(self.location).hostname or self.location

    @property
    def is_local(self) -> bool:
        """Whether this LMS is on this machine: a sandbox file, or a loopback host."""
        if self.is_sandbox:
            return True
        host = self.host
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    @property
    def identity(self) -> TenantIdentity | Path:
        """The LMS this address names, whatever the spelling: the tenant's
        ``TenantIdentity``, or the sandbox file's absolute path with every symbolic link
        resolved (relative paths against the current folder)."""
        if self.is_sandbox:
            return Path(self.location).resolve()
        parts = urlsplit(self.location)
        return TenantIdentity(
            parts.scheme,
            _canonical_host(parts.hostname or ""),
            parts.port or DEFAULT_PORTS[parts.scheme],
        )

    def same_lms(self, other: LMSAddress) -> bool:
        """Whether both addresses name the same LMS (see ``identity``)."""
        return self.identity == other.identity


def _canonical_host(host: str) -> str:
    """The host as one LMS has one name: lower case (``urlsplit`` lowers it), without a
    trailing dot, international names in their ASCII form, and every name of this machine's
    loopback (``localhost``, ``127.0.0.1``, ``::1``) as ``localhost``."""
    host = host.rstrip(".")
    with contextlib.suppress(UnicodeError):  # a name IDNA cannot encode stays as written
        host = host.encode("idna").decode("ascii")
    if host == "localhost":
        return host
    try:
        return "localhost" if ipaddress.ip_address(host).is_loopback else host
    except ValueError:
        return host


def sandbox_address(path: str | os.PathLike[str]) -> LMSAddress:
    """The address of the sandbox file at ``path``."""
    return LMSAddress(AddressKind.SANDBOX, os.fspath(path))


def parse_address(text: str) -> LMSAddress:
    """The address ``text`` names: ``https://TENANT.docebosaas.com`` (any path is dropped)
    or ``sandbox:PATH``; surrounding blanks are ignored.

    Raises ``LMSAddressError`` saying what is expected: for credentials in the URL (they
    come from the ``DOCEBO_*`` variables), plain ``http://`` to a host other than this
    machine, ``sandbox:`` without a path, and anything else.
    """
    stripped = text.strip()
    if stripped.startswith(SANDBOX_SCHEME):
        return sandbox_address(stripped[len(SANDBOX_SCHEME) :])
    base = _tenant_base(stripped)
    if base is None:
        raise LMSAddressError(
            f"cannot use --lms {text!r}: expected https://TENANT.docebosaas.com or sandbox:PATH"
        )
    return LMSAddress(AddressKind.TENANT, base)


def _tenant_base(text: str) -> str | None:
    """``scheme://netloc`` of a usable tenant URL; None when ``text`` is not an http(s)
    URL with a host. Raises ``LMSAddressError`` for one that must not be used."""
    parts = urlsplit(text)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or not _valid_port(text):
        return None
    if parts.username or parts.password:
        raise LMSAddressError(
            "the --lms URL must not carry credentials; use the DOCEBO_* variables"
        )
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise LMSAddressError(
            f"refusing plain http:// to {parts.hostname}: use https:// (http is only "
            "allowed for a sandbox served on this machine)"
        )
    return f"{parts.scheme}://{parts.netloc}"


def _valid_port(url: str) -> bool:
    """Whether the URL's port, if it has one, is a number from 0 to 65535."""
    try:
        urlsplit(url).port  # noqa: B018 - reading it is the check
    except ValueError:
        return False
    return True
