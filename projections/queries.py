"""Queries on the read models for the API, the dispatch and the evaluation.

Each query looks up the active generation of the projection it reads, so a blue/green rebuild
switches readers over at once.
"""

from __future__ import annotations

import itertools
import json
import operator
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy.exc
from sqlalchemy import (
    BigInteger,
    Engine,
    Numeric,
    Text,
    and_,
    cast,
    func,
    inspect,
    or_,
    select,
    type_coerce,
)

from domain.duplicates import comparable
from domain.periods import parse_quarter
from projections.figures import CITY_TOTAL, FiguresProjection
from projections.ledger import LedgerProjection
from projections.progress import ProgressProjection, dispatch_query
from projections.runtime import Projection, chunked, decode_doc, projections_table
from projections.search import (
    TRIGRAM,
    SearchProjection,
    match_count,
    normalise,
    search_condition,
    search_rank,
    short_query_page,
)

ACTIVITY_INDICATORS = ("promotion", "service", "talent", "technology")


def evaluation_months(year: int, ends_month: int = 11) -> list[str]:
    """The twelve months of the evaluation year that ends with month `ends_month` of `year`;
    by default 30 November: December of the year before to November."""
    before = [f"{year - 1}-{m:02d}" for m in range(ends_month + 1, 13)]
    return before + [f"{year}-{m:02d}" for m in range(1, ends_month + 1)]


def months_before(day: date, months: int) -> date:
    year, month = day.year, day.month - months
    while month <= 0:
        month += 12
        year -= 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


@dataclass(frozen=True)
class MonthlySum:
    association_id: str
    city: str
    metric: str
    value: int


@dataclass
class Page:
    items: list[dict[str, Any]]
    total: int


class ReadModels:
    """Read access to every projection's active tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._ledger = LedgerProjection()
        self._figures = FiguresProjection()
        self._search = SearchProjection()
        self._progress = ProgressProjection()

    def _registered(self, column: str, name: str) -> Any:
        """A projection's `column` in the registry; None if it is not registered, or if no
        projection runner has ever run on this database (the registry itself is missing:
        say so, rather than let it pass for an unreachable database)."""
        query = select(projections_table.c[column]).where(projections_table.c.name == name)
        with self.engine.connect() as conn:
            try:
                return conn.execute(query).scalar_one_or_none()
            except sqlalchemy.exc.DBAPIError:
                conn.rollback()
                if inspect(conn).has_table(projections_table.name):
                    raise
                return None

    def _bound(self, projection: Projection) -> Projection:
        generation = self._registered("generation", projection.name)
        if generation is None:
            raise LookupError(f"projection {projection.name} has not been set up")
        if generation != projection.generation or not projection.tables:
            projection.bind(generation)
        return projection

    def position(self, name: str) -> int:
        return int(self._registered("position", name) or 0)

    # -- ledger -----------------------------------------------------------------------------

    def ledger_page(
        self,
        *,
        stage: str | None = None,
        city: str | None = None,
        association_id: str | None = None,
        industry: str | None = None,
        year: int | None = None,
        status: str | None = None,
        page: int = 1,
        size: int = 50,
        association_scope: str | None = None,
        officer_id: str | None = None,
        q: str | None = None,
    ) -> Page:
        """A page of the ledger, newest referral first; with `q`, only the projects whose name,
        investor or association matches it (text, pinyin or initials), best matches first."""
        tables = self._bound(self._ledger).tables
        projects, links, years = tables["projects"], tables["links"], tables["years"]
        conditions = []
        if stage:
            conditions.append(projects.c.stage == stage)
        if city:
            conditions.append(projects.c.city == city)
        if industry:
            conditions.append(projects.c.industry == industry)
        if status:
            conditions.append(projects.c.status == status)
        for scope in (association_id, association_scope):
            if scope:
                conditions.append(
                    projects.c.project_id.in_(
                        select(links.c.project_id).where(links.c.association_id == scope)
                    )
                )
        if year:
            conditions.append(
                or_(
                    projects.c.referred_on.like(f"{year}-%"),
                    projects.c.project_id.in_(
                        select(years.c.project_id).where(years.c.year == year)
                    ),
                )
            )
        if officer_id:
            officers = tables["officers"]
            conditions.append(
                projects.c.project_id.in_(
                    select(officers.c.project_id).where(officers.c.officer_id == officer_id)
                )
            )
        columns = [c for c in projects.c if c.name != "doc"]
        order: list[Any] = [projects.c.referred_on.desc(), projects.c.project_id]
        source: Any = projects
        wanted = normalise(q or "")
        if wanted and not conditions:
            return self._search_page(wanted, page, size)
        if wanted:
            self._bound(self._search)
            search = self._search
            found = search.tables["projects"]
            dialect = self.engine.dialect.name
            source = projects.join(found, found.c.project_id == projects.c.project_id)
            conditions.append(search_condition(dialect, search, wanted))
            # equal ranks newest first, as `_search_page` orders them
            order[1:1] = [found.c.number.desc()]
            order.insert(0, search_rank(search, wanted, dialect))
        where = and_(*conditions) if conditions else None
        query = select(*columns).select_from(source).order_by(*order)
        count = select(func.count()).select_from(source)
        if where is not None:
            query, count = query.where(where), count.where(where)
        query = query.limit(size).offset((page - 1) * size)
        with self.engine.connect() as conn:
            total = conn.execute(count).scalar_one()
            rows = [dict(r) for r in conn.execute(query).mappings()]
            self._attach_referrals(conn, links, rows)
        return Page(rows, int(total))

    def _search_page(self, wanted: str, page: int, size: int) -> Page:
        """`GET /projects?q=` with no other filter: matched, counted, ranked and cut to the
        page in the search table alone (it keeps `referred_on` for the order), then only the
        page's ledger rows are read — no join over every match."""
        ledger_tables = self._bound(self._ledger).tables
        projects, links = ledger_tables["projects"], ledger_tables["links"]
        found = self._bound(self._search).tables["projects"]
        dialect = self.engine.dialect.name
        if len(wanted) < TRIGRAM:
            counted, ranked = short_query_page(self._search, wanted, size, (page - 1) * size)
        else:
            condition = search_condition(dialect, self._search, wanted)
            counted = match_count(dialect, self._search, wanted)
            ranked = (
                select(found.c.project_id)
                .where(condition)
                .order_by(
                    search_rank(self._search, wanted, dialect),
                    found.c.referred_on.desc(),
                    found.c.number.desc(),
                )
                .limit(size)
                .offset((page - 1) * size)
            )
        columns = [c for c in projects.c if c.name != "doc"]
        with self.engine.connect() as conn:
            count = int(conn.execute(counted).scalar_one())
            ids = list(conn.execute(ranked).scalars())
            by_id = {
                r["project_id"]: dict(r)
                for r in conn.execute(
                    select(*columns).where(projects.c.project_id.in_(ids))
                ).mappings()
            }
            rows = [by_id[i] for i in ids if i in by_id]
            self._attach_referrals(conn, links, rows)
        return Page(rows, count)

    def _attach_referrals(self, conn: Any, links: Any, rows: list[dict[str, Any]]) -> None:
        ids = [r["project_id"] for r in rows]
        shares: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
        if ids:
            for link in conn.execute(
                select(links)
                .where(links.c.project_id.in_(ids))
                .order_by(links.c.project_id, links.c.association_id)
            ):
                shares[link.project_id].append(
                    {"association_id": link.association_id, "share": link.share}
                )
        for row in rows:
            row["referrals"] = shares[row["project_id"]]

    def ledger_row(self, project_id: str) -> dict[str, Any] | None:
        tables = self._bound(self._ledger).tables
        projects = tables["projects"]
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(projects).where(projects.c.project_id == project_id))
                .mappings()
                .first()
            )
            if row is None:
                return None
            result = dict(row)
            result["doc"] = json.loads(result["doc"])
            self._attach_referrals(conn, tables["links"], [result])
        return result

    def funds_by_year(self, project_id: str) -> dict[int, int]:
        years = self._bound(self._ledger).tables["years"]
        with self.engine.connect() as conn:
            return {
                r.year: r.funds_fen
                for r in conn.execute(
                    select(years).where(years.c.project_id == project_id).order_by(years.c.year)
                )
            }

    def associations(self, association_scope: str | None = None) -> list[dict[str, Any]]:
        table = self._bound(self._ledger).tables["associations"]
        query = select(table).order_by(table.c.association_id)
        if association_scope:
            query = query.where(table.c.association_id == association_scope)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def evaluation_entrants(self) -> list[dict[str, Any]]:
        """What an evaluation reads of every association (`compute_evaluation`): its id, name,
        whether active and when registered; a quarter of `associations()`'s time."""
        table = self._bound(self._ledger).tables["associations"]
        columns = ("association_id", "name", "active", "registered_on")
        query = select(*(table.c[c] for c in columns)).order_by(table.c.association_id)
        with self.engine.connect() as conn:
            return [dict(zip(columns, row, strict=True)) for row in conn.execute(query)]

    def follow_ups_due(self, as_of: date, interval_days: int) -> list[dict[str, Any]]:
        """Projects in production whose last follow-up (or production start) is older than the
        interval on `as_of`; withdrawn projects are left out."""
        projects = self._bound(self._ledger).tables["projects"]
        cutoff = (as_of - timedelta(days=interval_days)).isoformat()
        last = func.coalesce(projects.c.last_follow_up_on, projects.c.production_started_on)
        query = (
            select(
                projects.c.project_id,
                projects.c.name,
                projects.c.city,
                projects.c.stage,
                projects.c.production_started_on,
                projects.c.last_follow_up_on,
                projects.c.open_issues,
                last.label("last_contact_on"),
            )
            .where(projects.c.production_started_on.is_not(None))
            .where(projects.c.production_started_on <= as_of.isoformat())
            .where(projects.c.status != "withdrawn")
            .where(last < cutoff)
            .order_by(last, projects.c.project_id)
        )
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        for row in rows:
            row["days_since"] = (as_of - date.fromisoformat(row["last_contact_on"])).days
            row["overdue_days"] = row["days_since"] - interval_days
        return rows

    def stalled_signings(self, as_of: date, months: int = 3) -> list[dict[str, Any]]:
        """Projects signed more than `months` months before `as_of` with no funds and no
        construction (as the ledger stands)."""
        projects = self._bound(self._ledger).tables["projects"]
        cutoff = months_before(as_of, months).isoformat()
        query = (
            select(
                projects.c.project_id,
                projects.c.name,
                projects.c.city,
                projects.c.signed_on,
                projects.c.contract_amount_fen,
                projects.c.status,
            )
            .where(projects.c.signed_on.is_not(None))
            .where(projects.c.signed_on < cutoff)
            .where(projects.c.funds_total_fen == 0)
            .where(projects.c.construction_started_on.is_(None))
            .where(projects.c.status != "withdrawn")
            .order_by(projects.c.signed_on, projects.c.project_id)
        )
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def ledger_docs(self, until: date) -> list[dict[str, Any]]:
        """Every project referred on or before `until`, with its dated facts (ledger doc)."""
        projects = self._bound(self._ledger).tables["projects"]
        query = (
            select(projects.c.project_id, projects.c.name, projects.c.city, projects.c.doc)
            .where(projects.c.referred_on <= until.isoformat())
            .order_by(projects.c.project_id)
        )
        rows = []
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                doc = decode_doc(row.doc)
                doc["project_id"], doc["name"], doc["city"] = row.project_id, row.name, row.city
                rows.append(doc)
        return rows

    def dispatch_rows(
        self, quarter: str, stalled_cutoff: str, overdue_cutoff: str
    ) -> list[dict[str, Any]]:
        """The progress read model's rows that can appear in the quarter's dispatch, by
        project id (`projections.progress.dispatch_query`)."""
        quarters = self._bound(self._progress).tables["quarters"]
        query = dispatch_query(quarters, quarter, stalled_cutoff, overdue_cutoff)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def open_issues(
        self, project_ids: set[str] | None = None, raised_before: date | None = None
    ) -> list[dict[str, Any]]:
        """Every issue not yet closed (办结), with its project and the day it was raised; only
        those of `project_ids` when given, only those raised before `raised_before` when
        given. Oldest first. Read from the ledger's open-issue rows, not the documents."""
        tables = self._bound(self._ledger).tables
        projects, issues = tables["projects"], tables["open_issues"]
        query = (
            select(
                issues.c.project_id,
                projects.c.name,
                issues.c.issue_id,
                issues.c.raised_on,
                issues.c.category,
            )
            .select_from(issues.join(projects, projects.c.project_id == issues.c.project_id))
            .where(projects.c.status != "withdrawn")
        )
        if project_ids is not None:
            query = query.where(issues.c.project_id.in_(sorted(project_ids)))
        if raised_before is not None:
            query = query.where(issues.c.raised_on < raised_before.isoformat())
        with self.engine.connect() as conn:
            # Tens of thousands of rows of plain text: straight from the driver's cursor.
            rows = list(conn.execute(query).cursor.fetchall())
        # Sorted here, not by the database: the same order whatever its collation.
        rows.sort(key=operator.itemgetter(3, 0, 2))
        return [
            {
                "project_id": project_id,
                "name": name,
                "issue_id": issue_id,
                "raised_on": raised_on,
                "category": category,
            }
            for project_id, name, issue_id, raised_on, category in rows
        ]

    def project_officers(self) -> dict[str, list[str]]:
        """The officers following each project (`POST /projects/{id}/officers`), for the
        reminders sent to them."""
        officers = self._bound(self._ledger).tables["officers"]
        query = select(officers.c.project_id, officers.c.officer_id).order_by(
            officers.c.project_id, officers.c.officer_id
        )
        found: dict[str, list[str]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                found.setdefault(str(row.project_id), []).append(str(row.officer_id))
        return found

    def first_business_date(self) -> date | None:
        """The earliest referral or association registration on record."""
        tables = self._bound(self._ledger).tables
        with self.engine.connect() as conn:
            days = [
                conn.execute(select(func.min(tables["projects"].c.referred_on))).scalar(),
                conn.execute(select(func.min(tables["associations"].c.registered_on))).scalar(),
            ]
        found = [date.fromisoformat(d) for d in days if d]
        return min(found) if found else None

    # -- duplicates (domain.duplicates.DuplicateFinder) --------------------------------------

    def associations_named(self, name: str, based_in: str) -> list[str]:
        try:
            table = self._bound(self._ledger).tables["associations"]
        except LookupError:
            return []  # no read models yet: nothing recorded to compare with
        query = select(table.c.association_id, table.c.name, table.c.based_in)
        wanted = (comparable(name), comparable(based_in))
        with self.engine.connect() as conn:
            return [
                r.association_id
                for r in conn.execute(query)
                if (comparable(r.name or ""), comparable(r.based_in or "")) == wanted
            ]

    def projects_like(self, name: str, investor: str, city: str) -> list[str]:
        try:
            projects = self._bound(self._ledger).tables["projects"]
        except LookupError:
            return []
        query = select(projects.c.project_id, projects.c.name, projects.c.investor).where(
            projects.c.city == city
        )
        wanted = (comparable(name), comparable(investor))
        with self.engine.connect() as conn:
            return [
                r.project_id
                for r in conn.execute(query)
                if (comparable(r.name or ""), comparable(r.investor or "")) == wanted
            ]

    def project_keys(self) -> list[tuple[str, str, str, str]]:
        """(project id, name, investor, city) of every project: the ledger import's look-up
        of projects already recorded, in one query."""
        try:
            projects = self._bound(self._ledger).tables["projects"]
        except LookupError:
            return []
        query = select(projects.c.project_id, projects.c.name, projects.c.investor, projects.c.city)
        with self.engine.connect() as conn:
            return [(str(a), str(b), str(c), str(d)) for a, b, c, d in conn.execute(query)]

    def project_names(self, only: Collection[str] | None = None) -> dict[str, str]:
        """Project id → name: every project, or `only` those (a page's rows)."""
        projects = self._bound(self._ledger).tables["projects"]
        query = select(projects.c.project_id, projects.c.name)
        if only is not None:
            query = query.where(projects.c.project_id.in_(list(only)))
        with self.engine.connect() as conn:
            return dict(conn.execute(query).tuples().all())

    def association_names(self, only: Collection[str] | None = None) -> dict[str, str]:
        """Association id → name: every association (by id, two columns read: a form's list of
        2,000), or `only` those (a page's rows)."""
        table = self._bound(self._ledger).tables["associations"]
        query = select(table.c.association_id, table.c.name)
        if only is None:
            query = query.order_by(table.c.association_id)
        else:
            query = query.where(table.c.association_id.in_(list(only)))
        with self.engine.connect() as conn:
            return dict(conn.execute(query).tuples().all())

    # -- figures ----------------------------------------------------------------------------

    def _monthly(self, months: list[str]) -> list[Any]:
        """The counters of `months` summed per (association, city, metric) — in Python: they
        are decimal text, so that no sum can overflow a column (`projections.amounts`)."""
        monthly = self._bound(self._figures).tables["monthly"]
        query = select(
            monthly.c.association_id, monthly.c.city, monthly.c.metric, monthly.c.value
        ).where(monthly.c.month.in_(months))
        sums: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        with self.engine.connect() as conn:
            for association_id, city, metric, value in conn.execute(query):
                sums[(association_id, city, metric)] += value
        return [
            MonthlySum(association_id, city, metric, value)
            for (association_id, city, metric), value in sorted(sums.items())
        ]

    def _quarterly_spans(
        self, spans: dict[str, list[str]]
    ) -> dict[str, list[tuple[tuple[str, str, str], int]]]:
        """The quarterly counters of several spans of quarters summed per (association, city,
        metric), the rows of their union read once (the quarter lies inside the year to date).
        The counters come as their text and are summed as Python integers
        (`projections.amounts`), without SQLAlchemy's per-row type processing."""
        quarterly = self._bound(self._figures).tables["quarterly"]
        every = sorted({q for quarters in spans.values() for q in quarters})
        query = select(
            quarterly.c.quarter,
            quarterly.c.association_id,
            quarterly.c.city,
            quarterly.c.metric,
            type_coerce(quarterly.c.value, Text()),
        ).where(quarterly.c.quarter.in_(every))
        sums: dict[str, defaultdict[tuple[str, str, str], int]] = {
            label: defaultdict(int) for label in spans
        }
        labels_of = {q: [sums[label] for label, qs in spans.items() if q in qs] for q in every}
        with self.engine.connect() as conn:
            for quarter, association_id, city, metric, value in conn.execute(query).tuples():
                key = (association_id, city, metric)
                amount = int(value)
                for found in labels_of[quarter]:
                    found[key] += amount
        return {label: sorted(found.items()) for label, found in sums.items()}

    def dispatch_figures(self, quarter: str) -> dict[str, Any]:
        """The quarter's figures per association and per city, and the year to date."""
        year, number = parse_quarter(quarter)
        ytd_quarters = [f"{year}Q{q}" for q in range(1, number + 1)]
        result: dict[str, Any] = {"quarter": quarter.upper()}
        rows = self._quarterly_spans(
            {"quarter_figures": [f"{year}Q{number}"], "year_to_date": ytd_quarters}
        )
        for label in ("quarter_figures", "year_to_date"):
            by_association: defaultdict[str, defaultdict[str, int]] = defaultdict(
                lambda: defaultdict(int)
            )
            by_city: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
            by_pair: defaultdict[tuple[str, str], defaultdict[str, int]] = defaultdict(
                lambda: defaultdict(int)
            )
            province: defaultdict[str, int] = defaultdict(int)
            for (association_id, city, metric), value in rows[label]:
                if association_id == CITY_TOTAL:
                    by_city[city][metric] += value
                    province[metric] += value
                else:
                    by_association[association_id][metric] += value
                    if city != CITY_TOTAL:
                        by_pair[(association_id, city)][metric] += value
            result[label] = {
                "province": dict(province),
                "by_city": {c: dict(v) for c, v in sorted(by_city.items())},
                "by_association": {a: dict(v) for a, v in sorted(by_association.items())},
                "by_association_city": [
                    {"association_id": a, "city": c, **dict(v)}
                    for (a, c), v in sorted(by_pair.items())
                ],
            }
        return result

    def evaluation_indicators(
        self,
        year: int,
        ends_month: int = 11,
        associations: Collection[str] | None = None,
    ) -> dict[str, dict[str, int]]:
        """Per association, the evaluation year's indicators (activities by kind, referrals,
        visits, negotiations, signings, funds in fen); the year ends with month `ends_month`.
        Every registered association is listed (`associations`, when the caller has their ids
        at hand already)."""
        indicators: defaultdict[str, dict[str, int]] = defaultdict(dict)
        indicators.update(self.association_sums(year, ends_month))
        if associations is None:
            associations = [str(a["association_id"]) for a in self.associations()]
        for association_id in associations:
            indicators[association_id]  # every registered association is listed
        return {a: v for a, v in sorted(indicators.items())}

    def association_sums(
        self, year: int, ends_month: int = 11, only: Collection[str] | None = None
    ) -> dict[str, dict[str, int]]:
        """Per association with a counter in the evaluation year, its counters' sums over the
        year (metric → value, money in fen); with `only`, of those associations alone."""
        sums: dict[str, dict[str, int]] = {}
        months = evaluation_months(year, ends_month)
        for association_id, metric, value in self._association_sums(months, only):
            sums.setdefault(association_id, {})[metric] = value
        return sums

    def _association_sums(
        self, months: list[str], only: Collection[str] | None = None
    ) -> list[tuple[str, str, int]]:
        """Each association's counters over `months` (every city together; not the cities' own
        totals), summed in the database: whole quarters from the quarterly counters, the other
        months from the monthly ones — a few tens of thousands of sums rather than hundreds of
        thousands of rows through Python at province scale.

        The counters are decimal text that no sum may overflow (`projections.amounts`): on
        PostgreSQL they are summed as NUMERIC (exact at any size); on SQLite as 64-bit integers
        only while each fits in 18 digits, the longer ones in Python, and a sum that would
        overflow (SQLite refuses it) falls back to summing every row in Python."""
        tables = self._bound(self._figures).tables
        spans = _whole_quarters(months)
        quarters = [q for q, in_it in spans.items() if all(m in months for m in in_it)]
        covered = {m for q in quarters for m in spans[q]}
        parts = [
            (tables["quarterly"], tables["quarterly"].c.quarter, quarters),
            (tables["monthly"], tables["monthly"].c.month, [m for m in months if m not in covered]),
        ]
        sums: defaultdict[tuple[str, str], int] = defaultdict(int)
        postgres = self.engine.dialect.name == "postgresql"
        groups: list[list[str] | None] = (
            [None] if only is None else [list(p) for p in chunked(sorted(only), 500)]
        )
        with self.engine.connect() as conn:
            for (table, period, periods), group in itertools.product(parts, groups):
                if not periods:
                    continue
                text = type_coerce(table.c.value, Text())
                keys = (table.c.association_id, table.c.metric)
                chosen = and_(period.in_(periods), table.c.association_id != CITY_TOTAL)
                if group is not None:
                    chosen = and_(chosen, table.c.association_id.in_(group))
                short = func.length(text) <= 18
                number: Numeric[Any] | BigInteger = Numeric() if postgres else BigInteger()
                summed = func.sum(cast(text, number))
                query = select(*keys, summed).where(chosen).group_by(*keys)
                found: list[Any]
                try:
                    if postgres:
                        found = list(conn.execute(query).tuples())
                    else:
                        found = list(conn.execute(query.where(short)).tuples())
                        found += conn.execute(select(*keys, text).where(chosen, ~short)).tuples()
                except sqlalchemy.exc.OperationalError:  # SQLite: the sum overflows 64 bits
                    conn.rollback()
                    found = list(conn.execute(select(*keys, text).where(chosen)).tuples())
                for association_id, metric, value in found:
                    sums[(association_id, metric)] += int(value)
        return [(a, m, v) for (a, m), v in sums.items()]


def _whole_quarters(months: list[str]) -> dict[str, list[str]]:
    """The quarters the months fall in (`2024Q1` → its three months)."""
    found: dict[str, list[str]] = {}
    for month in months:
        number = (int(month[5:7]) - 1) // 3 + 1
        first = (number - 1) * 3 + 1
        found[f"{month[:4]}Q{number}"] = [f"{month[:4]}-{m:02d}" for m in range(first, first + 3)]
    return found
