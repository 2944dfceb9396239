"""How certops reaches an LMS: httpx's client, and what a failure to reach it means.

For a tenant, requests go through ``httpx.AsyncClient`` with its own transport and its own
reading of the environment (``trust_env``): the proxy ``HTTPS_PROXY``, ``HTTP_PROXY`` or
``ALL_PROXY`` names (either case) unless ``NO_PROXY`` covers the host, and the
certificates ``SSL_CERT_FILE``/``SSL_CERT_DIR`` name (else certifi's). HTTP/1.1 over TLS,
connections kept alive for reuse, redirects not followed, no cookies sent. Given a
transport (the sandbox in-process, a test's stand-in), the client uses it and reads
nothing from the environment.

httpx reports failures as its exceptions with the cause chained (``socket.gaierror``,
``ssl.SSLError``, ``ConnectionRefusedError``); ``dns_failure``, ``tls_failure``,
``refused`` and ``proxy_refusal`` tell the ones no retry can heal from the others.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import unquote, urlsplit

import httpx

from certops.lms.errors import LMSAddressError

# How long an idle connection is kept for reuse (httpx's default): servers close idle
# connections after a few seconds, and a request sent on one they just closed fails.
KEEPALIVE_EXPIRY = 5.0
CONNECT_TIMEOUT = 10.0
# The environment variables httpx reads a proxy from (any case), in its order.
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")
_PROXY_SCHEMES = ("http", "https")


def http_client(
    transport: httpx.AsyncBaseTransport | None, *, max_in_flight: int, read_timeout: float
) -> httpx.AsyncClient:
    """The client requests go through: over ``transport`` when given, else to the network
    with httpx's own transport, proxies and certificates from the environment.

    ``read_timeout`` bounds each wait for an answer's next bytes (and for a free
    connection); as many connections are kept as requests may be in flight, plus one for
    the token request. Raises ``LMSAddressError`` naming the variable when the environment
    names a proxy httpx cannot use (e.g. SOCKS without the optional ``socksio``)."""
    timeout = httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT)
    if transport is not None:
        return httpx.AsyncClient(
            transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
        )
    connections = max_in_flight + 1
    limits = httpx.Limits(
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=KEEPALIVE_EXPIRY,
    )
    try:
        return httpx.AsyncClient(
            trust_env=True, timeout=timeout, limits=limits, follow_redirects=False
        )
    except (ImportError, ValueError, httpx.InvalidURL):
        # httpx's own text may show the proxy's address and credentials: not repeated.
        raise _unusable_proxy() from None


@dataclass(frozen=True, slots=True)
class Proxy:
    """The proxy requests to an LMS go through: the variable that names it (as spelled in
    the environment), its address without credentials (for messages), and the
    credentials its address carries (secrets: never shown)."""

    variable: str
    address: str
    user: str = ""
    password: str = ""


def proxy_for(url: str) -> Proxy | None:
    """The proxy httpx sends requests for ``url`` through, read from the environment as
    httpx reads it (the standard library's ``getproxies``: ``SCHEME_proxy``, else
    ``all_proxy``, either case, the lower-case one first; none when ``no_proxy`` covers the
    host); None when requests go straight to the LMS."""
    proxies = urllib.request.getproxies()
    parts = urlsplit(url)
    host = parts.hostname or ""
    key = next((k for k in (parts.scheme, "all") if proxies.get(k)), None)
    if key is None or _bypassed(host, proxies):
        return None
    value = proxies[key].strip()
    named = [
        n for n in os.environ if n.lower() == f"{key}_proxy" and os.environ[n].strip() == value
    ]
    variable = min(named, key=lambda n: n != n.lower(), default=f"{key.upper()}_PROXY")
    proxy = urlsplit(value if "://" in value else f"http://{value}")
    try:
        port = proxy.port
    except ValueError:
        port = None
    where = proxy.hostname or "?"
    address = f"{proxy.scheme}://{where}" + (f":{port}" if port else "")
    return Proxy(variable, address, unquote(proxy.username or ""), unquote(proxy.password or ""))


def _bypassed(host: str, proxies: dict[str, str]) -> bool:
    """Whether ``no_proxy`` covers ``host``, by the rules httpx follows (curl's): ``*``
    covers every host; an IP address or ``localhost`` covers that host; ``.example.com``
    covers its subdomains, ``example.com`` the domain too; ``scheme://host`` that host."""
    host = host.lower().strip("[]")
    for entry in (e.strip().lower() for e in proxies.get("no", "").split(",")):
        if entry == "*":
            return True
        if not entry:
            continue
        if "://" in entry:
            entry = urlsplit(entry).hostname or ""
            if entry == host:
                return True
            continue
        entry = entry.strip("[]")
        if _is_address(entry) or entry == "localhost":
            if entry == host:
                return True
        elif entry.startswith("."):
            if host.endswith(entry):
                return True
        elif host == entry or host.endswith("." + entry):
            return True
    return False


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def proxy_variables() -> list[str]:
    """The proxy variables set in the environment, as spelled there (for messages)."""
    wanted = {name.lower() for name in PROXY_VARIABLES}
    return sorted(n for n, v in os.environ.items() if n.lower() in wanted and v.strip())


def _unusable_proxy() -> LMSAddressError:
    found = proxy_variables()
    odd = [name for name in found if _scheme(os.environ[name]) not in _PROXY_SCHEMES]
    named = " and ".join(odd or found) or "the proxy variable"
    schemes = sorted({_scheme(os.environ[name]) for name in odd})
    what = f" (scheme {', '.join(map(repr, schemes))})" if schemes else ""
    socks = any(s.startswith("socks") for s in schemes)
    why = ": SOCKS needs the optional package socksio (pip install 'httpx[socks]')"
    return LMSAddressError(
        f"the proxy {named} names{what} cannot be used{why if socks else ''}; "
        f"set {named} to http://HOST:PORT (or https://), or unset it"
    )


def _scheme(value: str) -> str:
    """The scheme of a proxy address (httpx reads one without a scheme as http://)."""
    text = value.strip()
    return text.partition("://")[0].lower() if "://" in text else "http"


# --- what a failure means -------------------------------------------------------------


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, what caused it, and so on; the members of an exception group too (a host
    with several addresses fails with one error per address)."""
    pending = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)


def dns_failure(exc: BaseException) -> bool:
    """Whether ``exc`` happened because a host name did not resolve."""
    for cause in _causes(exc):
        if isinstance(cause, socket.gaierror):
            return True
        text = str(cause).lower()
        if "name or service not known" in text or "nodename nor servname" in text:
            return True
    return False


def tls_failure(exc: BaseException) -> str | None:
    """What went wrong with TLS, when that is why ``exc`` happened (retrying cannot help)."""
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return getattr(cause, "verify_message", None) or "certificate verify failed"
        if isinstance(cause, ssl.SSLError):
            return cause.reason or str(cause)
    return None


def refused(exc: BaseException) -> bool:
    """Whether ``exc`` is a connection the host refused (nothing listens there)."""
    return isinstance(exc, httpx.ConnectError) and any(
        isinstance(c, ConnectionRefusedError) or "connection refused" in str(c).lower()
        for c in _causes(exc)
    )


def proxy_refusal(exc: BaseException) -> str | None:
    """The proxy's answer, when it refused to open a tunnel, as its status code and that
    code's standard phrase (e.g. ``407 Proxy Authentication Required``): never the proxy's
    own text, which may echo the credentials it was sent."""
    if not isinstance(exc, httpx.ProxyError):
        return None
    code = str(exc).split(" ", 1)[0]
    if not (code.isdigit() and len(code) == 3):
        return "no status"
    try:
        return f"{code} {HTTPStatus(int(code)).phrase}"
    except ValueError:
        return code
