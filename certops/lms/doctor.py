"""``certops doctor``: check that an LMS offers everything certops needs, without writing.

Each check is a ``Check`` record (ok / FAIL with the fix / skipped / warn); the CLI prints
them. Where the tenant publishes its service documents (Swagger 2.0, listed by
``/manage/v1/site/microservices``), the fields certops reads and writes
(``certops.lms.manifest``) are compared with them and every mismatch is listed. Without
``--write-probe`` doctor never writes; the probe itself lives in ``certops.probe``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from certops.address import LMSAddress
from certops.errors import LMSError
from certops.lms import paths, wire
from certops.lms.connect import Connection, connect_reader
from certops.lms.docebo import DoceboReader
from certops.lms.errors import LMSCredentialsError, LMSNotFoundError
from certops.lms.manifest import USED


class Outcome(StrEnum):
    OK = "ok"
    FAIL = "FAIL"
    WARN = "warn"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    outcome: Outcome
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAIL


# The reads certops does, with the smallest request that proves each works.
_READS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("users", paths.USERS, {"page_size": 1}),
    ("courses", paths.COURSES, {"page_size": 1}),
    ("catalogs", paths.CATALOGS, {"page_size": 1}),
    ("groups", paths.AUDIENCES, {"page_size": 1}),
    ("enrollments", paths.ENROLLMENTS_READ, {"page_size": 1}),
)

# Docebo user levels that may write everything certops writes (superadmin).
_SUPERADMIN_LEVELS = {"3", "godadmin", "superadmin", "super_admin", "/framework/level/godadmin"}


async def run_checks(
    address: LMSAddress,
    *,
    connector: Callable[[LMSAddress], Connection[DoceboReader]] | None = None,
) -> list[Check]:
    """Every check, in order; stops after the first check that makes later ones pointless.

    ``connector`` opens the reader (default: ``certops.lms.connect.connect_reader``, which
    reaches tenants only; the command line passes ``certops.connection``'s)."""
    checks: list[Check] = [Check("address", Outcome.OK, address.display)]
    try:
        connection = (connector or connect_reader)(address)
        reader = await connection.open()
    except LMSCredentialsError as exc:
        checks.append(Check("credentials", Outcome.FAIL, str(exc)))
        return checks
    except LMSError as exc:
        checks.append(Check("connect", Outcome.FAIL, str(exc)))
        return checks
    try:
        creds = reader._http._credentials
        checks.append(Check("credentials", Outcome.OK, f"{creds.grant} grant from {creds.names()}"))
        try:
            await reader._http.token()
        except LMSError as exc:
            checks.append(Check("token", Outcome.FAIL, str(exc)))
            return checks
        checks.append(Check("token", Outcome.OK, f"obtained from {paths.TOKEN}"))
        checks.extend([check async for check in _read_checks(reader)])
        checks.append(await _page_size_check(reader))
        checks.append(await _rule_type_check(reader))
        checks.append(await _level_check(reader))
        checks.extend(await _service_document_checks(reader))
    finally:
        await reader.aclose()
    return checks


async def _read_checks(reader: DoceboReader) -> Any:
    first: dict[str, dict[str, Any]] = {}
    for name, path, params in _READS:
        try:
            page = wire.list_page(await reader._api.get(path, params), f"GET {path}")
        except LMSNotFoundError as exc:
            detail = str(exc)
            if path == paths.AUDIENCES and await _answers(reader, paths.LEGACY_GROUPS):
                detail = (
                    f"this tenant answers only the legacy group API ({paths.LEGACY_GROUPS}), "
                    f"not {paths.AUDIENCES}: certops manages groups as audiences (Docebo's "
                    "groups since the October 2020 rework) and apply will refuse to create or "
                    "change groups here; ask Docebo support to enable the new groups management"
                )
            yield Check(f"read {name} (GET {path})", Outcome.FAIL, detail)
            continue
        except LMSError as exc:
            yield Check(f"read {name} (GET {path})", Outcome.FAIL, str(exc))
            continue
        if page.items:
            first[name] = page.items[0]
        yield Check(f"read {name} (GET {path})", Outcome.OK)
    try:
        if "users" in first:
            wire.user_from_item(first["users"], f"GET {paths.USERS}")
        if "courses" in first:
            course = wire.course_from_item(first["courses"], f"GET {paths.COURSES}")
            await reader.get_course(course.id)
        if "groups" in first:
            group = wire.group_from_item(first["groups"], f"GET {paths.AUDIENCES}")
            await reader.get_group(group.id)
        if "enrollments" in first:
            wire.enrollment_from_item(first["enrollments"], f"GET {paths.ENROLLMENTS_READ}")
    except LMSError as exc:
        yield Check("response shapes", Outcome.FAIL, str(exc))
    else:
        yield Check("response shapes", Outcome.OK, "records parse as certops expects")


async def _page_size_check(reader: DoceboReader) -> Check:
    """Whether the tenant honours a page larger than certops' default: one page of the
    user list asked at ``PROBE_PAGE_SIZE``, and what ``current_page_size`` (or the rows
    themselves) says came back. Reads dominate a plan's calls, so this is the cheapest
    saving a tenant can give."""
    name = f"page size ({paths.PROBE_PAGE_SIZE} asked)"
    asked = paths.PROBE_PAGE_SIZE
    try:
        payload = await reader._api.get(paths.USERS, {"page": 1, "page_size": asked})
        page = wire.list_page(payload, f"GET {paths.USERS}")
    except LMSError as exc:
        return Check(name, Outcome.FAIL, str(exc))
    data = payload.get("data") if isinstance(payload, Mapping) else None
    stated = data.get("current_page_size") if isinstance(data, Mapping) else None
    size = stated if isinstance(stated, int) and not isinstance(stated, bool) else None
    rows = len(page.items)
    now = reader._http.page_size
    if size == asked or rows > paths.DEFAULT_PAGE_SIZE:
        return Check(
            name,
            Outcome.OK,
            f"honoured ({rows} rows came back): set CERTOPS_PAGE_SIZE={asked} (or "
            f"--page-size {asked}) to read with up to {asked // paths.DEFAULT_PAGE_SIZE}x fewer "
            f"calls (now {now})",
        )
    if size is not None and size < asked:
        return Check(
            name,
            Outcome.OK,
            f"clamped to {size}: keep CERTOPS_PAGE_SIZE at or below {size} (now {now})",
        )
    return Check(
        name,
        Outcome.SKIPPED,
        f"cannot tell: the tenant states no current_page_size and has only {rows} users "
        f"(now {now})",
    )


# Automatic groups read in detail to learn the tenant's own rule vocabulary.
_RULE_SAMPLE = 20


async def _rule_type_check(reader: DoceboReader) -> Check:
    """The rule types (and payload keys) of the tenant's own automatic groups, against the
    course-completion rule certops writes, whose name the public record does not give."""
    name = "group rule types"
    ours = f"{wire.COURSE_RULE_TYPE}{{course_ids, status}}"
    try:
        automatic = [g for g in await reader.list_groups() if g.automatic][:_RULE_SAMPLE]
        seen: dict[str, set[str]] = {}
        for group in automatic:
            path = paths.audience_path(group.id)
            data = wire.data_of(await reader._api.get(path), f"GET {path}")
            ruleset = data.get("ruleset") if isinstance(data, Mapping) else None
            sets = ruleset.get("sets") if isinstance(ruleset, Mapping) else None
            for rule_set in sets if isinstance(sets, list) else []:
                rules = rule_set.get("rules") if isinstance(rule_set, Mapping) else None
                for rule in rules if isinstance(rules, list) else []:
                    if isinstance(rule, Mapping):
                        payload = rule.get("payload")
                        keys = set(payload) if isinstance(payload, Mapping) else set()
                        seen.setdefault(str(rule.get("type")), set()).update(keys)
    except LMSError as exc:
        return Check(name, Outcome.FAIL, str(exc))
    if not seen:
        return Check(
            name,
            Outcome.SKIPPED,
            "no automatic group to learn this tenant's rule names from: create one group "
            "'completed course X' in the admin UI and run doctor again",
        )
    shown = "; ".join(f"{t}{{{', '.join(sorted(k))}}}" for t, k in sorted(seen.items()))
    if wire.COURSE_RULE_TYPE in seen:
        return Check(name, Outcome.OK, f"certops' {ours} is in use here ({shown})")
    return Check(
        name,
        Outcome.WARN,
        f"this tenant's automatic groups use {shown}; certops writes {ours}, which the "
        "public record does not confirm (docs/wire.md): apply reads each group back and "
        "stops if the tenant does not keep it",
    )


async def _answers(reader: DoceboReader, path: str) -> bool:
    """Whether ``GET path`` answers at all (used only to explain a missing endpoint)."""
    try:
        await reader._api.get(path, {"page_size": 1})
    except LMSError:
        return False
    return True


async def _level_check(reader: DoceboReader) -> Check:
    name = "write permissions"
    creds = reader._http._credentials
    if creds.grant != "password" or not creds.username:
        return Check(
            name,
            Outcome.WARN,
            "not verifiable with the client_credentials grant (doctor never writes); "
            "apply reports any 403 with the permission it needs",
        )
    try:
        items = await reader._api.converted(
            paths.USERS, wire.user_list_params(creds.username), lambda item: item
        )
    except LMSError as exc:
        return Check(name, Outcome.FAIL, str(exc))
    me = next(
        (i for i in items if str(i.get("username", "")).lower() == creds.username.lower()), None
    )
    if me is None:
        return Check(name, Outcome.WARN, "the API user is not in the user list; cannot tell")
    level = str(me.get("level", "")).strip().lower()
    if level in _SUPERADMIN_LEVELS:
        return Check(name, Outcome.OK, "the API user is a superadmin")
    return Check(
        name,
        Outcome.WARN,
        f"the API user has level {level or 'unknown'} (not superadmin): it needs "
        + "; ".join(sorted(set(paths.PERMISSIONS.values()) - {paths.PERMISSIONS[paths.TOKEN]})),
    )


async def _service_document_checks(reader: DoceboReader) -> list[Check]:
    name = "service documents"
    try:
        payload = await reader._api.get(paths.MICROSERVICES)
    except LMSNotFoundError:
        return [Check(name, Outcome.SKIPPED, "tenant publishes no service documents")]
    except LMSError as exc:
        return [Check(name, Outcome.FAIL, str(exc))]
    try:
        data = wire.data_of(payload, f"GET {paths.MICROSERVICES}")
    except LMSError as exc:
        return [Check(name, Outcome.FAIL, str(exc))]
    apps = data if isinstance(data, list) else []
    if not apps:
        return [Check(name, Outcome.SKIPPED, "tenant publishes no service documents")]
    own_host = reader._http.host
    checks = []
    for service in sorted({use.path.split("/")[1] for use in USED}):
        entry = next(
            (a for a in apps if isinstance(a, dict) and str(a.get("app", "")) == service), None
        )
        label = f"service document: {service}"
        if entry is None or not entry.get("url"):
            checks.append(Check(label, Outcome.WARN, "not published by the tenant"))
            continue
        url = str(entry["url"])
        host = urlsplit(url).hostname
        if host and host != own_host:
            # The token must not travel to another host.
            checks.append(Check(label, Outcome.SKIPPED, f"published on another host ({host})"))
            continue
        try:
            document = await reader._api.get(url)
        except LMSError as exc:
            checks.append(Check(label, Outcome.FAIL, str(exc)))
            continue
        problems = compare_service_document(service, document)
        if problems:
            checks.append(
                Check(
                    label,
                    Outcome.FAIL,
                    f"{len(problems)} mismatch(es) with certops' wire module "
                    "(certops/lms/manifest.py):\n" + "\n".join(f"  - {p}" for p in problems),
                )
            )
        else:
            checks.append(Check(label, Outcome.OK, "every field certops uses is documented"))
    return checks


# --- Swagger 2.0 comparison -------------------------------------------------------------


def _template(path: str) -> str:
    parts = ["{id}" if p.startswith("{") and p.endswith("}") else p for p in path.split("/")]
    return "/".join(parts)


def _resolve(node: Any, document: Mapping[str, Any], seen: frozenset[str]) -> Any:
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref in seen or not ref.startswith("#/"):
            return {}
        seen = seen | {ref}
        target: Any = document
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        node = target
    return node


def _property_names(
    node: Any, document: Mapping[str, Any], seen: frozenset[str] = frozenset()
) -> Iterator[str]:
    """Every property name anywhere in a schema (nested objects, arrays, allOf)."""
    if isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref in seen:
            return
        yield from _property_names(_resolve(node, document, frozenset()), document, seen | {ref})
        return
    if not isinstance(node, Mapping):
        return
    for key, value in (node.get("properties") or {}).items():
        yield key
        yield from _property_names(value, document, seen)
    yield from _property_names(node.get("items"), document, seen)
    for combined in ("allOf", "anyOf", "oneOf"):
        for part in node.get(combined) or []:
            yield from _property_names(part, document, seen)
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping):
        yield from _property_names(extra, document, seen)


def _bare(name: str) -> str:
    return name[:-2] if name.endswith("[]") else name


def _leaf(name: str) -> str:
    """``items[].active_until`` → ``active_until``: Swagger property names are compared
    by their last part (``_property_names`` flattens nested schemas)."""
    return _bare(name.rsplit(".", 1)[-1])


def compare_service_document(service: str, document: Any) -> list[str]:
    """Every field certops uses on ``service`` that its Swagger 2.0 document lacks."""
    if not isinstance(document, Mapping) or not isinstance(document.get("paths"), Mapping):
        return [f"the {service} service document is not a Swagger 2.0 document (no 'paths')"]
    base = str(document.get("basePath") or "").rstrip("/")
    operations: dict[tuple[str, str], tuple[Mapping[str, Any], list[Any]]] = {}
    for raw_path, item in document["paths"].items():
        if not isinstance(item, Mapping):
            continue
        full = _template(base + "/" + str(raw_path).lstrip("/"))
        shared = list(item.get("parameters") or [])
        for method, operation in item.items():
            if method.upper() in ("GET", "POST", "PUT", "PATCH", "DELETE") and isinstance(
                operation, Mapping
            ):
                params = shared + list(operation.get("parameters") or [])
                operations[(method.upper(), full)] = (operation, params)
    problems = []
    for use in USED:
        if use.path.split("/")[1] != service:
            continue
        found = operations.get((use.method, use.path))
        if found is None:
            problems.append(f"{use.method} {use.path}: endpoint not in the document")
            continue
        operation, params = found
        query: set[str] = set()
        body: set[str] = set()
        for param in params:
            param = _resolve(param, document, frozenset())
            if not isinstance(param, Mapping):
                continue
            where = param.get("in")
            if where == "body":
                body.update(_property_names(param.get("schema"), document))
            elif where == "formData":
                body.add(_bare(str(param.get("name", ""))))
            elif where == "query":
                query.add(_bare(str(param.get("name", ""))))
        responses = operation.get("responses") or {}
        ok = responses.get("200") or responses.get(200) or {}
        response = set(_property_names(_resolve(ok, document, frozenset()).get("schema"), document))
        for name in use.params:
            if _leaf(name) not in query:
                problems.append(f"{use.method} {use.path}: query parameter '{name}' not documented")
        for name in use.body:
            if _leaf(name) not in body:
                problems.append(f"{use.method} {use.path}: body field '{name}' not documented")
        for name in use.response:
            if _leaf(name) not in response:
                problems.append(f"{use.method} {use.path}: response field '{name}' not documented")
    return problems
