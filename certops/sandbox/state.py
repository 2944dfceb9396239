"""What every request handler reaches through ``request.app.state.sandbox``."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from certops.sandbox.faults import CallLog, FaultInjector
from certops.sandbox.store import Store


@dataclass(slots=True)
class SandboxState:
    """The open store, the fault injector and the call log of one application."""

    store: Store
    faults: FaultInjector
    calls: CallLog


def sandbox_of(request: Request) -> SandboxState:
    """Returns the sandbox state of the application serving ``request``."""
    state: SandboxState = request.app.state.sandbox
    return state


def store_of(request: Request) -> Store:
    """Returns the store of the application serving ``request``."""
    return sandbox_of(request).store
