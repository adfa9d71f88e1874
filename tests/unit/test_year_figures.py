"""`YearFigures` (issue 23): a year's figures kept project by project give, after every change,
exactly what `evaluate` gives over the same facts — figures, explanations and order — with and
without a yearly budget shared by every association."""

from __future__ import annotations

import random
from datetime import date, timedelta

import msgspec
import pytest

from projections.policy import Policy, ProjectFacts, evaluate, load_policies
from projections.policy.engine import YearFigures
from projections.rewards import EncodedEntries, RewardQuery, reward_page, reward_page_json
from tests.unit.policy_support import arrival, facts, granted, policy, withdrawn

ASSOCIATIONS = [f"assoc-{i}" for i in range(7)]


def _project(rng: random.Random, project_id: str, year: int, city: str) -> ProjectFacts:
    """Arrivals in and around the year, one or two referrers, sometimes no attestation."""
    start = date(year, 1, 1)
    arrivals = [
        arrival(
            (start + timedelta(days=rng.randrange(-60, 400))).isoformat(),
            f"{rng.randrange(1_000_000, 60_000_000)}.00",
            source=rng.choice(["other_province", "other_province", "overseas", "in_province"]),
        )
        for _ in range(rng.randrange(0, 4))
    ]
    pair = rng.sample(ASSOCIATIONS, 2)
    referrers = [(pair[0], "100")] if rng.random() < 0.6 else [(pair[0], "60"), (pair[1], "40")]
    attestations = [granted(f"{year - 1}-12-01")] if rng.random() < 0.8 else []
    if rng.random() < 0.1:
        attestations.append(withdrawn(f"{year}-03-01"))
    return facts(
        project_id,
        arrivals=arrivals,
        referrers=referrers,
        attestations=attestations,
        industry=rng.choice("CCCIMK"),
        city=city,
        contract=rng.choice([None, "80000000.00", "10000000.00"]),
    )


def _same(figures: YearFigures, policy: Policy, year: int, known: dict[str, ProjectFacts]) -> None:
    expected = evaluate(policy, year, [known[p] for p in sorted(known)])
    assert figures.report.as_dict(association_explanations=True) == expected.as_dict(
        association_explanations=True
    )
    assert figures.report.projects == expected.projects
    assert list(figures.report.projects) == list(expected.projects)


@pytest.mark.parametrize(
    ("policy_id", "year", "city", "budget"),
    [
        ("hunan-2022", 2023, "changsha", False),
        ("hengyang-above-2023", 2023, "hengyang", False),  # association caps
        ("hengyang-above-2023", 2025, "hengyang", True),  # a budget shared by all
    ],
)
def test_every_update_equals_the_whole_evaluation(
    policy_id: str, year: int, city: str, budget: bool
) -> None:
    chosen = load_policies().get(policy_id) if policy_id == "hunan-2022" else policy(policy_id)
    assert (chosen.version_for(year).budget is not None) is budget
    rng = random.Random(f"{policy_id}{year}")
    known = {f"p{n:03d}": _project(rng, f"p{n:03d}", year, city) for n in range(60)}
    figures = YearFigures(chosen, year, [known[p] for p in sorted(known)])
    _same(figures, chosen, year, known)
    assert figures.report.associations, "the case lists some associations"
    for _ in range(25):
        changes: dict[str, ProjectFacts | None] = {}
        for _ in range(rng.randrange(1, 5)):
            project_id = f"p{rng.randrange(75):03d}"  # some new projects too
            if project_id in known and rng.random() < 0.2:
                del known[project_id]  # no longer listed in the year
                changes[project_id] = None
            else:
                known[project_id] = changes[project_id] = _project(rng, project_id, year, city)
        assert figures.update(changes) is figures.report
        _same(figures, chosen, year, known)
    if budget:
        assert any(a.capped for a in figures.report.associations), "the budget applied"


def test_an_update_leaves_the_reports_handed_out_as_they_were() -> None:
    chosen = load_policies().get("hunan-2022")
    rng = random.Random(7)
    known = {f"p{n}": _project(rng, f"p{n}", 2023, "changsha") for n in range(30)}
    figures = YearFigures(chosen, 2023, [known[p] for p in sorted(known)])
    handed_out = figures.report
    body = handed_out.as_dict()
    for project_id in list(known)[:10]:
        figures.update({project_id: _project(rng, project_id, 2023, "changsha")})
    assert handed_out.as_dict() == body
    assert figures.report is not handed_out


def test_no_listed_project_changed_keeps_the_report() -> None:
    chosen = load_policies().get("hunan-2022")
    known = {"p1": facts("p1", arrivals=[arrival("2023-05-01", "40000000.00")])}
    figures = YearFigures(chosen, 2023, list(known.values()))
    report = figures.report
    assert figures.update({"not-listed": None}) is report


def test_the_encoded_page_is_the_page_encoded_and_reuses_untouched_associations() -> None:
    chosen = load_policies().get("hunan-2022")
    rng = random.Random(11)
    known = {f"p{n:02d}": _project(rng, f"p{n:02d}", 2023, "changsha") for n in range(40)}
    figures = YearFigures(chosen, 2023, [known[p] for p in sorted(known)])
    queries = [
        RewardQuery(),
        RewardQuery(page=1, size=3),
        RewardQuery(page=2, size=3, explain=False, lang="zh"),
        RewardQuery(page=9, size=3),
        RewardQuery(status="eligible", lang="en"),
        RewardQuery(association_id="assoc-2"),
        RewardQuery(page=1, association_ids=frozenset({"assoc-1", "assoc-4"})),
    ]
    encoded: EncodedEntries = {}
    for _ in range(2):  # encoded afresh, then from the entries kept
        for query in queries:
            expected = msgspec.json.encode(reward_page(figures.report, query))
            assert reward_page_json(figures.report, query, encoded) == expected, query
    whole = {k[0]: v[1] for k, v in encoded.items() if k[1:] == (("zh", "en"), True)}
    before = {a.association_id: id(a) for a in figures.report.associations}

    project_id = "p00"
    touched = {p.association_id for p in figures.report.projects[project_id].parts}
    figures.update({project_id: None})
    for query in queries:
        expected = msgspec.json.encode(reward_page(figures.report, query))
        assert reward_page_json(figures.report, query, encoded) == expected, query
    for association in figures.report.associations:
        if association.association_id in touched:
            assert id(association) != before[association.association_id]
        else:  # the same entry, not encoded again
            assert encoded[(id(association), ("zh", "en"), True)][1] is whole[id(association)]
