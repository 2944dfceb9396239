"""Keeping secrets out of everything certops shows or saves, in every form they take.

A server may echo a request back in an error: the client secret and password then appear
form-encoded (``s3cr3t%2Fwith%2Bplus%3D``), JSON-escaped, or base64 in an HTTP Basic
header, not only as typed. ``redact_secrets`` cuts out all of those forms. The client
registers every secret it holds (credentials, tokens) with ``remember_secrets``, so that
``redact_known`` can clean text produced far from it: every ``LMSError``'s message and
every outcome written to the audit log pass through it.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

# Shorter secrets are left alone: masking them would garble text without protecting much.
MIN_LENGTH = 4
MASK = "***"

_known: set[str] = set()
_users: set[str] = set()
_forms: list[str] = []  # every form of every known secret, longest first
# Clients in several threads (a served sandbox's tests, listen's worker) register at once.
_lock = threading.Lock()


def secret_forms(secret: str, users: Iterable[str] = ()) -> set[str]:
    """Every way ``secret`` can appear in what a server sends back: as is, form- and
    URL-encoded (upper- or lower-case hex), JSON-escaped, and base64 (alone, and as the
    ``user:secret`` of an HTTP Basic header for each of ``users``, e.g. the client id)."""
    forms = {secret, quote_plus(secret), quote(secret, safe="")}
    forms |= {re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), f) for f in list(forms)}
    forms.add(json.dumps(secret)[1:-1])
    forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])
    for raw in (secret, *(f"{user}:{secret}" for user in users if user)):
        data = raw.encode()
        encoded = base64.b64encode(data).decode()
        forms |= {encoded, encoded.rstrip("="), base64.urlsafe_b64encode(data).decode()}
    return forms


def _all_forms(secrets: Iterable[str], users: Iterable[str]) -> list[str]:
    users = tuple(users)
    # A snapshot: the caller's set may grow meanwhile (a token renewed in another task).
    forms = {
        f for s in tuple(secrets) if len(s) >= MIN_LENGTH for f in secret_forms(s, users)
        if len(f) >= MIN_LENGTH
    }  # fmt: skip
    return sorted(forms, key=len, reverse=True)


def redact_secrets(text: str, secrets: Iterable[str], users: Iterable[str] = ()) -> str:
    """``text`` with every form of every secret replaced by ``***`` (``users``: the names
    a secret may be paired with in an HTTP Basic header)."""
    for form in _all_forms(secrets, users):
        text = text.replace(form, MASK)
    return text


def remember_secrets(secrets: Iterable[str], users: Iterable[str] = ()) -> None:
    """Adds ``secrets`` (and Basic-header ``users``) to what ``redact_known`` removes."""
    global _forms
    new_secrets, new_users = [s for s in tuple(secrets) if s], [u for u in tuple(users) if u]
    with _lock:
        before = (len(_known), len(_users))
        _known.update(new_secrets)
        _users.update(new_users)
        if (len(_known), len(_users)) != before:
            _forms = _all_forms(_known, _users)


def redact_known(text: str) -> str:
    """``text`` without any form of any secret this process has been given."""
    for form in _forms:
        if form in text:
            text = text.replace(form, MASK)
    return text
