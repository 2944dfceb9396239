"""``certops report`` on the README's demo: every learner × product, the rollover figures,
the expiring list against the dataset, the JSON document and the filters."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from certops.report.rows import COLUMNS
from certops.sandbox.demo import demo_dataset
from tests.report.conftest import EXAMPLES, Demo

PRODUCTS = ("gadget-max", "sprocket", "widget-pro")  # config order: by file name
CODES = {"widget-pro": "WP", "gadget-max": "GM", "sprocket": "SP"}


def csv_rows(demo: Demo, *args: str) -> list[dict[str, str]]:
    ran = demo.run("report", demo.examples, "--format", "csv", *args)
    assert ran.code == 0, ran.output
    reader = csv.DictReader(io.StringIO(ran.stdout))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


def test_the_rollover_report_lists_everyone_and_agrees_with_the_rollover_plan(demo: Demo) -> None:
    rows = csv_rows(demo, "--at", "2027-01-02")
    # Every learner of the LMS (the demo's users and the sandbox's admin account), once per
    # product, in config order.
    usernames = {u["username"] for u in demo_dataset()["users"]} | {"admin"}
    assert len(rows) == len(usernames) * len(PRODUCTS)
    for product in PRODUCTS:
        assert {r["username"] for r in rows if r["product"] == product} == usernames
    assert [r["product"] for r in rows] == sorted((r["product"] for r in rows), key=PRODUCTS.index)

    counts = Counter((r["product"], r["state"]) for r in rows)
    assert {
        p: {s: counts[(p, s)] for s in ("certified", "suspended", "revoked")} for p in PRODUCTS
    } == {
        "widget-pro": {"certified": 94, "suspended": 43, "revoked": 0},
        "gadget-max": {"certified": 39, "suspended": 9, "revoked": 1},
        "sprocket": {"certified": 30, "suspended": 6, "revoked": 0},
    }
    # The rollover's figures (README): who lapsed at the 2026 deadline, of the active
    # learners certified just before it. Widget Pro's other 23 suspended lapsed in 2025.
    lapsed = {p: {r["username"] for r in rows if r["product"] == p and r["lapsed_at"] ==
                  "2027-01-01T00:00:00Z"} for p in PRODUCTS}  # fmt: skip
    before = {
        p: sum(
            1
            for r in rows
            if r["product"] == p
            and r["active"] == "true"
            and (r["state"] == "certified" or r["username"] in lapsed[p])
        )
        for p in PRODUCTS
    }
    figures = {p: (len(lapsed[p]), before[p]) for p in PRODUCTS}
    assert figures == {"widget-pro": (20, 114), "gadget-max": (9, 47), "sprocket": (6, 36)}

    # The plan at the same instant suspends exactly these learners.
    planned = demo.run("plan", demo.examples, "--format", "json", "--at", "2027-01-02")
    assert planned.code == 0, planned.output
    for product, code in CODES.items():
        prefix = f"enrollment.CERT-{code}."
        suspended = {
            c["address"][len(prefix) :]
            for c in planned.json()["changes"]
            if c["address"].startswith(prefix) and c["action"] == "update"
        }
        assert suspended == lapsed[product], product
        for row in rows:
            if row["product"] == product and row["username"] in suspended:
                assert row["state"] == "suspended" and row["lapsed_period"] == "2026"
                assert row["since"] == "2027-01-01T00:00:00Z"


def _instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def expected_expiring(at: datetime, days: int) -> set[tuple[str, str]]:
    """Certified learners who owe 2026 and have not completed it by ``at``, with a due day
    within ``days`` of it, from the demo dataset and the examples' YAML (not the engine).

    The demo enrolls everyone who owes 2026 under the examples' rules in its 2026 course
    (certops' first apply added none); the examples revoke bcole in Gadget Max on
    2026-06-01 and extend jdoe's 2026 there to 2027-01-31."""
    data = demo_dataset()
    horizon = at.date() + timedelta(days=days)
    found = set()
    for file in sorted(EXAMPLES.glob("*.yaml")):
        for product in yaml.safe_load(file.read_text(encoding="utf-8"))["products"]:
            period = next(p for p in product["maintenance"]["periods"] if p["id"] == "2026")
            course, due = period["course"]["code"], period["due"]
            revoked = {r["user"] for r in product.get("revocations", []) if _instant(r["at"]) <= at}
            until = {e["user"]: e["until"] for e in product.get("extensions", [])
                     if e["period"] == "2026"}  # fmt: skip
            for row in data["enrollments"]:
                if row["course"] != course or row["user"] in revoked:
                    continue
                if "completed_at" in row and _instant(row["completed_at"]) <= at:
                    continue
                if until.get(row["user"], due) <= horizon:
                    found.add((product["id"], row["user"]))
    return found


def test_expiring_within_30_days_lists_who_owes_2026_and_has_not_completed_it(
    demo: Demo,
) -> None:
    at = datetime(2026, 12, 5, tzinfo=UTC)
    rows = csv_rows(demo, "--expiring-within", "30", "--at", "2026-12-05")
    expected = expected_expiring(at, 30)
    assert len(expected) > 20  # the demo's ~17% who have not completed, in three products
    assert {(r["product"], r["username"]) for r in rows} == expected
    for row in rows:
        assert row["state"] == "certified" and row["owes"] == "2026"
        assert (row["deadline"], row["days_left"]) == ("2026-12-31", "26")
        assert row["maintenance"] in ("in_progress", "not_started")
    # jdoe's extended Gadget Max deadline is 57 days away: in the list from 60 days on.
    wider = csv_rows(
        demo, "--expiring-within", "60", "--at", "2026-12-05", "--product", "gadget-max"
    )
    jdoe = [r for r in wider if r["username"] == "jdoe"]
    assert [(r["deadline"], r["days_left"], r["extension_reason"]) for r in jdoe] == [
        ("2027-01-31", "57", "parental leave")
    ]
    assert {("gadget-max", r["username"]) for r in wider} == expected_expiring(at, 60) & {
        ("gadget-max", r["username"]) for r in wider
    }


def test_the_json_document_is_versioned_and_matches_the_csv(demo: Demo) -> None:
    ran = demo.run("report", demo.examples, "--format", "json", "--at", "2027-01-02")
    assert ran.code == 0, ran.output
    doc = json.loads(ran.stdout)
    assert doc["format_version"] == 1
    assert doc["at"] == "2027-01-02T00:00:00Z"
    assert doc["lms"] == f"sandbox:{demo.db}"
    assert [p["id"] for p in doc["products"]] == list(PRODUCTS)
    assert doc["filters"] == {"products": [], "states": [], "expiring_within": None, "users": []}
    assert doc["count"] == len(doc["rows"]) > 600
    assert all(tuple(row) == COLUMNS for row in doc["rows"])
    # The same rows as the CSV, with JSON types (null, true/false, numbers).
    as_csv = csv_rows(demo, "--at", "2027-01-02")
    for row, line in zip(doc["rows"], as_csv, strict=True):
        assert {k: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in row.items()} == line  # fmt: skip
    jdoe = next(r for r in doc["rows"] if r["username"] == "jdoe" and r["product"] == "gadget-max")
    assert jdoe["days_left"] == 29 and jdoe["active"] is True
    assert jdoe["deadline_at"] == "2027-02-01T00:00:00Z" and jdoe["deadline"] == "2027-01-31"
    bcole = next(
        r for r in doc["rows"] if r["username"] == "bcole" and r["product"] == "gadget-max"
    )
    assert (bcole["state"], bcole["last_change"], bcole["last_change_reason"]) == (
        "revoked",
        "revoked",
        "revoked: misconduct",
    )


def test_an_empty_json_report_is_still_a_document(demo: Demo) -> None:
    ran = demo.run(
        "report", demo.examples, "--format", "json", "--user", "nobody-at-all", "--at", "2027-01-02"
    )
    assert ran.code == 0, ran.output
    doc = json.loads(ran.stdout)
    assert (doc["rows"], doc["count"], doc["filters"]["users"]) == ([], 0, ["nobody-at-all"])


def test_filters_combine(demo: Demo) -> None:
    at = ("--at", "2027-01-02")
    gm_suspended = csv_rows(demo, *at, "--product", "gadget-max", "--state", "suspended")
    assert len(gm_suspended) == 9
    assert {(r["product"], r["state"]) for r in gm_suspended} == {("gadget-max", "suspended")}
    two = csv_rows(demo, *at, "--user", "jdoe", "--user", "ASMITH@example.com")
    assert sorted((r["username"], r["product"]) for r in two) == sorted(
        (u, p) for u in ("jdoe", "asmith") for p in PRODUCTS
    )
    several = csv_rows(demo, *at, "--state", "revoked", "--state", "suspended")
    assert Counter(r["state"] for r in several) == {"suspended": 58, "revoked": 1}
    assert csv_rows(demo, *at, "--state", "needs_review") == []
    # Owes a period due within 0 days: due on the report's own day (none on 2027-01-02).
    assert csv_rows(demo, *at, "--expiring-within", "0") == []
    last_day = csv_rows(demo, "--at", "2026-12-31T23:59:59Z", "--expiring-within", "0")
    assert last_day and {r["days_left"] for r in last_day} == {"0"}


def test_bad_filters_are_clear_errors_before_any_read(demo: Demo) -> None:
    ran = demo.run("report", demo.examples, "--product", "nope")
    assert ran.code == 1
    assert "unknown product nope (configured: gadget-max, sprocket, widget-pro)" in ran.stderr
    ran = demo.run("report", demo.examples, "--state", "lapsed")
    assert ran.code == 1 and "'lapsed' is not one of" in ran.stderr
    ran = demo.run("report", demo.examples, "--expiring-within", "-1")
    assert ran.code == 1 and "--expiring-within" in ran.stderr
    ran = demo.run("report", demo.examples, "--format", "html", "--state", "certified")
    assert ran.code == 1 and "--state and --user" in ran.stderr


def test_the_table_and_the_out_file(demo: Demo, tmp_path: Any) -> None:
    ran = demo.run(
        "report", demo.examples, "--format", "table", "--at", "2027-01-02", "--user", "jdoe"
    )
    assert ran.code == 0, ran.output
    assert "Certification status at 2027-01-02T00:00:00Z" in ran.stdout
    lines = [line for line in ran.stdout.splitlines() if "jdoe" in line]
    assert len(lines) == 3 and any("parental leave" in line for line in lines)
    out = tmp_path / "nested" / "report.csv"
    ran = demo.run("report", demo.examples, "--at", "2027-01-02", "--out", str(out))
    assert ran.code == 0, ran.output
    assert ran.stdout == "" and f"report saved to {out}" in ran.stderr
    assert out.read_text(encoding="utf-8").splitlines()[0] == ",".join(COLUMNS)
    assert not list(out.parent.glob("*.partial"))


def test_json_lines_are_the_json_documents_rows(demo: Demo) -> None:
    ran = demo.run("report", demo.examples, "--format", "jsonl", "--at", "2027-01-02")
    assert ran.code == 0, ran.output
    lines = [json.loads(line) for line in ran.stdout.splitlines()]
    doc = json.loads(
        demo.run("report", demo.examples, "--format", "json", "--at", "2027-01-02").stdout
    )
    assert lines == doc["rows"] and len(lines) > 600
