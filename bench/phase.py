"""One benchmark phase in its own process (`python -m bench.phase PHASE URL`), printing its
figures as JSON on the last line, with the process's own peak memory."""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

from adapters.database import open_ledger
from projections.catalogue import all_projections
from projections.runtime import ProjectionRunner, engine_of


def _peak() -> float:
    """This process's own peak RSS in MiB. (`ru_maxrss` would not do: Linux carries the
    pre-exec high-water mark over an exec, so a child would report its parent's.)"""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def library_read(url: str) -> dict[str, Any]:
    """The projections' own reader (`adapters.reader`), under its historical key
    `library_read_decode` so that runs compare; the library's is `library_mapper_read`."""
    ledger = open_ledger(url)
    runner = ProjectionRunner(ledger, [])
    started = time.perf_counter()
    count, position = 0, 0
    while True:
        batch = runner.read(position, 20_000)
        if not batch:
            break
        count += len(batch)
        position = batch[-1][0]
    elapsed = time.perf_counter() - started
    return {
        "events": count,
        "seconds": elapsed,
        "events_per_s": count / elapsed,
        "peak_rss_mib": _peak(),
    }


def library_mapper_read(url: str) -> dict[str, Any]:
    """The eventsourcing library's own read-and-decode (DESIGN §10's baseline): its
    notification selection and its stock `Mapper` with the ledger's JSON transcoder."""
    from eventsourcing.persistence import Mapper

    ledger = open_ledger(url)
    mapper: Mapper[Any] = Mapper(transcoder=ledger.mapper.transcoder)
    started = time.perf_counter()
    count, start = 0, 1
    while True:
        batch = ledger.recorder.select_notifications(start, 20_000)
        if not batch:
            break
        for notification in batch:
            mapper.to_domain_event(notification)
        count += len(batch)
        start = batch[-1].id + 1
    elapsed = time.perf_counter() - started
    return {
        "events": count,
        "seconds": elapsed,
        "events_per_s": count / elapsed,
        "peak_rss_mib": _peak(),
    }


def rebuild(url: str) -> dict[str, Any]:
    ledger = open_ledger(url)
    runner = ProjectionRunner(ledger, all_projections())
    started = time.perf_counter()
    total = runner.rebuild_many(runner.projections)  # one reader feeding every projection
    elapsed = time.perf_counter() - started
    return {
        "events": total,
        "seconds": elapsed,
        "events_per_s": total / elapsed,
        "peak_rss_mib": _peak(),
    }


def verify(url: str) -> dict[str, Any]:
    from projections.integrity import verify_all

    ledger = open_ledger(url)
    started = time.perf_counter()
    report = verify_all(ledger)
    elapsed = time.perf_counter() - started
    return {
        "ok": report.ok,
        "events": report.events,
        "seconds": elapsed,
        "events_per_s": report.events / elapsed,
        "peak_rss_mib": _peak(),
    }


def dispatch(url: str) -> dict[str, Any]:
    from projections.dispatch import build_dispatch, build_dispatch_from_ledger
    from projections.queries import ReadModels

    ledger = open_ledger(url)
    ProjectionRunner(ledger, all_projections()).run_once()
    read = ReadModels(engine_of(ledger))
    started = time.perf_counter()
    content = build_dispatch(read, "2024Q4")
    elapsed = time.perf_counter() - started
    # The builder before the progress read model, in the same run: what it saves, and a check.
    started = time.perf_counter()
    reference = build_dispatch_from_ledger(read, "2024Q4")
    from_ledger = time.perf_counter() - started
    return {
        "quarter": "2024Q4",
        "seconds": elapsed,
        "seconds_from_ledger_documents": from_ledger,
        "same_document": reference == content,
        "progress_rows": len(content["progress"]),
        "peak_rss_mib": _peak(),
    }


def rewards(url: str) -> dict[str, Any]:
    """One year's reward figures for every association (the projection already caught up)."""
    from projections.policy import load_policies
    from projections.rewards import reward_report

    ledger = open_ledger(url)
    ProjectionRunner(ledger, all_projections()).run_once()
    policy = load_policies().get("hunan-2022")
    started = time.perf_counter()
    report = reward_report(engine_of(ledger), policy, 2023)
    computed = time.perf_counter() - started
    body = report.as_dict()
    rendered = time.perf_counter() - started
    return {
        "year": 2023,
        "associations": len(body["associations"]),
        "seconds": computed,
        "seconds_with_explanations": rendered,
        "peak_rss_mib": _peak(),
    }


def search(url: str, queries: int = 400) -> dict[str, Any]:
    """`GET /projects?q=` as the endpoint runs it (`ReadModels.ledger_page(q=…)`, first page
    of 50 with its total), over queries drawn from the recorded names: one and two Chinese
    characters (substring scan), three and four (trigram index), full pinyin and initials."""
    import random

    from sqlalchemy import select

    from projections.queries import ReadModels
    from projections.search import pinyin_of

    ledger = open_ledger(url)
    ProjectionRunner(ledger, all_projections()).run_once()
    read = ReadModels(engine_of(ledger))
    projects = read._bound(read._ledger).tables["projects"]
    with read.engine.connect() as conn:
        rows = conn.execute(select(projects.c.name, projects.c.investor)).all()
    names = [text for row in rows for text in row if text]
    rng = random.Random(16)  # the same queries every run
    asked: list[str] = []
    for i in range(queries):
        name = rng.choice(names)
        kind = i % 6
        if kind < 4:
            length = kind + 1
            start = rng.randrange(max(1, len(name) - length))
            asked.append(name[start : start + length])
        else:
            full, initials = pinyin_of(name[:4])
            asked.append(full[:8] if kind == 4 else initials)
    times = []
    matched = 0
    for q in asked:
        started = time.perf_counter()
        page = read.ledger_page(q=q, size=50)
        times.append((time.perf_counter() - started) * 1000)
        matched += page.total
    times.sort()
    return {
        "projects": len(rows),
        "queries": len(asked),
        "median_ms": times[len(times) // 2],
        "p95_ms": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
        "max_ms": times[-1],
        "mean_matches": matched / len(asked),
        "peak_rss_mib": _peak(),
    }


def pages(url: str) -> dict[str, Any]:
    """Every web page's server time, and `GET /projects?q=` through the app (`bench.pages`)."""
    from bench.pages import measure_pages

    return measure_pages(url)


def first_view(url: str) -> dict[str, Any]:
    """The rewards and evaluation views first after the read models move, and asked again
    (`bench.first_view`, issue 23)."""
    from bench.first_view import measure

    return measure(url, rounds=3, year=2024, evaluation_year=2025)


def notifications(url: str) -> dict[str, Any]:
    from bench.notifications import notifications_day

    return {**notifications_day(url), "peak_rss_mib": _peak()}


PHASES = {
    "pages": pages,
    "first_view": first_view,
    "notifications": notifications,
    "search": search,
    "library_read": library_read,
    "library_mapper_read": library_mapper_read,
    "rebuild": rebuild,
    "verify": verify,
    "dispatch": dispatch,
    "rewards": rewards,
}


if __name__ == "__main__":
    phase, url = sys.argv[1], sys.argv[2]
    print(json.dumps(PHASES[phase](url), ensure_ascii=False))
