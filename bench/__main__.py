"""`python -m bench [--scale small|province] [--db sqlite|postgres]`: the DESIGN §10 benchmark.

Every figure is printed beside a baseline measured in the same run (raw inserts, raw read and
decode), so the ratio is what compares across machines. Results go to
`bench/results/<date>-<db>-<scale>.json` and a Markdown table beside it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from adapters.database import open_ledger
from bench import paced
from bench.baseline import raw_insert_rate, raw_read_decode_rate
from bench.pages import PAGES
from demo.province import OFFICER, generate
from domain.application import Ledger
from projections.runtime import engine_of

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 1, 20, 2, 0, tzinfo=UTC)


def peak_rss_mib() -> float:
    from bench.phase import _peak

    return _peak()


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(samples: int, call: Callable[[int], Any]) -> dict[str, float]:
    times = []
    for i in range(samples):
        started = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": statistics.median(times),
        "p99_ms": percentile(times, 99),
        "samples": samples,
    }


class Bench:
    def __init__(self, scale: str, db: str, url: str) -> None:
        self.scale, self.db, self.url = scale, db, url
        self.figures: dict[str, Any] = {"scale": scale, "db": db, "date": date.today().isoformat()}
        self.load_seconds = 20.0 if scale == "province" else 6.0

    def record(self, name: str, **values: Any) -> None:
        self.figures[name] = values
        shown = ", ".join(
            f"{k}={v:,.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
        )
        print(f"{name:<28} {shown}", flush=True)

    def run_child(self, phase: str) -> dict[str, Any]:
        """A phase in its own process, so its peak memory is its own."""
        out = subprocess.run(
            [sys.executable, "-m", "bench.phase", phase, self.url],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))

    def run(self, phases: set[str] | None = None) -> dict[str, Any]:
        """Every phase in order, or only those named (`--phases`) — then on a database already
        loaded (`--url`), the province generated once and measured phase by phase."""

        def wanted(phase: str) -> bool:
            return phases is None or phase in phases

        engine_ledger = open_ledger(self.url, clock=lambda: NOW)
        engine = engine_of(engine_ledger)
        read_rate = library_rate = mapper_rate = None
        if wanted("load"):
            insert_rate = raw_insert_rate(engine, rows=50_000)
            self.record("baseline_raw_insert", rows_per_s=insert_rate)
            started = time.perf_counter()
            # Two recording processes (this machine has two cores), each its own application.
            summary = generate(
                engine_ledger, self.scale, end=date(2025, 12, 31), workers=2, url=self.url
            )
            elapsed = time.perf_counter() - started
            load_rate = summary.events / elapsed
            self.record(
                "bulk_load",
                workers=2,
                events=summary.events,
                seconds=elapsed,
                events_per_s=load_rate,
                ratio_to_raw_insert=load_rate / insert_rate,
                peak_rss_mib=peak_rss_mib(),
            )
        if wanted("read"):
            read_rate, count = raw_read_decode_rate(engine)
            self.record("baseline_raw_read_decode", events=count, events_per_s=read_rate)
            library = self.run_child("library_read")
            library_rate = library["events_per_s"]
            self.record("library_read_decode", **library, ratio_to_raw=library_rate / read_rate)
            mapper = self.run_child("library_mapper_read")
            mapper_rate = mapper["events_per_s"]
            self.record(
                "library_mapper_read_decode", **mapper, ratio_to_raw=mapper_rate / read_rate
            )
        if wanted("commands"):
            self._commands(engine_ledger)
        if wanted("replay"):
            self._replay(engine_ledger)
        engine_ledger.close()

        if wanted("rebuild"):
            rebuild = self.run_child("rebuild")
            rate = rebuild["events_per_s"]
            ratios = {
                f"ratio_to_{name}": rate / baseline
                for name, baseline in (
                    ("raw_read_decode", read_rate),
                    ("library_read_decode", library_rate),
                    ("library_mapper_read_decode", mapper_rate),
                )
                if baseline
            }
            self.record("rebuild_all_projections", **rebuild, **ratios)
        if wanted("verify"):
            verify = self.run_child("verify")
            ratio = (
                {"ratio_to_raw_read_decode": verify["events_per_s"] / read_rate}
                if read_rate
                else {}
            )
            self.record("verify_all_chains", **verify, **ratio)
        if wanted("files"):
            with tempfile.TemporaryDirectory() as folder:  # evidence files, at small scale
                from bench.files import upload_and_verify

                for name, values in upload_and_verify(self.url, Path(folder)).items():
                    self.record(name, **values)
        if wanted("dispatch"):
            self.record("dispatch_one_quarter", **self.run_child("dispatch"))
        if wanted("rewards"):
            self.record("rewards_one_year", **self.run_child("rewards"))
        if wanted("search"):
            self.record("search_projects_q", **self.run_child("search"))
        if wanted("pages"):
            # Every web page's server time in process, and `GET /projects?q=` through the app.
            for name, values in self.run_child("pages").items():
                self.record(name, **values)
        if wanted("first_view"):
            # The first request after a new event is projected, and the same asked again.
            views = self.run_child("first_view")
            for name, values in views.items():
                if isinstance(values, dict):
                    self.record(f"first_view_{name}", **values)
            page = views["api_rewards_page"]
            self.record(
                "rewards_page_first",
                first_median_ms=page["first_median_ms"],
                first_cpu_median_ms=page["first_cpu_median_ms"],
                later_median_ms=page["later_median_ms"],
                size=50,
            )
        if wanted("api"):
            for workers in (1, 2):
                for name, values in api_load(self.url, workers, seconds=self.load_seconds).items():
                    self.record(f"api_{name}_{workers}w", **values)
            # The wave's keys (issue 23), each with p95_ms, so every run compares with the last.
            page = self.figures["api_rewards_page_1w"]
            self.record(
                "rewards_page",
                p95_ms=page["p95_ms"],
                p99_ms=page["p99_ms"],
                requests_per_s=page["requests_per_s"],
                size=50,
            )
        if wanted("writes_busy"):
            # HTTP write latency while the runner projects a burst, and during a rebuild. After
            # the API's phase: over a whole rebuild it records ~90,000 funds arrivals on a few
            # hundred projects (~350 more events each at province scale), which would make
            # those projects' pages and the runner's batches of them far heavier than the
            # province's ~100 events a project.
            from bench.busy import writes_while_busy

            for name, values in writes_while_busy(self.url).items():
                self.record(name, **values)
        if wanted("import"):
            self._import()
        if wanted("notifications"):
            # Last: its set-up records accounts and officer assignments (issue 22).
            self.record("notifications_day", **self.run_child("notifications"))
        return self.figures

    def _import(self) -> None:
        """The ledger import (DESIGN §19): 5,000 rows into a database of its own, so the
        province's figures above stay comparable run to run."""
        from bench.imports import import_rows

        with tempfile.TemporaryDirectory() as folder:
            url = _fresh_url(self.db, Path(folder))
            try:
                self.record("import", **import_rows(url, rows=5000))
            finally:
                if self.db != "sqlite":
                    _drop_database(url)

    def _commands(self, ledger: Ledger) -> None:
        projects = list(project_versions(ledger))
        rng = random.Random(7)
        chosen: list[str] = []
        while len(chosen) < 500:
            candidate = rng.choice(projects)
            if ledger.get_project(candidate).status == "active":
                chosen.append(candidate)
        ctx = ledger.context(OFFICER, source="bench")
        started = time.perf_counter()
        latencies = timed(
            len(chosen), lambda i: ledger.record_visit(ctx, chosen[i], occurred_on="2025-12-31")
        )
        rate = len(chosen) / (time.perf_counter() - started)
        self.record("single_commands", saves_per_s=rate, **latencies)

    def _replay(self, ledger: Ledger) -> None:
        """Replays from the events (the aggregate cache bypassed) of projects of about 100
        events, as DESIGN §10 sizes them."""
        versions = project_versions(ledger)
        typical = sorted(versions, key=lambda k: (abs(versions[k] - 100), k))[:50]
        events = round(statistics.mean(versions[k] for k in typical))

        def project(i: int) -> str:  # fewer than 50 at the tiny scale
            return typical[i % len(typical)]

        replay = timed(
            200, lambda i: ledger.project_as_of_version(project(i), versions[project(i)])
        )
        self.record("replay_project", events=events, **replay)
        as_of = timed(200, lambda i: ledger.project_as_of(project(i), "2025-12-31"))
        self.record("state_as_of_date", events=events, **as_of)
        cached = timed(200, lambda i: ledger.get_project(project(i)))
        self.record("load_project_cached", events=events, **cached)


def project_versions(ledger: Ledger) -> dict[str, int]:
    """Every project's current version, in one grouped query."""
    table = ledger.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
    query = (
        select(table.c.originator_id, func.max(table.c.originator_version))
        .where(
            table.c.originator_id.in_(
                select(table.c.originator_id).where(
                    table.c.topic == "domain.project:Project.Referred"
                )
            )
        )
        .group_by(table.c.originator_id)
    )
    with engine_of(ledger).connect() as conn:
        return {str(stream): int(version) for stream, version in conn.execute(query)}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def admin_token(url: str, name: str) -> tuple[dict[str, str], list[str], str]:
    """The environment and command line of the CLI on `url`, and a new admin's API token."""
    env = {**os.environ, "ZHAOSHANG_DATABASE_URL": url, "PYTHONPATH": str(REPO)}
    cli = [sys.executable, "-m", "cli.main"]
    created = subprocess.run(
        [*cli, "users", "create", name, "--role", "admin"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return env, cli, created.stdout.strip().splitlines()[-1]


def api_load(
    url: str, workers: int, seconds: float, concurrency: int = 8
) -> dict[str, dict[str, Any]]:
    """Start `zhaoshang serve` on a loopback port and drive it from a separate process."""
    env, cli, token = admin_token(url, f"bench-{workers}w-{os.getpid()}")
    ledger = open_ledger(url)
    engine = engine_of(ledger)
    from projections.queries import ReadModels

    read = ReadModels(engine)
    rows = read.ledger_page(status="active", size=500).items
    ids = [r["project_id"] for r in rows if r["signed_on"]]
    env["ZS_REWARD_PAGES"] = str(max(1, len(read.associations()) // 50))
    ledger.close()
    port = _free_port()
    server = subprocess.Popen(
        [
            *cli,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-scheduler",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=REPO,
    )
    base = f"http://127.0.0.1:{port}"
    results: dict[str, dict[str, Any]] = {}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        with tempfile.NamedTemporaryFile("w", suffix=".ids", delete=False) as handle:
            handle.write("\n".join(ids))
        # The first seconds of writes load each written project's aggregate from its events
        # (the server starts cold): kept apart as `writes_cold`, so that `writes` is the
        # steady rate that DESIGN §10 sets, as `bench.busy` measures it after its warm-up.
        for name, scenario, duration in (
            ("writes_cold", "writes", 2.0),
            ("writes", "writes", seconds),
            ("project", "project", seconds),
            ("history", "history", seconds),
            ("rewards", "rewards", seconds * 0.5),
            ("rewards_page", "rewards_page", seconds * 0.5),
        ):
            connections = concurrency if scenario != "rewards" else 2
            results[name] = _drive(base, token, scenario, duration, connections, handle.name, env)
        os.unlink(handle.name)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    return results


def _drive(
    base: str,
    token: str,
    scenario: str,
    seconds: float,
    connections: int,
    ids_file: str,
    env: dict[str, str],
    stop_when: Callable[[], bool] | None = None,
    rate: float | None = None,
) -> dict[str, Any]:
    """wrk (C, one thread) where it is installed, else the async httpx client: either way a
    separate process on loopback, bounded in time, and stopped sooner (SIGINT, after which
    either still reports) once `stop_when` answers true. With a `rate`, `bench.paced` sends
    that many requests a second whatever the answers' speed, on its own connections."""
    if rate is not None:
        command = [
            sys.executable,
            "-m",
            "bench.paced",
            base,
            token,
            scenario,
            str(seconds),
            str(rate),
            ids_file,
        ]
    elif shutil.which("wrk"):
        command = [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "--timeout",
            "60s",  # a year's reward figures at province scale take seconds
            "-s",
            str(Path(__file__).with_name("load.lua")),
            base,
        ]
        env = {**env, "ZS_TOKEN": token, "ZS_SCENARIO": scenario, "ZS_IDS": ids_file}
    else:
        command = [
            sys.executable,
            "-m",
            "bench.load",
            base,
            token,
            scenario,
            str(seconds),
            str(connections),
            ids_file,
        ]
    client = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + seconds + 60
    while stop_when is not None and client.poll() is None and time.monotonic() < deadline:
        if stop_when():
            client.send_signal(signal.SIGINT)
            break
        time.sleep(0.05)
    try:
        out, err = client.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        client.kill()  # not left loading the server
        client.communicate()
        raise
    if client.returncode != 0:
        raise subprocess.CalledProcessError(client.returncode, command, out, err)
    result = dict(json.loads(out.strip().splitlines()[-1]))
    result.pop("scenario", None)
    result["client"] = "paced" if rate is not None else "wrk" if command[0] == "wrk" else "httpx"
    result["connections"] = paced.CONNECTIONS if rate is not None else connections
    return result


def markdown(figures: dict[str, Any]) -> str:
    lines = [
        f"# Benchmark {figures['date']} — {figures['db']}, {figures['scale']}",
        "",
        "| phase | figures |",
        "|---|---|",
    ]
    for name, values in figures.items():
        if isinstance(values, dict):
            shown = ", ".join(
                f"{k} {v:,.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items()
            )
            lines.append(f"| {name} | {shown} |")
    return "\n".join(lines) + "\n"


# The figures compared run to run: (phase, figure, whether more is better).
COMPARED = (
    ("library_read_decode", "events_per_s", True),
    ("library_mapper_read_decode", "events_per_s", True),
    ("rebuild_all_projections", "events_per_s", True),
    ("rebuild_all_projections", "ratio_to_library_read_decode", True),
    ("rebuild_all_projections", "ratio_to_library_mapper_read_decode", True),
    ("rebuild_all_projections", "peak_rss_mib", False),
    ("verify_all_chains", "events_per_s", True),
    ("dispatch_one_quarter", "seconds", False),
    ("rewards_one_year", "seconds_with_explanations", False),
    ("api_writes_1w", "p99_ms", False),
    ("api_writes_cold_1w", "p99_ms", False),
    ("api_project_1w", "p99_ms", False),
    ("api_history_1w", "p99_ms", False),
    ("api_rewards_1w", "p50_ms", False),
    ("rewards_page", "p95_ms", False),
    ("rewards_page_first", "first_median_ms", False),
    ("first_view_page_evaluation", "first_median_ms", False),
    ("search", "p95_ms", False),
    ("search_projects_q", "p95_ms", False),
    ("dispatch_one_quarter", "seconds_from_ledger_documents", False),
    ("writes_runner_burst", "p99_ms", False),
    ("writes_runner_idle", "p99_ms", False),
    ("writes_during_rebuild", "p99_ms", False),
    ("writes_whole_rebuild", "p99_ms", False),
    ("writes_whole_rebuild", "max_ms", False),
    ("writes_paced_runner_idle", "p99_ms", False),
    ("writes_whole_rebuild_paced", "p99_ms", False),
    *((f"page_{name}", "p95_ms", False) for name in PAGES),
    ("upload", "mib_per_s", True),
    ("import", "rows_per_s", True),
    ("notifications_day", "seconds", False),
)


def previous_results(folder: Path, db: str, scale: str, before: str) -> dict[str, Any] | None:
    """The latest earlier results of the same database and scale, if any."""
    earlier = sorted(p for p in folder.glob(f"*-{db}-{scale}.json") if p.stem < before)
    return dict(json.loads(earlier[-1].read_text())) if earlier else None


def comparison(previous: dict[str, Any], current: dict[str, Any]) -> str:
    """A Markdown table of the compared figures against the previous run."""
    lines = [
        f"## Against the previous run ({previous.get('date')})",
        "",
        "| phase | figure | previous | this run | change |",
        "|---|---|---|---|---|",
    ]
    for phase, name, more_is_better in COMPARED:
        before = (previous.get(phase) or {}).get(name)
        after = (current.get(phase) or {}).get(name)
        if not isinstance(before, (int, float)) and not isinstance(after, (int, float)):
            continue
        change = "new" if not isinstance(before, (int, float)) else "—"
        if isinstance(before, (int, float)) and isinstance(after, (int, float)) and before:
            factor = after / before
            better = factor >= 1 if more_is_better else factor <= 1
            change = f"× {factor:.2f} ({'better' if better else 'worse'})"
        lines.append(f"| {phase} | {name} | {_shown(before)} | {_shown(after)} | {change} |")
    return "\n".join(lines) + "\n"


def _shown(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, (int, float)) else "—"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", choices=["tiny", "small", "province"], default="small")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--url", help="database URL (default: a fresh SQLite file / PostgreSQL db)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--check", action="store_true", help="exit non-zero unless every figure was produced (CI)"
    )
    parser.add_argument(
        "--phases",
        type=lambda text: {p.strip() for p in text.split(",") if p.strip()},
        help="only these phases, comma-separated (" + ", ".join(PHASE_NAMES) + "); with "
        "--url on a database already loaded, leave out `load`",
    )
    args = parser.parse_args(argv)
    if args.phases and not args.phases <= set(PHASE_NAMES):
        parser.error("unknown phases: " + ", ".join(sorted(args.phases - set(PHASE_NAMES))))
    with tempfile.TemporaryDirectory() as folder:
        url = args.url or _fresh_url(args.db, Path(folder))
        try:
            figures = Bench(args.scale, args.db, url).run(args.phases)
        finally:
            if not args.url and args.db == "postgres":
                _drop_database(url)
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "-" + "-".join(sorted(args.phases)) if args.phases else ""
    stem = args.out / f"{figures['date']}-{args.db}-{args.scale}{suffix}"
    previous = previous_results(args.out, args.db, args.scale, before=stem.name)
    stem.with_suffix(".json").write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    table = markdown(figures)
    if previous is not None:
        table += "\n" + comparison(previous, figures)
    stem.with_suffix(".md").write_text(table)
    print(f"results: {stem}.json and .md")
    if args.check:
        missing = missing_figures(figures) if not args.phases else []
        if missing:
            print("figures missing: " + ", ".join(missing), file=sys.stderr)
            return 1
        print(f"all {len(EXPECTED_PHASES)} phases produced their figures")
    return 0


PHASE_NAMES = (
    "load",
    "read",
    "commands",
    "replay",
    "rebuild",
    "verify",
    "files",
    "dispatch",
    "rewards",
    "search",
    "pages",
    "first_view",
    "api",
    "writes_busy",
)

EXPECTED_PHASES = (
    "baseline_raw_insert",
    "bulk_load",
    "baseline_raw_read_decode",
    "library_read_decode",
    "single_commands",
    "replay_project",
    "state_as_of_date",
    "rebuild_all_projections",
    "verify_all_chains",
    "dispatch_one_quarter",
    "rewards_one_year",
    "library_mapper_read_decode",
    *(
        f"api_{s}_{w}w"
        for w in (1, 2)
        for s in ("writes_cold", "writes", "project", "history", "rewards", "rewards_page")
    ),
    "rewards_page",
    "rewards_page_first",
    "search_projects_q",
    "import",
    "search",
    # The rewards page waits for a projection runner, which the in-process page bench has not.
    *(f"page_{name}" for name in PAGES if name != "rewards"),
    "writes_runner_burst",
    "writes_runner_idle",
    "writes_during_rebuild",
    "writes_whole_rebuild",
    "writes_paced_runner_idle",
    "writes_whole_rebuild_paced",
    "notifications_day",
)


def missing_figures(figures: dict[str, Any]) -> list[str]:
    """Phases absent, or whose numbers are not finite, or API runs that served nothing."""
    missing = []
    for phase in EXPECTED_PHASES:
        values = figures.get(phase)
        if not isinstance(values, dict) or not values:
            missing.append(phase)
            continue
        numbers = [
            v for v in values.values() if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        finite = bool(numbers) and all(math.isfinite(v) for v in numbers)
        served = not phase.startswith("api_") or bool(values.get("requests"))
        if not (finite and served):
            missing.append(phase)
    return missing


def _drop_database(url: str) -> None:
    import psycopg

    server, name = url.rsplit("/", 1)
    admin = os.environ.get("ZHAOSHANG_TEST_POSTGRES_URL", f"{server}/test")
    with psycopg.connect(
        admin.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _fresh_url(db: str, folder: Path) -> str:
    if db == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}"
    import uuid

    import psycopg

    server = os.environ.get("ZHAOSHANG_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
    name = f"zs_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server.rsplit('/', 1)[0]}/{name}"


if __name__ == "__main__":
    raise SystemExit(main())
