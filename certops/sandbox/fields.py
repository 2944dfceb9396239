"""What each API endpoint knows, and the one checker that holds requests to it.

Docebo ignores request fields it does not know, so a client that misspells a field, or
sends one the tenant does not support, is told "success" and learns nothing. The sandbox
is strict by default: a body field or query parameter that the endpoint's ``Known``
description does not list is a 400 naming the field by its path
(``items[0].date_expire_validity``). In lenient mode (a setting stored in the sandbox
file) unknown fields are dropped before the handler sees them, as Docebo does.

The ``drop_fields`` fault works here too: after the check, the named fields are removed
from a write's body wherever they appear, so the handler answers success without them.

Every API route is wrapped by ``checked`` (see ``app.py``); handlers then read the
cleaned body with ``envelope.read_body``. ``/_sandbox/`` endpoints are not Docebo and
validate their own bodies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from certops.sandbox.envelope import ApiError, array_name, parse_body

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True, slots=True)
class Obj:
    """A JSON object with these keys; a key's shape is None when its value is a scalar
    (or anything the handler validates itself), else an ``Obj`` or ``ListOf``."""

    fields: Mapping[str, Obj | ListOf | None]


@dataclass(frozen=True, slots=True)
class ListOf:
    """A JSON list whose items have the shape ``item``."""

    item: Obj | ListOf


def obj(*scalars: str, **nested: Obj | ListOf) -> Obj:
    """Returns an ``Obj`` with the ``scalars`` as plain keys and the ``nested`` shapes."""
    return Obj({**dict.fromkeys(scalars), **nested})


PAGING = frozenset({"page", "page_size", "get_total_count", "get_cursor", "cursor"})


@dataclass(frozen=True, slots=True)
class Known:
    """An endpoint's known query parameters (array parameters without ``[]``) and body
    shape (None: the endpoint takes no body)."""

    query: frozenset[str] = field(default_factory=frozenset)
    body: Obj | None = None


def listing(*params: str) -> Known:
    """Returns the ``Known`` of a list endpoint: the paging parameters plus ``params``."""
    return Known(query=PAGING | frozenset(params))


def unknown_fields(value: object, shape: Obj | ListOf | None, path: str = "") -> Iterator[str]:
    """Yields the path of every field in ``value`` that ``shape`` does not know.

    Values of the wrong kind (a string where an object is expected) are left to the
    handler, which names them with a better message.
    """
    if isinstance(shape, Obj) and isinstance(value, dict):
        for key, sub in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in shape.fields:
                yield where
            else:
                yield from unknown_fields(sub, shape.fields[key], where)
    elif isinstance(shape, ListOf) and isinstance(value, list):
        for index, item in enumerate(value):
            yield from unknown_fields(item, shape.item, f"{path}[{index}]")


def pruned(value: Any, shape: Obj | ListOf | None) -> Any:
    """Returns ``value`` without the fields ``shape`` does not know (lenient mode)."""
    if isinstance(shape, Obj) and isinstance(value, dict):
        return {k: pruned(v, shape.fields[k]) for k, v in value.items() if k in shape.fields}
    if isinstance(shape, ListOf) and isinstance(value, list):
        return [pruned(item, shape.item) for item in value]
    return value


def without(value: Any, names: frozenset[str]) -> Any:
    """Returns ``value`` without the keys in ``names``, at any depth (``drop_fields``)."""
    if isinstance(value, dict):
        return {k: without(v, names) for k, v in value.items() if k not in names}
    if isinstance(value, list):
        return [without(item, names) for item in value]
    return value


def unknown_error(paths: list[str]) -> ApiError:
    """Returns the 400 for unknown fields: every one listed, the first one named."""
    errors = [(p, f"unknown field '{p}' (this endpoint does not know it)") for p in paths]
    more = f" (and {len(paths) - 1} more)" if len(paths) > 1 else ""
    message = (
        f"unknown field '{paths[0]}'{more}: the sandbox rejects fields it does not know"
        " (Docebo would silently ignore them); a lenient sandbox ignores them too"
        ' (`sandbox init/serve --lenient`, or PUT /_sandbox/settings {"lenient": true})'
    )
    return ApiError(400, message, field=paths[0], errors=errors)


def check(value: Any, shape: Obj | ListOf | None, *, lenient: bool, path: str = "") -> Any:
    """Returns ``value`` as the handler may use it: unchanged when every field is known,
    pruned in lenient mode; in strict mode an unknown field is a 400 naming its path."""
    unknown = list(unknown_fields(value, shape, path))
    if not unknown:
        return value
    if lenient:
        return pruned(value, shape)
    raise unknown_error(unknown)


def _query_names(request: Request) -> list[str]:
    names: list[str] = []
    for key in request.query_params:
        name, _ = array_name(key)
        if name not in names:
            names.append(name)
    return names


async def checked_request(request: Request, known: Known) -> None:
    """Checks ``request`` against ``known`` and leaves the body the handler will read in
    ``request.state.body`` (and the mode in ``request.state.lenient``)."""
    sandbox = request.app.state.sandbox
    lenient = sandbox.store.lenient()
    request.state.lenient = lenient
    unknown_params = [n for n in _query_names(request) if n not in known.query]
    if unknown_params and not lenient:
        raise unknown_error(unknown_params)
    if request.method not in WRITE_METHODS:
        return
    body = await parse_body(request)
    body = check(body, known.body or Obj({}), lenient=lenient)
    dropped = frozenset(sandbox.faults.config.drop_fields)
    if dropped:
        body = without(body, dropped)
    request.state.body = body


def checked(
    handler: Callable[[Request], Awaitable[Response]], known: Known
) -> Callable[[Request], Awaitable[Response]]:
    """Returns ``handler`` behind the known-fields check (every API route has one)."""

    async def endpoint(request: Request) -> Response:
        await checked_request(request, known)
        return await handler(request)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def is_lenient(request: Request) -> bool:
    """Returns whether this request is served in lenient mode (set by ``checked``)."""
    return bool(getattr(request.state, "lenient", False))
