"""Opening a reader or a writer for an LMS address, whichever kind it is.

The one module that knows both the Docebo client (``certops.lms``) and the sandbox
(``certops.sandbox``): for a ``sandbox:PATH`` address it gives the client the sandbox
application in-process and the credentials to use (``DOCEBO_*`` if set, else the ones the
sandbox file stores; a missing file says to run ``certops sandbox init``); a tenant is
left to ``certops.lms``, which reaches it through httpx with ``DOCEBO_*`` credentials. A
transport or credentials passed in explicitly are used as given.

Cheap to import: the client (httpx) and the sandbox load on the first connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Unpack

from certops.address import LMSAddress

if TYPE_CHECKING:
    from certops.lms.connect import (
        Connection,
        ConnectOptions,
        CredentialsSource,
        TransportSource,
    )
    from certops.lms.docebo import DoceboReader, DoceboWriter


def connect_reader(
    address: LMSAddress,
    *,
    transport: TransportSource | None = None,
    credentials: CredentialsSource | None = None,
    **options: Unpack[ConnectOptions],
) -> Connection[DoceboReader]:
    """A connection (``async with``) yielding a ``DoceboReader`` of ``address``, which
    cannot write; see ``certops.lms.connect.connect_reader``."""
    from certops.lms.connect import connect_reader as open_reader

    transport, credentials = _for(address, transport, credentials)
    return open_reader(address, transport=transport, credentials=credentials, **options)


def connect_writer(
    address: LMSAddress,
    *,
    transport: TransportSource | None = None,
    credentials: CredentialsSource | None = None,
    **options: Unpack[ConnectOptions],
) -> Connection[DoceboWriter]:
    """A connection (``async with``) yielding a ``DoceboWriter`` of ``address``; see
    ``certops.lms.connect.connect_writer``."""
    from certops.lms.connect import connect_writer as open_writer

    transport, credentials = _for(address, transport, credentials)
    return open_writer(address, transport=transport, credentials=credentials, **options)


def _for(
    address: LMSAddress,
    transport: TransportSource | None,
    credentials: CredentialsSource | None,
) -> tuple[TransportSource | None, CredentialsSource | None]:
    """The transport and credentials to open ``address`` with: the sandbox's own (made
    when the connection opens) where none is given for a sandbox file."""
    if not address.is_sandbox:
        return transport, credentials
    from certops.sandbox.transport import sandbox_credentials, sandbox_transport

    path = address.location
    return (
        transport or (lambda: sandbox_transport(path)),
        credentials or (lambda: sandbox_credentials(path)),
    )
