"""Reward eligibility: each project's reward facts kept as a JSON row by `FactsFold`, and the
years with a figure of any base listed, so a year's figures for every association are one query and one
evaluation (DESIGN §6, §7)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

import msgspec
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

from adapters.reader import FastEventReader, streams_between
from domain import errors
from domain.project import Project
from projections.policy import FactsFold, Policy, ProjectFacts, RewardReport, evaluate
from projections.policy.engine import (
    AssociationReward,
    RewardRow,
    YearFigures,
    cyclic_gc_paused,
)
from projections.policy.explain import LANGUAGES
from projections.policy.fold import FACTS_FOLD_FIELDS, ProjectFactsState
from projections.runtime import (
    Handler,
    Projection,
    ascii_document_text,
    chunked,
    decode_doc,
    insert_rows,
    load_docs,
    projections_table,
    touched,
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
        kept = self.kept.take(touched(projects))
        for doc in load_docs(conn, self.tables["facts"], projects, kept).values():
            self.fold.load(doc)
        self.fold.states.update(kept)

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
                doc = ascii_document_text(state.to_json())
                fact_rows.append({"project_id": project_id, "doc": doc})
                self.kept.keep(project_id, state, functools.partial(stored_state, doc))
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


def stored_state(doc: str) -> ProjectFactsState:
    """A project's facts as read back from its stored `doc`."""
    return ProjectFactsState.from_json(decode_doc(doc))


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
        return [fold.load(decode_doc(doc)).to_facts() for (doc,) in conn.execute(query)]


def facts_of(engine: Engine, project_ids: Sequence[str]) -> dict[str, ProjectFacts]:
    facts = _bound(engine).tables["facts"]
    fold = FactsFold()
    result = {}
    with engine.connect() as conn:
        for part in chunked(sorted(project_ids), 500):
            for row in conn.execute(select(facts).where(facts.c.project_id.in_(part))):
                result[row.project_id] = fold.load(decode_doc(row.doc)).to_facts()
    return result


def listed_facts_of(
    engine: Engine, ids: Collection[str], year: int
) -> dict[str, ProjectFacts | None]:
    """The facts of each of `ids` that is a project listed in `year` (as `facts_for_year`
    lists them); None for the others (not listed that year, or not a project)."""
    facts = _bound(engine).tables["facts"]
    fold = FactsFold()
    found: dict[str, ProjectFacts | None] = dict.fromkeys(ids)
    with engine.connect() as conn:
        for part in chunked(sorted(ids), 500):
            query = select(facts.c.project_id, facts.c.doc).where(facts.c.project_id.in_(part))
            for project_id, doc in conn.execute(query):
                state = fold.load(decode_doc(doc))
                found[project_id] = state.to_facts() if year in listing_years(state) else None
    return found


def reward_report(engine: Engine, policy: Policy, year: int) -> RewardReport:
    """The year's figures from the reward-facts read model (`GET /rewards`)."""
    return evaluate(policy, year, facts_for_year(engine, year))


# Events after the kept position read as changes, at most; beyond, the year is read whole (a
# few thousand projects' facts cost about what the year's listing does).
CHANGES_AT_MOST = 20_000
# Reads of the changes while the runner keeps committing, before the request is refused.
ROUNDS_AT_MOST = 20


class KeptYear:
    """A year's figures under one policy as the reward-facts read model stood at `position`,
    brought forward on request by evaluating again only the projects with an event since.

    The read model's position and its rows commit together, so figures read between two
    equal readings of the position are the figures at that position. When the runner commits
    in between, what was read lies between the two positions, and the projects with an event
    after the first are read again until a read falls between equal readings: a report is only
    ever answered with the position it is exactly of.
    """

    def __init__(self, policy: Policy, year: int) -> None:
        self.policy = policy
        self.year = year
        self.position = -1
        self._figures: YearFigures | None = None
        self._lock = threading.Lock()
        # The associations' encoded entries of the latest report (see `reward_page_json`).
        self._encoded: EncodedEntries = {}
        self._encoded_for: RewardReport | None = None
        self._encoded_lock = threading.Lock()

    def encoded(self, report: RewardReport, query: RewardQuery) -> bytes:
        """`reward_page_json` of `report`, reusing the entries of associations it shares with
        the reports before it; the entries of associations no report shows now are dropped."""
        with self._encoded_lock:
            if self._encoded_for is not report:
                shown = {id(a) for a in report.associations}
                self._encoded = {k: v for k, v in self._encoded.items() if k[0] in shown}
                self._encoded_for = report
            encoded = self._encoded
        return reward_page_json(report, query, encoded)

    def current(
        self, engine: Engine, reader: FastEventReader, position: Callable[[], int]
    ) -> tuple[int, RewardReport]:
        """The report at the read model's position now, and that position."""
        with self._lock:
            for _ in range(ROUNDS_AT_MOST):
                target = position()
                figures = self._figures
                if figures is not None and target == self.position:
                    return target, figures.report
                changed = None
                if figures is not None and target > self.position:
                    changed = streams_between(reader, self.position, target, CHANGES_AT_MOST)
                try:
                    if figures is None or changed is None:
                        facts = facts_for_year(engine, self.year)
                        figures = YearFigures(self.policy, self.year, facts)
                    else:
                        figures.update(listed_facts_of(engine, changed, self.year))
                except BaseException:
                    self._figures = None  # an update cut short leaves nothing to trust
                    raise
                self._figures, self.position = figures, target
                if position() == target:
                    return target, figures.report
        # The runner committed during every read: as behind as a runner not there yet.
        raise errors.Conflict(
            "the reward figures are still catching up with recorded events; try again",
            code="read_models_behind",
        )


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
    total, chosen = _chosen(report, query)
    with cyclic_gc_paused():
        associations = [_entry(a, rows, langs, query.explain) for a, rows in chosen]
    body: dict[str, Any] = {
        "year": report.year,
        "policy": report.policy,
        "associations": associations,
    }
    if query.page is not None:
        body.update(total=total, page=query.page, size=query.size)
    return body


# Associations' entries already encoded, by (id of the association object, languages,
# explanations): the object is kept with its bytes, so its id stays its own.
EncodedEntries = dict[tuple[int, tuple[str, ...], bool], tuple[AssociationReward, bytes]]


def reward_page_json(
    report: RewardReport,
    query: RewardQuery = RewardQuery(),
    encoded: EncodedEntries | None = None,
) -> bytes:
    """`reward_page` as JSON: the very bytes `msgspec.json.encode` gives of it. With `encoded`,
    an association's entry is encoded once and reused by every later answer that shows the
    same association object — a kept report replaces only the associations an update touched
    (`YearFigures`), so the whole year after a move encodes those alone. Entries whose rows
    are filtered by `status` are not kept."""
    langs = LANGUAGES if query.lang is None else (query.lang,)
    total, chosen = _chosen(report, query)
    keep = encoded is not None and query.status is None
    parts = []
    with cyclic_gc_paused():
        for association, rows in chosen:
            key = (id(association), langs, query.explain)
            found = encoded.get(key) if encoded is not None and keep else None
            if found is not None and found[0] is association:
                parts.append(found[1])
                continue
            entry = msgspec.json.encode(_entry(association, rows, langs, query.explain))
            if encoded is not None and keep:
                encoded[key] = (association, entry)
            parts.append(entry)
    # `{"year":…,"policy":…` then the associations spliced in, in the dict's key order.
    head = msgspec.json.encode({"year": report.year, "policy": report.policy})[:-1]
    body = [head, b',"associations":[', b",".join(parts), b"]"]
    if query.page is not None:
        paging = msgspec.json.encode({"total": total, "page": query.page, "size": query.size})
        body += [b",", paging[1:-1]]
    body.append(b"}")
    return b"".join(body)


def _chosen(
    report: RewardReport, query: RewardQuery
) -> tuple[int, list[tuple[AssociationReward, list[RewardRow]]]]:
    """How many associations the query matches, and those of its page with their rows."""
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
    return total, chosen


def _entry(
    association: AssociationReward, rows: list[RewardRow], langs: tuple[str, ...], explain: bool
) -> dict[str, Any]:
    data = replace(association, rows=[]).as_dict(langs)
    data["projects"] = [_row(r, langs, explain) for r in rows]
    return data


def _row(row: RewardRow, langs: tuple[str, ...], explain: bool) -> dict[str, Any]:
    if explain:
        return row.as_dict(langs)
    data = replace(row, explanation=()).as_dict(langs)
    del data["explanation"]
    return data
