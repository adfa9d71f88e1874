"""Work figures per month × association × landing city, the base of the quarterly dispatch
(季调度) and of the annual evaluation indicators (评价, 1 December – 30 November).

Counters are additive: a batch adds its deltas to the stored values in Python and writes them back
with one upsert per key (a row whose counter comes back to zero is removed). Counters are decimal
text (`WholeNumberText`), so no sum of accepted amounts or counts can overflow. Each event counts
once for every referring association (amounts split by the shares in force, to the fen) and once
more under the association id `""`, the city's own total, so city and province totals never
count a jointly referred project twice.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    insert,
)

from adapters.reader import FastEventReader, events_of, headers_between
from domain.association import Association
from domain.project import Project
from domain.values import largest_remainder, to_cny, to_fen
from projections.amounts import WholeNumberText
from projections.ledger import day_text, month_text
from projections.runtime import (
    Handler,
    Projection,
    ascii_document_text,
    chunked,
    decode_doc,
    insert_rows,
    insert_values,
    load_docs,
    touched,
    upsert,
)

CITY_TOTAL = ""
METRICS = (
    "referrals",
    "visits",
    "negotiations",
    "signings",
    "signed_amount_fen",
    "funds_fen",
    "production_starts",
    "capacity_reached",
    "follow_ups",
    "issues_raised",
    "issues_closed",
    "activities",
    "activity_reach",
    "promotion",
    "service",
    "talent",
    "technology",
)


@functools.cache
def quarter_of_month(month: str) -> str:
    """`2024-11` → `2024Q4`."""
    return f"{month[:4]}Q{(int(month[5:7]) - 1) // 3 + 1}"


def split_fen(total: int, shares: Sequence[tuple[str, str]]) -> list[tuple[str, int]]:
    """Split an amount by percentage shares so the parts add up exactly (the project's one
    largest-remainder split and tie rule: equal remainders to the larger share, then by
    association id — as the reward split does)."""
    hundredths = [int(Decimal(s) * 100) for _, s in shares]
    parts = largest_remainder(total, hundredths, [a for a, _ in shares])
    return [(a, part) for (a, _), part in zip(shares, parts, strict=True)]


class FiguresProjection(Projection):
    name = "figures"
    schema_version = 3  # 2: counters as WholeNumberText; 3: ties of the split by larger share, and the counters per quarter
    event_fields = frozenset(
        {
            "amount",
            "arrival_id",
            "arrived_on",
            "city",
            "contract_amount",
            "count",
            "kind",
            "occurred_on",
            "rate_to_cny",
            "referrals",
        }
    )

    def __init__(self) -> None:
        super().__init__()
        self.docs: dict[str, dict[str, Any]] = {}
        self.dirty: set[str] = set()
        self.deltas: defaultdict[tuple[str, str, str, str], int] = defaultdict(int)

    def define_tables(self, metadata: MetaData, generation: int) -> dict[str, Table]:
        monthly = Table(
            self.table_name("monthly", generation),
            metadata,
            Column("month", String(7), primary_key=True),
            Column("association_id", String(36), primary_key=True),
            Column("city", String(32), primary_key=True),
            Column("metric", String(32), primary_key=True),
            Column("value", WholeNumberText, nullable=False),
        )
        # The monthly counters summed per quarter, kept in step by `flush`: the dispatch's year
        # to date reads four quarters' rows rather than twelve months'.
        quarterly = Table(
            self.table_name("quarterly", generation),
            metadata,
            Column("quarter", String(6), primary_key=True),
            Column("association_id", String(36), primary_key=True),
            Column("city", String(32), primary_key=True),
            Column("metric", String(32), primary_key=True),
            Column("value", WholeNumberText, nullable=False),
        )
        projects = Table(
            self.table_name("projects", generation),
            metadata,
            Column("project_id", String(36), primary_key=True),
            Column("doc", Text, nullable=False),
        )
        return {"monthly": monthly, "quarterly": quarterly, "projects": projects}

    def handlers(self) -> dict[type, Handler]:
        return {
            Project.Referred: self.on_referred,
            Project.VisitRecorded: self.on_visit_recorded,
            Project.NegotiationRecorded: self.on_negotiation_recorded,
            Project.Signed: self.on_signed,
            Project.FundsArrived: self.on_funds_arrived,
            Project.FundsArrivalCorrected: self.on_funds_arrival_corrected,
            Project.FundsArrivalVoided: self.on_funds_arrival_voided,
            Project.ProductionStarted: self.on_production_started,
            Project.CapacityReached: self.on_capacity_reached,
            Project.FollowUpVisitRecorded: self.on_follow_up_visit_recorded,
            Project.IssueRaised: self.on_issue_raised,
            Project.IssueClosed: self.on_issue_closed,
            Project.AttributionChanged: self.on_attribution_changed,
            Project.Reclassified: self.on_touch,
            Association.ActivityRecorded: self.on_activity_recorded,
        }

    def begin_batch(self, conn: Connection, events: Sequence[Any]) -> None:
        kept = self.kept.take(touched(events))
        self.docs.update(load_docs(conn, self.tables["projects"], events, kept))
        self.docs.update(kept)

    def reset(self) -> None:
        self.docs.clear()
        self.dirty.clear()
        self.deltas.clear()

    def flush(self, conn: Connection) -> None:
        projects = self.tables["projects"]
        by_quarter: defaultdict[tuple[str, str, str, str], int] = defaultdict(int)
        for (month, association_id, city, metric), delta in self.deltas.items():
            by_quarter[(quarter_of_month(month), association_id, city, metric)] += delta
        self._add(conn, self.tables["monthly"], "month", self.deltas)
        self._add(conn, self.tables["quarterly"], "quarter", by_quarter)
        documents = (
            insert(projects) if self.bulk else upsert(conn.dialect, projects, ["project_id"])
        )
        for ids in chunked(sorted(self.dirty), 1000):
            docs = []
            for project_id in ids:
                doc = self.docs[project_id]
                stored = ascii_document_text(doc)
                docs.append({"project_id": project_id, "doc": stored})
                self.kept.keep(project_id, doc, functools.partial(decode_doc, stored))
            if self.bulk:
                insert_rows(conn, projects, docs)
            else:
                conn.execute(documents, docs)
        self.deltas.clear()
        self.dirty.clear()
        if not self.bulk:
            self.docs.clear()

    def _add(
        self,
        conn: Connection,
        table: Table,
        period: str,
        deltas: dict[tuple[str, str, str, str], int],
    ) -> None:
        """Add the deltas to the counters of `table` (keyed by `period`, association, city and
        metric)."""
        keys = [period, "association_id", "city", "metric"]
        if self.bulk:
            # Fresh tables, nothing stored to add to: tuples in key order, in large parts.
            # (Keys are unique, so the sort never compares the totals.)
            counted = sorted([(*key, total) for key, total in deltas.items() if total != 0])
            for part in chunked(counted, 20_000):
                insert_values(conn, table, [*keys, "value"], list(part))
            return
        counters = upsert(conn.dialect, table, keys)
        one_counter = and_(*(table.c[k] == bindparam(f"key_{k}") for k in keys))
        changed = sorted(k for k, v in deltas.items() if v != 0)
        # Every stored counter read before any is written: the runner runs a flush's reads
        # before it takes the writer and its writes after (`runtime.DeferredWrites`).
        parts: list[dict[tuple[str, str, str, str], int]] = []
        for part in chunked(changed, 500):  # in parts: bounded statements
            totals = {key: deltas[key] for key in part}
            for when, association_id, city, metric, value in _stored_counters(
                conn, table, keys, part
            ):
                totals[(when, association_id, city, metric)] += int(value)
            parts.append(totals)
        for totals in parts:
            # A correction or void can take a counter back to zero; a rebuild would never
            # write such a row, so remove it to keep incremental and rebuilt tables identical.
            zeros = [key for key, total in totals.items() if total == 0]
            if zeros:
                conn.execute(
                    delete(table).where(one_counter),
                    [{f"key_{k}": v for k, v in zip(keys, key, strict=True)} for key in zeros],
                )
            rows = [
                {period: m, "association_id": a, "city": c, "metric": k, "value": total}
                for (m, a, c, k), total in totals.items()
                if total != 0
            ]
            if rows:
                conn.execute(counters, rows)

    # -- counting ---------------------------------------------------------------------------

    def _count(
        self, doc: dict[str, Any], month: str, metric: str, amount: int = 1, split: bool = False
    ) -> None:
        city = doc["city"]
        self.deltas[(month, CITY_TOTAL, city, metric)] += amount
        if split:
            for association_id, part in split_fen(amount, doc["referrals"]):
                self.deltas[(month, association_id, city, metric)] += part
        else:
            for association_id, _ in doc["referrals"]:
                self.deltas[(month, association_id, city, metric)] += amount

    def _doc(self, event: Any) -> dict[str, Any]:
        project_id = str(event.originator_id)
        self.dirty.add(project_id)
        return self.docs[project_id]

    @staticmethod
    def _month(event: Any) -> str:
        return month_text(day_text(event.occurred_on))

    def on_referred(self, event: Project.Referred) -> None:
        project_id = str(event.originator_id)
        doc = {
            "city": event.city,
            "referrals": [[r["association_id"], str(r["share"])] for r in event.referrals],
            "arrivals": {},
        }
        self.docs[project_id] = doc
        self.dirty.add(project_id)
        self._count(doc, self._month(event), "referrals")

    def on_visit_recorded(self, event: Project.VisitRecorded) -> None:
        self._count(self._doc(event), self._month(event), "visits")

    def on_negotiation_recorded(self, event: Project.NegotiationRecorded) -> None:
        self._count(self._doc(event), self._month(event), "negotiations")

    def on_signed(self, event: Project.Signed) -> None:
        doc = self._doc(event)
        month = self._month(event)
        self._count(doc, month, "signings")
        self._count(
            doc,
            month,
            "signed_amount_fen",
            to_fen(to_cny(event.contract_amount, event.rate_to_cny)),
            split=True,
        )

    def on_funds_arrived(self, event: Project.FundsArrived) -> None:
        doc = self._doc(event)
        fen = to_fen(to_cny(event.amount, event.rate_to_cny))
        month = self._month(event)
        doc["arrivals"][event.arrival_id] = [month, fen, doc["referrals"]]
        self._count(doc, month, "funds_fen", fen, split=True)

    def _take_back(self, doc: dict[str, Any], arrival_id: str) -> None:
        """Undo an arrival's earlier count in its own month, with the shares it was split by."""
        month, fen, referrals = doc["arrivals"][arrival_id]
        self.deltas[(month, CITY_TOTAL, doc["city"], "funds_fen")] -= fen
        for association_id, part in split_fen(fen, referrals):
            self.deltas[(month, association_id, doc["city"], "funds_fen")] -= part

    def on_funds_arrival_corrected(self, event: Project.FundsArrivalCorrected) -> None:
        doc = self._doc(event)
        self._take_back(doc, event.arrival_id)
        fen = to_fen(to_cny(event.amount, event.rate_to_cny))
        month = month_text(day_text(event.arrived_on))
        doc["arrivals"][event.arrival_id] = [month, fen, doc["referrals"]]
        self._count(doc, month, "funds_fen", fen, split=True)

    def on_funds_arrival_voided(self, event: Project.FundsArrivalVoided) -> None:
        doc = self._doc(event)
        self._take_back(doc, event.arrival_id)
        doc["arrivals"][event.arrival_id][1] = 0

    def on_production_started(self, event: Project.ProductionStarted) -> None:
        self._count(self._doc(event), self._month(event), "production_starts")

    def on_capacity_reached(self, event: Project.CapacityReached) -> None:
        self._count(self._doc(event), self._month(event), "capacity_reached")

    def on_follow_up_visit_recorded(self, event: Project.FollowUpVisitRecorded) -> None:
        self._count(self._doc(event), self._month(event), "follow_ups")

    def on_issue_raised(self, event: Project.IssueRaised) -> None:
        self._count(self._doc(event), self._month(event), "issues_raised")

    def on_issue_closed(self, event: Project.IssueClosed) -> None:
        self._count(self._doc(event), self._month(event), "issues_closed")

    def on_attribution_changed(self, event: Project.AttributionChanged) -> None:
        # Figures already counted stay with the associations of their time; later ones follow
        # the new attribution.
        self._doc(event)["referrals"] = [
            [r["association_id"], str(r["share"])] for r in event.referrals
        ]

    def on_touch(self, event: Any) -> None:
        self._doc(event)

    def on_activity_recorded(self, event: Association.ActivityRecorded) -> None:
        month = self._month(event)
        association_id = str(event.originator_id)
        for metric, amount in (("activities", 1), ("activity_reach", event.count), (event.kind, 1)):
            self.deltas[(month, association_id, CITY_TOTAL, metric)] += amount


def associations_counted_between(
    reader: FastEventReader, after: int, upto: int, most: int
) -> set[str] | None:
    """Every association whose counters the events after `after` up to `upto` may have moved
    (None: more than `most` events, too many to tell): those with an activity recorded there,
    and every association ever named as a referrer of a project with an event there — a
    project's counts, and the corrections and voids that take them back, only ever go to its
    referrers of some time (`_count`, `_take_back`). Names read from the log, not from the
    read models, so they hold whatever position those stand at."""
    headers = headers_between(reader, after, upto, most)
    if headers is None:
        return None
    moved: set[str] = set()
    projects = []
    for stream, topic in headers:
        cls = reader.event_class(topic)
        if issubclass(cls, Project.Event):
            projects.append(stream)
        elif issubclass(cls, Association.ActivityRecorded):
            moved.add(str(reader.stream_id(stream)))
    for event in events_of(reader, set(projects), (Project.Referred, Project.AttributionChanged)):
        moved.update(str(r["association_id"]) for r in event.referrals)
    return moved


def _stored_counters(
    conn: Connection, table: Table, keys: Sequence[str], wanted: Sequence[tuple[str, ...]]
) -> list[tuple[str, str, str, str, str]]:
    """The stored counters among `wanted` (their keys in `keys` order), one primary-key lookup
    each: the keys as rows of a `VALUES` joined to the table. A row-value `IN` list made SQLite
    scan the whole table instead — 1.5 s for 200 keys among a million counters at province,
    twice a batch, with the database's one writer held (issue 23). Driver SQL with positional
    parameters: as a `text()` of up to 2,000 named ones, SQLAlchemy's parsing, compiling and
    cache key cost the runner more than the lookup did."""
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}[conn.dialect.paramstyle]
    row = "(" + ", ".join([mark] * len(keys)) + ")"
    names = ", ".join(f"c{j}" for j in range(len(keys)))
    on = " AND ".join(f"t.{key} = w.c{j}" for j, key in enumerate(keys))
    columns = ", ".join(f"t.{key}" for key in keys)
    statement = (
        f"WITH w({names}) AS (VALUES {', '.join([row] * len(wanted))}) "
        f"SELECT {columns}, t.value FROM w JOIN {table.name} AS t ON {on}"
    )
    params = tuple(value for key in wanted for value in key)
    return [tuple(found) for found in conn.exec_driver_sql(statement, params)]
