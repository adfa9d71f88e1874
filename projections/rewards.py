"""Reward eligibility: each project's reward facts kept as a JSON row by `FactsFold`, and the
years with a figure of any base listed, so a year's figures for every association are one query and one
evaluation (DESIGN §6, §7)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
)

from adapters.reader import FastEventReader
from domain.project import Project
from projections.policy import FactsFold, Policy, ProjectFacts, RewardReport, evaluate
from projections.policy.engine import AssociationReward, RewardRow, cyclic_gc_paused
from projections.policy.explain import LANGUAGES
from projections.policy.fold import FACTS_FOLD_FIELDS, ProjectFactsState
from projections.runtime import (
    Handler,
    Projection,
    chunked,
    insert_rows,
    load_docs,
    projections_table,
    upsert,
)


class RewardFactsProjection(Projection):
    name = "rewards"
    schema_version = 2  # 2: the years of every base (fixed-asset investment, tax) are listed
    event_fields = FACTS_FOLD_FIELDS

    def __init__(self) -> None:
        super().__init__()
        self.fold = FactsFold()
        self.dirty: set[str] = set()

    def define_tables(self, metadata: MetaData, generation: int) -> dict[str, Table]:
        facts = Table(
            self.table_name("facts", generation),
            metadata,
            Column("project_id", String(36), primary_key=True),
            Column("doc", Text, nullable=False),
        )
        years = Table(
            self.table_name("years", generation),
            metadata,
            Column("project_id", String(36), primary_key=True),
            Column("year", Integer, primary_key=True),
        )
        Index(f"ix_{years.name}_year", years.c.year)
        return {"facts": facts, "years": years}

    def handlers(self) -> dict[type, Handler]:
        # Every Project event, so the fold sees each version (it refuses to skip one).
        event_classes = [
            value
            for value in vars(Project).values()
            if isinstance(value, type)
            and issubclass(value, Project.Event)
            and value is not Project.Event
        ]
        return {cls: self.on_project_event for cls in event_classes}

    def on_project_event(self, event: Any) -> None:
        self.fold.fold(event)
        self.dirty.add(str(event.originator_id))

    def begin_batch(self, conn: Connection, events: Sequence[Any]) -> None:
        projects = [e for e in events if isinstance(e, Project.Event)]
        for doc in load_docs(conn, self.tables["facts"], projects).values():
            self.fold.load(doc)

    def reset(self) -> None:
        self.fold = FactsFold()
        self.dirty.clear()

    def flush(self, conn: Connection) -> None:
        facts, years = self.tables["facts"], self.tables["years"]
        statement = insert(facts) if self.bulk else upsert(conn.dialect, facts, ["project_id"])
        for part in chunked(sorted(self.dirty), 1000):  # in parts, to bound a rebuild's memory
            fact_rows: list[dict[str, Any]] = []
            year_rows: list[dict[str, Any]] = []
            for project_id in part:
                state = self.fold.states[project_id]
                doc = json.dumps(state.to_json(), separators=(",", ":"))
                fact_rows.append({"project_id": project_id, "doc": doc})
                year_rows.extend(
                    {"project_id": project_id, "year": y} for y in sorted(listing_years(state))
                )
            if not self.bulk:
                conn.execute(delete(years).where(years.c.project_id.in_(part)))
            if self.bulk:
                insert_rows(conn, facts, fact_rows)
            else:
                conn.execute(statement, fact_rows)
            insert_rows(conn, years, year_rows)
        self.dirty.clear()
        if not self.bulk:
            self.fold = FactsFold()


def listing_years(state: ProjectFactsState) -> set[int]:
    """The years a project is considered for: those with a figure of any base a policy may
    count (DESIGN §7a) — an arrival that stands, a fixed-asset investment report, or tax
    reported at a follow-up visit. The policy's own listing rule then decides what is shown."""
    years = {a.arrived_on.year for a in state.arrivals.values() if not a.voided}
    years.update(state.fixed_asset_investment_cny)
    years.update(state.tax_reported_cny)
    return years


def _bound(engine: Engine) -> RewardFactsProjection:
    projection = RewardFactsProjection()
    with engine.connect() as conn:
        generation = conn.execute(
            select(projections_table.c.generation).where(
                projections_table.c.name == projection.name
            )
        ).scalar_one_or_none()
    if generation is None:
        raise LookupError("the rewards projection has not been set up")
    projection.bind(generation)
    return projection


def facts_for_year(engine: Engine, year: int) -> list[ProjectFacts]:
    """The facts of every project with a figure of any base in `year` (DESIGN §12 listing)."""
    tables = _bound(engine).tables
    facts, years = tables["facts"], tables["years"]
    query = (
        select(facts.c.doc)
        .where(facts.c.project_id.in_(select(years.c.project_id).where(years.c.year == year)))
        .order_by(facts.c.project_id)
    )
    fold = FactsFold()
    with engine.connect() as conn:
        return [fold.load(json.loads(doc)).to_facts() for (doc,) in conn.execute(query)]


def facts_of(engine: Engine, project_ids: Sequence[str]) -> dict[str, ProjectFacts]:
    facts = _bound(engine).tables["facts"]
    fold = FactsFold()
    result = {}
    with engine.connect() as conn:
        for part in chunked(sorted(project_ids), 500):
            for row in conn.execute(select(facts).where(facts.c.project_id.in_(part))):
                result[row.project_id] = fold.load(json.loads(row.doc)).to_facts()
    return result


def reward_report(engine: Engine, policy: Policy, year: int) -> RewardReport:
    """The year's figures from the reward-facts read model (`GET /rewards`)."""
    return evaluate(policy, year, facts_for_year(engine, year))


def fold_log(reader: FastEventReader, chunk: int = 5_000) -> tuple[int, FactsFold]:
    """Every project's reward facts folded afresh from the whole event log, and the last
    notification id read: what a settlement freezes and its audit recomputes, never trusting
    the read-model tables (which lie outside the hash chains)."""
    fold = FactsFold()
    position = 0
    while batch := reader.read(position, chunk):
        for _, event in batch:
            if isinstance(event, Project.Event):
                fold.fold(event)
        position = batch[-1][0]
    return position, fold


def reward_report_of_fold(fold: FactsFold, policy: Policy, year: int) -> RewardReport:
    """The year's figures from a fresh fold (the same listing and order as the read model)."""
    facts = [
        state.to_facts()
        for project_id, state in sorted(fold.states.items())
        if year in listing_years(state)
    ]
    return evaluate(policy, year, facts)


@dataclass(frozen=True)
class RewardQuery:
    """What `GET /rewards/{year}` asks of a year's figures (DESIGN §12a): a page of `size`
    associations (every association when `page` is None), one association, the project rows
    of one status, explanations or not, in one language or both."""

    page: int | None = None
    size: int = 50
    association_id: str | None = None
    status: str | None = None
    explain: bool = True
    lang: str | None = None
    # The associations a page's name search found (None: no search; empty: none matched).
    association_ids: frozenset[str] | None = None


def reward_page(report: RewardReport, query: RewardQuery = RewardQuery()) -> dict[str, Any]:
    """The report as `GET /rewards/{year}` answers it: `{year, policy, associations}` as §12,
    plus `total`, `page` and `size` when a page is asked for. An association appears when one
    of its project rows matches `status` (its totals stay those of all its rows)."""
    langs = LANGUAGES if query.lang is None else (query.lang,)
    chosen: list[tuple[AssociationReward, list[RewardRow]]] = []
    for association in report.associations:
        if query.association_id is not None and association.association_id != query.association_id:
            continue
        if (
            query.association_ids is not None
            and association.association_id not in query.association_ids
        ):
            continue
        rows = association.rows
        if query.status is not None:
            rows = [r for r in rows if r.status == query.status]
            if not rows:
                continue
        chosen.append((association, rows))
    total = len(chosen)
    if query.page is not None:
        start = (query.page - 1) * query.size
        chosen = chosen[start : start + query.size]
    with cyclic_gc_paused():
        associations = []
        for association, rows in chosen:
            data = replace(association, rows=[]).as_dict(langs)
            data["projects"] = [_row(r, langs, query.explain) for r in rows]
            associations.append(data)
    body: dict[str, Any] = {
        "year": report.year,
        "policy": report.policy,
        "associations": associations,
    }
    if query.page is not None:
        body.update(total=total, page=query.page, size=query.size)
    return body


def _row(row: RewardRow, langs: tuple[str, ...], explain: bool) -> dict[str, Any]:
    if explain:
        return row.as_dict(langs)
    data = replace(row, explanation=()).as_dict(langs)
    del data["explanation"]
    return data
