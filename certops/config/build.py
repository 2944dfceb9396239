"""Building the typed model from configuration data that passed every check.

Only ``load_config`` calls this, after the schema and semantic checks found nothing, so the
shapes are known; defaults here mirror the schema's ``default`` values.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from certops.config.model import (
    USER_LISTS,
    Catalog,
    CertifiedCourse,
    Config,
    CourseSpec,
    Digest,
    Every,
    Extension,
    InitialPath,
    LateCompletion,
    Maintenance,
    NamedRef,
    Notifications,
    Period,
    PeriodExtension,
    Product,
    Reference,
    RefKind,
    Reinstatement,
    Revocation,
    Rung,
    Safety,
    Settings,
)
from certops.config.problems import format_path
from certops.config.schema import parse_date, parse_instant
from certops.config.yamlpos import PosDict, PosList, locate


def build_config(roots: Sequence[PosDict], files: Sequence[str]) -> Config:
    """Returns the ``Config`` of valid file data: products in file order, the one settings."""
    products = tuple(
        build_product(product) for root in roots for product in root.get("products") or ()
    )
    settings_data = next((root["settings"] for root in roots if "settings" in root), None)
    settings = build_settings(settings_data) if settings_data is not None else Settings()
    return Config(
        products=products,
        settings=settings,
        files=tuple(files),
        references=tuple(ref for root in roots for ref in _references(root)),
    )


def build_product(data: PosDict) -> Product:
    """Returns the ``Product`` of one valid product mapping."""
    maintenance = data["maintenance"]
    notifications = data.get("notifications") or {}
    return Product(
        id=data["id"],
        name=data["name"],
        group=_ref(data["group"]),
        initial_paths=tuple(
            InitialPath(name=p["name"], all_of=tuple(p["all_of"])) for p in data["initial_paths"]
        ),
        certified_course=CertifiedCourse(
            code=data["certified_course"]["code"],
            name=data["certified_course"]["name"],
            description=data["certified_course"].get("description", ""),
            salesforce_sync=data["certified_course"].get("salesforce_sync", False),
        ),
        maintenance=Maintenance(
            periods=tuple(
                Period(
                    id=p["id"],
                    course=_course(p["course"]),
                    opens=parse_date(p["opens"]),
                    due=parse_date(p["due"]),
                    extension=PeriodExtension(
                        until=parse_date(p["extension"]["until"]),
                        reason=p["extension"]["reason"],
                    )
                    if "extension" in p
                    else None,
                )
                for p in maintenance["periods"]
            ),
            new_learner_grace_days=int(maintenance.get("new_learner_grace_days", 0)),
            late_completion=LateCompletion(maintenance.get("late_completion", "manual")),
        ),
        enrollment_rule=_ref(data["enrollment_rule"]) if "enrollment_rule" in data else None,
        notifications=Notifications(
            learner_enrolled=_optional_ref(notifications, "learner_enrolled"),
            admin_certified=_optional_ref(notifications, "admin_certified"),
            digest=_digest(notifications["digest"]) if "digest" in notifications else None,
        ),
        extensions=tuple(
            Extension(
                user=e["user"],
                period=e["period"],
                until=parse_date(e["until"]),
                reason=e["reason"],
            )
            for e in data.get("extensions") or ()
        ),
        reinstatements=tuple(
            Reinstatement(user=r["user"], at=parse_instant(r["at"]), reason=r["reason"])
            for r in data.get("reinstatements") or ()
        ),
        revocations=tuple(
            Revocation(user=r["user"], at=parse_instant(r["at"]), reason=r["reason"])
            for r in data.get("revocations") or ()
        ),
        location=data.loc,
    )


def build_settings(data: dict[str, Any]) -> Settings:
    """Returns the ``Settings`` of a valid settings mapping."""
    catalog = data.get("salesforce_catalog")
    safety = data.get("safety") or {}
    defaults = Settings()
    return Settings(
        salesforce_catalog=Catalog(code=catalog["code"], name=catalog["name"]) if catalog else None,
        safety=Safety(
            # YAML may say 0 or 1 for the fraction; the model's field is a float.
            max_suspend_fraction=float(safety.get("max_suspend_fraction", 0.25)),
            min_population=int(safety.get("min_population", 20)),
            max_reverted_manual=int(safety.get("max_reverted_manual", 0)),
            max_reverted_drift=int(safety.get("max_reverted_drift", 0)),
        ),
        digest_ladder=_ladder(data["digest_ladder"])
        if "digest_ladder" in data
        else defaults.digest_ladder,
        deadline_warning_days=tuple(
            int(d) for d in data.get("deadline_warning_days", defaults.deadline_warning_days)
        ),
        min_period_days=int(data.get("min_period_days", defaults.min_period_days)),
    )


def _ladder(data: list[dict[str, Any]]) -> tuple[Rung, ...]:
    return tuple(Rung(from_days=int(r["from_days"]), every=Every(r["every"])) for r in data)


def _digest(data: dict[str, Any]) -> Digest:
    return Digest(name=data["name"], ladder=_ladder(data["ladder"]) if "ladder" in data else None)


def _course(data: dict[str, Any]) -> CourseSpec:
    return CourseSpec(code=data["code"], name=data["name"], description=data.get("description", ""))


def _ref(data: dict[str, Any]) -> NamedRef:
    return NamedRef(name=data["name"])


def _optional_ref(data: dict[str, Any], key: str) -> NamedRef | None:
    return _ref(data[key]) if key in data else None


def _references(root: PosDict) -> Iterator[Reference]:
    """Every user and initial course one file's products name, located."""
    products = root.get("products")
    if not isinstance(products, PosList):
        return
    for i, product in enumerate(products):
        pid = product.get("id") if isinstance(product, PosDict) else None
        if not isinstance(pid, str):
            continue
        for key, kind in USER_LISTS.items():
            for j, entry in enumerate(product.get(key) or ()):
                user = entry.get("user") if isinstance(entry, PosDict) else None
                if isinstance(user, str):
                    path: list[str | int] = ["products", i, key, j, "user"]
                    yield Reference(kind, user, pid, locate(root, path), format_path(path))
        for j, initial in enumerate(product.get("initial_paths") or ()):
            if not isinstance(initial, PosDict):
                continue
            for k, code in enumerate(initial.get("all_of") or ()):
                if isinstance(code, str):
                    path = ["products", i, "initial_paths", j, "all_of", k]
                    yield Reference(
                        RefKind.INITIAL_COURSE,
                        code,
                        pid,
                        locate(root, path),
                        format_path(path),
                        detail=str(initial.get("name", "")),
                    )
