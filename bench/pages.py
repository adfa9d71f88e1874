"""Every web page's server time at the bench's scale (DESIGN §10: p95 ≤ 100 ms at province
scale), measured in process through the ASGI app (`TestClient`: the routing, middleware,
session check, queries and template rendering, without a socket), one key `page_<name>` each
with `p95_ms`, beside `search` (`GET /projects?q=` over HTTP in process, `p95_ms`).

    python -m bench.pages URL [--samples 40] [--pages start,dispatch,…]

`--pages` measures only the pages named (and `search` only when named), for a before/after
pair on a province without measuring everything each time.

A page the app does not serve (yet) is listed under `pages_skipped` instead of failing the run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
import warnings
from datetime import UTC, datetime
from typing import Any

from services.settings import Settings

NOW = datetime(2026, 1, 20, 2, 0, tzinfo=UTC)

# name → path; `{project}`, `{association}`, `{quarter}`, `{q}` filled from the database.
PAGES = {
    "start": "/app/",
    "project": "/app/projects/{project}",
    "history": "/app/projects/{project}/history",
    "project_verify": "/app/projects/{project}/verify",
    "dispatches": "/app/dispatches",
    "dispatch": "/app/dispatches/{quarter}",
    "search": "/app/search?q={q}",
    "settlements": "/app/settlements",
    "checkpoints": "/app/checkpoints",
    "associations": "/app/associations",
    "association": "/app/associations/{association}",
    "rewards": "/app/rewards/2024?page=1",
    "new_project": "/app/projects/new",
    # The closed evaluation year before NOW, not frozen here (no scheduler): computed live.
    "evaluation": "/app/evaluations/2025",
    "service_contract": "/app/service-contracts/2025",
    "accounts": "/app/accounts",
}
# Pages measured for another role than admin: name → (role, path).
ROLE_PAGES = {"start_staff": ("staff", "/app/")}
QUARTER = "2024Q4"


def _p(times: list[float], p: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure_pages(
    url: str, samples: int = 40, only: set[str] | None = None
) -> dict[str, dict[str, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from api.app import create_app
    from projections.dispatch import build_dispatch
    from projections.queries import ReadModels

    app = create_app(Settings(database_url=url, background_services=False), clock=lambda: NOW)
    services = app.state.services
    services.runner.run_once()
    read = ReadModels(services.engine)
    if services.documents.latest("dispatch", QUARTER) is None:
        services.documents.create(
            kind="dispatch",
            period=QUARTER,
            revision=0,
            content=build_dispatch(read, QUARTER),
            position=min(services.runner.positions().values()),
            generated_by="bench",
            now=NOW,
        )
    rng = random.Random(23)
    projects = [r["project_id"] for r in read.ledger_page(status="active", size=200).items]
    associations = [a["association_id"] for a in read.associations()]
    names = [r["name"] for r in read.ledger_page(size=200).items]
    figures: dict[str, dict[str, Any]] = {}
    skipped = []
    with TestClient(app) as client:
        tokens = {
            role: services.accounts.create(f"bench-pages-{role}-{os.getpid()}", role)[1]
            for role in ("admin", *{role for role, _ in ROLE_PAGES.values()})
        }
        # The accounts are events too: the pages that wait for the read models (rewards) would
        # wait for a runner this run does not start.
        services.runner.run_once()
        client.headers["Authorization"] = f"Bearer {tokens['admin']}"
        every = {name: ("admin", path) for name, path in PAGES.items()} | ROLE_PAGES
        if only is not None:
            every = {name: page for name, page in every.items() if name in only}
        for name, (role, template) in every.items():
            client.headers["Authorization"] = f"Bearer {tokens[role]}"
            times: list[float] = []
            status = 200
            for i in range(samples):
                path = template.format(
                    project=rng.choice(projects),
                    association=rng.choice(associations),
                    quarter=QUARTER,
                    q=rng.choice(names)[: 2 + i % 3],
                )
                started = time.perf_counter()
                answer = client.get(path, follow_redirects=False)
                elapsed = (time.perf_counter() - started) * 1000
                status = answer.status_code
                if status != 200:
                    break
                times.append(elapsed)
                if i == 0 and elapsed > 5_000:  # a page this slow: three samples say enough
                    times.extend(_again(client, path, 2))
                    break
            if status != 200:
                skipped.append(f"{name} ({status})")
                continue
            figures[f"page_{name}"] = {
                "path": template,
                "role": role,
                "samples": len(times),
                "median_ms": _p(times, 50),
                "p95_ms": _p(times, 95),
                "max_ms": max(times),
            }
        client.headers["Authorization"] = f"Bearer {tokens['admin']}"
        if only is None or "search" in only:
            figures["search"] = _search(client, names, rng)
    figures["pages_skipped"] = {"pages": ", ".join(skipped) or "none", "count": len(skipped)}
    return figures


def _again(client: Any, path: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        client.get(path, follow_redirects=False)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _search(
    client: Any, names: list[str], rng: random.Random, queries: int = 200
) -> dict[str, Any]:
    """`GET /projects?q=` through the whole HTTP app in process: one to four characters of a
    recorded name, and its pinyin initials."""
    from projections.search import pinyin_of

    times = []
    for i in range(queries):
        name = rng.choice(names)
        q = pinyin_of(name[:4])[1] if i % 5 == 4 else name[: 1 + i % 4]
        started = time.perf_counter()
        answer = client.get("/projects", params={"q": q, "size": 50})
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text
    return {
        "queries": queries,
        "median_ms": _p(times, 50),
        "p95_ms": _p(times, 95),
        "max_ms": max(times),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--pages", default="", help="comma-separated names (default: all)")
    args = parser.parse_args(argv)
    only = {name.strip() for name in args.pages.split(",") if name.strip()} or None
    print(json.dumps(measure_pages(args.url, args.samples, only), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
