"""The first view after the read models move (issue 23): what a member of staff waits for when
events arrive all day, against the view asked again at the same position.

    python -m bench.first_view URL [--rounds 3] [--year 2024] [--evaluation-year 2025]
                                   [--views api_rewards_page,...] [--profile FILE]

Each round records one funds arrival (dated in `--year`, on an active signed project chosen at
random) through the application, lets the projection runner apply it, then asks the view once
(`first`, timed) and three times more (`later`). Requests go through the whole ASGI app in
process (`TestClient`), as `bench.pages` does; wall and CPU time (`time.process_time`) are both
given, since the machine is shared. `--profile` first writes cProfiles of the service calls
behind the rewards page and the evaluation page, each asked once, then profiled as the first
after a move, to FILE.rewards and FILE.evaluation (`python -m pstats FILE.rewards`).

Only the public API, the pages and the application's commands are used, so the same file runs
against an older tree (`PYTHONPATH=that/tree python bench/first_view.py …`).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import random
import statistics
import time
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from services.settings import Settings

NOW = datetime(2026, 1, 20, 2, 0, tzinfo=UTC)
LATER = 3


def views(year: int, evaluation_year: int) -> dict[str, str]:
    return {
        "api_rewards_page": f"/rewards/{year}?page=1&size=50",
        "api_rewards_page_zh_no_explain": f"/rewards/{year}?page=2&size=50&explain=false&lang=zh",
        "api_rewards_whole": f"/rewards/{year}",
        "page_rewards": f"/app/rewards/{year}?page=1",
        "page_evaluation": f"/app/evaluations/{evaluation_year}",
    }


def measure(
    url: str,
    rounds: int,
    year: int,
    evaluation_year: int,
    only: set[str] | None = None,
    profile: str | None = None,
) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from api.app import create_app
    from domain.events import Actor
    from projections.queries import ReadModels

    app = create_app(Settings(database_url=url, background_services=False), clock=lambda: NOW)
    services = app.state.services
    runner = services.runner
    runner.run_once()
    ledger = services.ledger
    read = ReadModels(services.engine)
    cutoff = date(year, 6, 1).isoformat()
    candidates: list[str] = []
    for page in range(1, 60):  # the newest first: signed ones lie further on
        items = read.ledger_page(status="active", size=500, page=page).items
        candidates += [
            r["project_id"] for r in items if r["signed_on"] and str(r["signed_on"]) < cutoff
        ]
        if len(candidates) >= 200 or not items:
            break
    rng = random.Random(23)
    officer = Actor("bench-first-view", "officer")

    def move() -> None:
        """One new event, applied by the runner: the read models move."""
        for _ in range(20):
            project_id = rng.choice(candidates)
            try:
                ledger.record_funds_arrival(
                    ledger.context(officer),
                    project_id,
                    occurred_on=date(year, 6, 1 + rng.randrange(28)).isoformat(),
                    amount=f"{rng.randrange(100_000, 90_000_000)}.00",
                    currency="CNY",
                )
                break
            except Exception:  # a project the arrival does not fit: another one
                continue
        runner.run_once()

    chosen = {k: v for k, v in views(year, evaluation_year).items() if only is None or k in only}
    figures: dict[str, Any] = {"load_average_before": os.getloadavg()[0]}
    with TestClient(app) as client:
        _, token = services.accounts.create(f"bench-first-view-{os.getpid()}", "admin")
        runner.run_once()
        client.headers["Authorization"] = f"Bearer {token}"
        if profile:
            # The service calls behind the views, in this thread (cProfile sees one thread;
            # the app answers in others): the rewards page, then the evaluation.
            from projections.rewards import RewardQuery

            query = RewardQuery(page=1, size=50)
            calls: list[tuple[str, Callable[[], Any]]] = [
                ("rewards", lambda: services.settlements.figures("hunan-2022", year, query)),
                ("evaluation", lambda: services.evaluations.evaluation(evaluation_year)),
            ]
            for suffix, call in calls:
                call()  # kept from here on, as in a serving process
                move()
                profiler = cProfile.Profile()
                profiler.runcall(call)
                profiler.dump_stats(f"{profile}.{suffix}")
        for name, path in chosen.items():
            client.get(path)  # warmed: templates, the policy, caches of other years
            first_wall, first_cpu, later_wall, later_cpu = [], [], [], []
            for _ in range(rounds):
                move()
                wall, cpu = time.perf_counter(), time.process_time()
                answer = client.get(path)
                first_wall.append((time.perf_counter() - wall) * 1000)
                first_cpu.append((time.process_time() - cpu) * 1000)
                assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
                for _ in range(LATER):
                    wall, cpu = time.perf_counter(), time.process_time()
                    answer = client.get(path)
                    later_wall.append((time.perf_counter() - wall) * 1000)
                    later_cpu.append((time.process_time() - cpu) * 1000)
                    assert answer.status_code == 200
            figures[name] = {
                "path": path,
                "first_median_ms": statistics.median(first_wall),
                "first_max_ms": max(first_wall),
                "first_cpu_median_ms": statistics.median(first_cpu),
                "later_median_ms": statistics.median(later_wall),
                "later_cpu_median_ms": statistics.median(later_cpu),
                "bytes": len(answer.content),
                "rounds": rounds,
            }
            print(name, json.dumps(figures[name]), flush=True)
    figures["load_average_after"] = os.getloadavg()[0]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--evaluation-year", type=int, default=2025)
    parser.add_argument("--views", default="", help="comma-separated names (default: all)")
    parser.add_argument("--profile", default="")
    args = parser.parse_args(argv)
    only = {v.strip() for v in args.views.split(",") if v.strip()} or None
    figures = measure(
        args.url, args.rounds, args.year, args.evaluation_year, only, args.profile or None
    )
    print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
