"""The worked reward cases of `../shared/cases/hunan-2022-rewards.yaml`, for every test that plays
them (through the Ledger in `tests/integration`, through HTTP in `tests/e2e`).

The file is read at run time, so a case added to it is picked up without touching code. The shared
folder is found through `ZHAOSHANG_SHARED_DIR`, else as a `shared/cases` folder beside one of this
file's parent folders (the repository root's parent holds `shared/`), else the copy kept in
`tests/cases/` (so a fresh clone runs them instead of skipping).

A player records a case's history its own way; what the figures and the audit must then show is
checked here, on the answer bodies (`GET /rewards/{year}`, `GET /settlements/…/audit`), so every
player is held to the same expectations.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

CASES_FILE = Path("cases") / "hunan-2022-rewards.yaml"
BUNDLED_DIR = Path(__file__).resolve().parent  # tests/, holding the copy in tests/cases/
DEFAULT_CLOCK = datetime(2025, 6, 30, 2, 0, tzinfo=UTC)  # after every case date

# What a case may say about a project and an arrival; anything else fails the test loudly, so a
# new kind of case is never silently half-played.
PROJECT_KEYS = {
    "key",
    "industry",
    "project_type",
    "referrals",
    "signed_on",
    "attested_on",
    "arrivals",
    "referred_on",
    "origin",
    "city",
    "designations",
    "planned_investment",
    "attestations",
}
ARRIVAL_KEYS = {"date", "amount", "currency", "rate_to_cny", "id", "source"}


def shared_dir() -> Path | None:
    """The first folder holding the cases file: `ZHAOSHANG_SHARED_DIR`, a `shared/` folder
    beside a parent of this file, else the copy kept in the repository (`tests/cases/`), so a
    fresh clone plays the cases too and never reports them skipped."""
    candidates: list[Path] = []
    configured = os.environ.get("ZHAOSHANG_SHARED_DIR")
    if configured:
        candidates.append(Path(configured))
    candidates.extend(parent / "shared" for parent in Path(__file__).resolve().parents)
    candidates.append(BUNDLED_DIR)
    for candidate in candidates:
        if (candidate / CASES_FILE).is_file():
            return candidate
    return None


def _load() -> tuple[str, list[dict[str, Any]]] | None:
    folder = shared_dir()
    if folder is None or not (folder / CASES_FILE).is_file():
        return None
    data = yaml.safe_load((folder / CASES_FILE).read_text(encoding="utf-8"))
    return str(data["policy"]), list(data["cases"])


LOADED = _load()
POLICY_ID = LOADED[0] if LOADED else ""
CASES = LOADED[1] if LOADED else []


def case_params() -> dict[str, Any]:
    """`pytest.mark.parametrize("case", **case_params())`: one test per case, named by it."""
    if not CASES:
        return {"argvalues": [None], "ids": ["cases-file-missing"]}
    return {"argvalues": CASES, "ids": [str(c["name"]) for c in CASES]}


def missing() -> None:
    message = f"{CASES_FILE} not found (set ZHAOSHANG_SHARED_DIR to the shared folder)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def dates(value: Any) -> Iterator[date]:
    if isinstance(value, date):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from dates(item)
    elif isinstance(value, list):
        for item in value:
            yield from dates(item)


def case_clock(case: dict[str, Any]) -> datetime:
    """A clock reading after every date the case names (so nothing is in the future)."""
    latest = max(dates(case), default=DEFAULT_CLOCK.date())
    return max(
        DEFAULT_CLOCK, datetime.combine(latest + timedelta(days=1), datetime.min.time(), UTC)
    )


def check_unknown(what: str, given: Mapping[str, Any], known: set[str]) -> None:
    unknown = set(given) - known
    if unknown:
        pytest.fail(f"the case's {what} uses {sorted(unknown)}, which this test does not play yet")


def expected_by_year(expect: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    by_year: dict[int, list[dict[str, Any]]] = {}
    for entry in expect:
        by_year.setdefault(int(entry["year"]), []).append(entry)
    return by_year


def check_figures(
    body: dict[str, Any],
    year: int,
    entries: list[dict[str, Any]],
    association_keys: Mapping[str, str],
    project_keys: Mapping[str, str],
) -> None:
    """A `GET /rewards/{year}` body against the case's `expect` entries of that year.

    `association_keys` and `project_keys` map the ids the player got back to the case's keys.
    """
    assert set(body) == {"year", "policy", "associations"}
    assert body["year"] == year and body["policy"] == POLICY_ID
    listed = {association_keys[a["association_id"]]: a for a in body["associations"]}
    assert set(listed) == {e["association"] for e in entries}, f"associations listed in {year}"
    ids = [a["association_id"] for a in body["associations"]]
    assert ids == sorted(ids), "associations are sorted by id"
    for entry in entries:
        got = listed[entry["association"]]
        where = f"{year} {entry['association']}"
        assert got["total"] == entry["total"], where
        assert got["capped"] is entry["capped"], where
        if "uncapped_total" in entry:
            assert got["uncapped_total"] == entry["uncapped_total"], where
        rows = {project_keys[r["project_id"]]: r for r in got["projects"]}
        assert set(rows) == {p["project"] for p in entry["projects"]}, where
        row_ids = [r["project_id"] for r in got["projects"]]
        assert row_ids == sorted(row_ids), "rows are sorted by project id"
        for expected in entry["projects"]:
            row = rows[expected["project"]]
            for key in ("funds_in_year", "status", "reward"):
                assert row[key] == expected[key], f"{where} {expected['project']} {key}"
            if expected.get("project_reward") is not None:
                assert row["project_reward"] == expected["project_reward"]
            assert row["explanation"], "every row is explained"


def check_audit(
    audit: dict[str, Any],
    settled_year: int,
    expected: list[dict[str, Any]],
    associations: Mapping[str, str],
    project_keys: Mapping[str, str],
) -> None:
    """A `GET /settlements/{policy}/{year}/audit` body against the case's `expect_settlement`.

    `associations` maps the case's association keys to ids, `project_keys` ids to keys.
    """
    names = {v: k for k, v in associations.items()}
    differences = {d["association_id"]: d for d in audit["differences"]}
    nonzero = {names[a] for a, d in differences.items() if d["difference"] != "0.00"}
    assert nonzero == {e["association"] for e in expected if e["difference"] != "0.00"}
    for entry in expected:
        assert int(entry["year"]) == settled_year
        got = differences[associations[entry["association"]]]
        for key in ("settled_total", "recomputed_total", "difference"):
            assert got[key] == entry[key], key
        for cause in got["caused_by"]:
            assert set(cause) == {"project_id", "version", "type"}
            assert isinstance(cause["version"], int) and cause["version"] > 0
        causes = {(project_keys[c["project_id"]], c["type"]) for c in got["caused_by"]}
        for cause in entry["caused_by"]:
            assert (cause["project"], cause["type"]) in causes
