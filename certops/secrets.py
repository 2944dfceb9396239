"""Keeping secrets out of everything certops shows or saves, in every form they take.

A server may echo a request back in an error: the client secret and password then appear
form-encoded (``s3cr3t%2Fwith%2Bplus%3D``), JSON-escaped, base64 (in an HTTP Basic header,
or a whole request body encoded, where the secret sits at any byte offset), in another
Unicode normal form, or cut short (an excerpt). ``redact_secrets`` cuts out all of those:
every form, and any run of ``FRAGMENT`` or more characters of a form long enough to have
one. The client registers every secret it holds (credentials, tokens, a proxy's password)
with ``remember_secrets``, so that ``redact_known`` can clean text produced far from it:
every ``LMSError``'s message and every outcome written to the audit log pass through it.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import unicodedata
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

# Shorter secrets are left alone: masking them would garble text without protecting much.
MIN_LENGTH = 4
# A piece of a secret this long in some text (an echo cut short) is masked too, for
# secrets long enough that such a piece is no common word (a client secret, a token).
FRAGMENT = 8
FRAGMENTED = 12
MASK = "***"

_known: set[str] = set()
_users: set[str] = set()
_forms: list[str] = []  # every form of every known secret, longest first
_known_pieces: frozenset[str] = frozenset()  # their runs of FRAGMENT characters
# Clients in several threads (a served sandbox's tests, listen's worker) register at once.
_lock = threading.Lock()


def _base64_cores(data: bytes) -> set[str]:
    """The base64 text ``data`` becomes wherever it sits in a longer encoded stream: at
    each of the three byte offsets, the characters that depend on ``data`` alone (the
    edges, shared with the bytes around it, are left out)."""
    cores = set()
    for offset, start in ((0, 0), (1, 2), (2, 3)):
        encoded = base64.b64encode(b"\0" * offset + data).decode().rstrip("=")
        end = len(encoded) - (1 if (offset + len(data)) % 3 else 0)
        cores.add(encoded[start:end])
    return cores


def secret_forms(secret: str, users: Iterable[str] = ()) -> set[str]:
    """Every way ``secret`` can appear in what a server sends back: as typed and in each
    Unicode normal form, form- and URL-encoded (upper- or lower-case hex), JSON-escaped,
    and base64 (alone, as the ``user:secret`` of an HTTP Basic header for each of
    ``users``, e.g. the client id, and inside a longer encoded body at any offset)."""
    typed = {secret} | {unicodedata.normalize(n, secret) for n in ("NFC", "NFD", "NFKC", "NFKD")}
    forms = set(typed)
    for form in typed:
        forms |= {quote_plus(form), quote(form, safe="")}
    forms |= {re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), f) for f in list(forms)}
    for form in typed:
        forms.add(json.dumps(form)[1:-1])
        forms.add(json.dumps(form, ensure_ascii=False)[1:-1])
    for raw in (secret, *(f"{user}:{secret}" for user in users if user)):
        data = raw.encode()
        encoded = base64.b64encode(data).decode()
        forms |= {encoded, encoded.rstrip("="), base64.urlsafe_b64encode(data).decode()}
    for form in (secret, quote_plus(secret)):  # a body is sent form-encoded
        forms |= _base64_cores(form.encode())
    return forms


def _pieces(forms: Iterable[str]) -> frozenset[str]:
    """Every run of ``FRAGMENT`` characters of the forms long enough to have one (a word
    such as "password" excepted: certops' own messages say those)."""
    return frozenset(
        piece
        for form in forms
        if len(form) >= FRAGMENTED
        for i in range(len(form) - FRAGMENT + 1)
        if not ((piece := form[i : i + FRAGMENT]).isalpha() and piece.islower())
    )


def _mask_fragments(text: str, pieces: frozenset[str]) -> str:
    """``text`` with every run of characters made of ``pieces`` masked: one pass over the
    text, whatever the number of secrets."""
    if not pieces or len(text) < FRAGMENT:
        return text
    spans = [
        (i, i + FRAGMENT)
        for i in range(len(text) - FRAGMENT + 1)
        if text[i : i + FRAGMENT] in pieces
    ]
    if not spans:
        return text
    out, last = [], 0
    for start, end in _merged(spans):
        out += [text[last:start], MASK]
        last = end
    out.append(text[last:])
    return "".join(out)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


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
    forms = _all_forms(secrets, users)
    for form in forms:
        text = text.replace(form, MASK)
    return _mask_fragments(text, _pieces(forms))


def remember_secrets(secrets: Iterable[str], users: Iterable[str] = ()) -> None:
    """Adds ``secrets`` (and Basic-header ``users``) to what ``redact_known`` removes."""
    global _forms, _known_pieces
    new_secrets, new_users = [s for s in tuple(secrets) if s], [u for u in tuple(users) if u]
    with _lock:
        before = (len(_known), len(_users))
        _known.update(new_secrets)
        _users.update(new_users)
        if (len(_known), len(_users)) != before:
            _forms = _all_forms(_known, _users)
            _known_pieces = _pieces(_forms)


def redact_known(text: str) -> str:
    """``text`` without any form of any secret this process has been given."""
    if not text:
        return text
    forms, pieces = _forms, _known_pieces
    for form in forms:
        if form in text:
            text = text.replace(form, MASK)
    return _mask_fragments(text, pieces)
