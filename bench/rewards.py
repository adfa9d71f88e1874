"""How long a year's reward figures take: the policy engine over generated project facts.

    python -m bench.rewards [--projects 20000] [--associations 2000] [--year 2023] [--seed 2022]
    python -m bench.rewards --dense --policy-path bench/policies --policy bench-logic-2023

Facts are generated directly (no database): the engine is handed facts by the reward projection,
so this measures the engine alone — `evaluate` (figures and explanation steps) and `as_dict`
(rendering every step in Chinese and English, the `GET /rewards/{year}` body).
"""

from __future__ import annotations

import argparse
import os
import random
import time
from datetime import date, timedelta
from decimal import Decimal

from domain.values import CITIES
from projections.policy import (
    ArrivalFact,
    AttestationFact,
    AttributionFact,
    ProjectFacts,
    evaluate,
    load_policies,
)

INDUSTRIES = "CCCCCCIIMMFGEJK"  # mostly manufacturing, some finance and real estate


def generate_facts(
    projects: int = 20_000,
    associations: int = 2_000,
    seed: int = 2022,
    dense_year: int | None = None,
) -> list[ProjectFacts]:
    """Seeded facts; with `dense_year`, every project has arrivals in that year, above the Hunan
    threshold, and a granted attestation (the worst case: every row eligible and split)."""
    rng = random.Random(seed)
    association_ids = [f"assoc-{i:05d}" for i in range(associations)]
    start = date(2022, 6, 1)
    result = []
    for n in range(projects):
        referred = start + timedelta(days=rng.randrange(0, 500))
        if rng.random() < 0.2:
            pair = rng.sample(association_ids, 2)
            shares: tuple[tuple[str, Decimal], ...] = (
                (pair[0], Decimal("60")),
                (pair[1], Decimal("40")),
            )
        else:
            shares = ((rng.choice(association_ids), Decimal("100")),)
        attributions = [AttributionFact(referred, shares)]
        if rng.random() < 0.05:
            attributions.append(
                AttributionFact(
                    referred + timedelta(days=200), ((rng.choice(association_ids), Decimal(100)),)
                )
            )
        arrivals = []
        for k in range(rng.randrange(0, 8)):
            day = referred + timedelta(days=rng.randrange(30, 900))
            amount = Decimal(rng.randrange(100_000, 60_000_000_00)) / 100
            arrivals.append(ArrivalFact(f"a{n}-{k}", day, amount, "other_province"))
        granted = rng.random() < 0.9
        attestations = (
            (AttestationFact("positive_local_impact", granted, referred),)
            if rng.random() < 0.7
            else ()
        )
        if dense_year is not None:
            day = date(dense_year, 1, 1) + timedelta(days=rng.randrange(0, 240))
            amount = Decimal(rng.randrange(20_000_000_00, 90_000_000_00)) / 100
            arrivals.append(ArrivalFact(f"a{n}-dense", day, amount, "other_province"))
            attestations = (AttestationFact("positive_local_impact", True, referred),)
        industry = rng.choice(INDUSTRIES if dense_year is None else "CCIM")
        result.append(
            ProjectFacts(
                project_id=f"proj-{n:06d}",
                name=f"项目{n}",
                industry=industry,
                project_type="large_infrastructure"
                if dense_year is None and rng.random() < 0.03
                else "ordinary",
                origin="other_province",
                city=rng.choice(list(CITIES)),
                designations=(),
                planned_investment_cny=Decimal("100000000.00"),
                arrivals=tuple(arrivals),
                attributions=tuple(attributions),
                attestations=attestations,
            )
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=20_000)
    parser.add_argument("--associations", type=int, default=2_000)
    parser.add_argument("--year", type=int, default=2023)
    parser.add_argument("--policy", default="hunan-2022")
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--policy-path", default="", help="more policy folders (`:`-separated)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--dense", action="store_true", help="every project eligible in the year (worst case)"
    )
    args = parser.parse_args()
    folders = [p for p in args.policy_path.split(":") if p.strip()]
    policy = load_policies(folders).get(args.policy)
    facts = generate_facts(
        args.projects, args.associations, args.seed, args.year if args.dense else None
    )
    load = os.getloadavg()[0]
    evaluated, rendered, evaluated_cpu, rendered_cpu = [], [], [], []
    for _ in range(args.repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        report = evaluate(policy, args.year, facts)
        middle, middle_cpu = time.perf_counter(), time.process_time()
        body = report.as_dict()
        done, done_cpu = time.perf_counter(), time.process_time()
        evaluated.append(middle - started)
        rendered.append(done - middle)
        evaluated_cpu.append(middle_cpu - started_cpu)
        rendered_cpu.append(done_cpu - middle_cpu)
    rows = sum(len(a["projects"]) for a in body["associations"])
    eligible = sum(1 for r in report.projects.values() if r.eligible)
    capped = sum(1 for a in report.associations if a.capped)
    print(
        f"{args.policy} {args.year}: {len(facts):,} projects' facts → {len(report.projects):,} "
        f"listed, {eligible:,} eligible, {len(report.associations):,} associations "
        f"({capped} capped), {rows:,} rows"
    )
    print(f"  load average before: {load:.2f} (wall times suffer on a shared machine)")
    print(f"  best of {args.repeat}:       wall s   cpu s")
    print(f"  evaluate          {min(evaluated):7.3f} {min(evaluated_cpu):7.3f}")
    print(f"  as_dict (zh, en)  {min(rendered):7.3f} {min(rendered_cpu):7.3f}")


if __name__ == "__main__":
    main()
