"""The load generator: a separate process driving the API over loopback with an async httpx
client (`python -m bench.load BASE_URL TOKEN SCENARIO SECONDS CONCURRENCY IDS_FILE`).

Bounded in time and count, and stopped early by SIGINT (as wrk is); it prints throughput,
percentiles and the slowest request as JSON on its last line.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import time
from typing import Any

import httpx

MAX_REQUESTS = 200_000


def _request(scenario: str, ids: list[str], rng: random.Random) -> tuple[str, str, Any]:
    project = rng.choice(ids)
    if scenario == "writes":
        body = {
            "occurred_on": "2025-12-31",
            "amount": f"{rng.randrange(100, 10_000_000)}.00",
            "currency": "CNY",
        }
        return "POST", f"/projects/{project}/funds", body
    if scenario == "project":
        return "GET", f"/projects/{project}", None
    if scenario == "history":
        return "GET", f"/projects/{project}/history", None
    if scenario == "rewards":
        return "GET", "/rewards/2023", None
    if scenario == "rewards_page":
        # A page of 50 associations among those registered (ZS_REWARD_PAGES pages of them).
        pages = int(os.environ.get("ZS_REWARD_PAGES", "1"))
        return "GET", f"/rewards/2023?page={rng.randrange(1, pages + 1)}&size=50", None
    raise SystemExit(f"unknown scenario {scenario}")


async def run(
    base: str, token: str, scenario: str, seconds: float, concurrency: int, ids: list[str]
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: dict[int, int] = {}
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stopping.set)

    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=30
    ) as client:

        async def worker(seed: int) -> None:
            rng = random.Random(seed)
            while (
                time.perf_counter() < deadline
                and len(latencies) < MAX_REQUESTS
                and not stopping.is_set()
            ):
                method, path, body = _request(scenario, ids, rng)
                started = time.perf_counter()
                response = await client.request(method, path, json=body)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code >= 400:
                    errors[response.status_code] = errors.get(response.status_code, 0) + 1
                else:
                    latencies.append(elapsed)

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        wall = time.perf_counter() - started
    return summary(scenario, latencies, errors, wall, concurrency=concurrency)


def summary(
    scenario: str, latencies: list[float], errors: dict[int, int], wall: float, **more: Any
) -> dict[str, Any]:
    """A run's figures: throughput, percentiles and the slowest of `latencies` (ms)."""
    latencies = sorted(latencies)

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]
            if latencies
            else float("nan")
        )

    return {
        "scenario": scenario,
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": len(latencies) / wall,
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "max_ms": latencies[-1] if latencies else float("nan"),
        **more,
        "seconds": wall,
    }


def ids_in(path: str) -> list[str]:
    with open(path) as handle:
        return [line.strip() for line in handle if line.strip()]


if __name__ == "__main__":
    base, token, scenario, seconds, concurrency, ids_file = sys.argv[1:7]
    result = asyncio.run(
        run(base, token, scenario, float(seconds), int(concurrency), ids_in(ids_file))
    )
    print(json.dumps(result))
