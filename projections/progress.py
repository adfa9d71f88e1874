"""The per-quarter progress read model behind the quarterly dispatch (季调度).

The dispatch draws every project up as of its quarter's last day: stage, status, what happened
in the quarter, open problems, whether a signing is stalled, when it was last followed up.
Drawing that from each project's ledger document meant decoding 20,000 documents a quarter at
province scale. This projection folds the same per-project document as the ledger (it reuses
the ledger's handlers, so the two cannot drift) and, for each quarter in which a project has a
dated fact, writes one row with the project drawn up as of that quarter's end by the very
functions the dispatch used (`projections.as_of`). Between two such quarters nothing dated
happens, so a project stands as its latest row says (with no progress of its own): the
dispatch of quarter Q reads, per project, the row whose quarter ≤ Q < `next_quarter`, and only
those that can appear in it (`ReadModels.dispatch_rows`).

Rows of a project are rewritten whole whenever one of its events is projected (a late event
changes every quarter from its own onwards); its folded document is kept in `projects.doc`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    select,
)

from domain.periods import quarter_bounds
from domain.project import STAGE_RULE, Project, stage_from
from projections.as_of import MILESTONE_WORDS, fen_to_yuan
from projections.ledger import LedgerProjection, document_text
from projections.runtime import (
    Handler,
    Projection,
    chunked,
    decode_doc,
    insert_rows,
    load_docs,
    touched,
    upsert,
)

MILESTONES = (
    "referred_on",
    "first_visit_on",
    "signed_on",
    "registered_on",
    "construction_started_on",
    "production_started_on",
    "capacity_reached_on",
)
# Facts counted per month in a document, as [count, first day, last day].
MONTHLY_FACTS = ("visits", "negotiations", "follow_ups")


@functools.cache
def quarter_of_day(day: str) -> str:
    """`2023-11-05` → `2023Q4` (ISO text in, as the documents hold dates)."""
    return f"{day[:4]}Q{(int(day[5:7]) - 1) // 3 + 1}"


@functools.cache
def quarter_days(quarter: str) -> tuple[str, str]:
    start, end = quarter_bounds(quarter)
    return start.isoformat(), end.isoformat()


def dated_days(doc: dict[str, Any]) -> Iterator[str]:
    """Every business date the document holds: whatever an as-of drawing depends on."""
    for column in MILESTONES:
        if doc[column]:
            yield doc[column]
    for key in MONTHLY_FACTS:
        for _, first, last in doc["dates"][key].values():
            yield first
            yield last
    for day, _ in doc["dates"]["status"]:
        yield day
    for day, _, _ in doc["arrivals"].values():
        yield day
    for raised_on, closed_on, _ in doc["issues"].values():
        yield raised_on
        if closed_on:
            yield closed_on


def json_list(words: list[str]) -> str:
    """As `json.dumps(words, ensure_ascii=False)`; most quarters' lists are empty."""
    return json.dumps(words, ensure_ascii=False) if words else "[]"


def quarter_rows(project_id: str, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The project drawn up as of the end of each quarter holding one of its dated facts.

    One pass over the document's dated facts, each put in its quarter, then one sweep over the
    quarters in order: the same rows as drawing the project up quarter by quarter with
    `projections.as_of` (a day is on or before a quarter's end exactly when its quarter is
    not later; `tests/unit/test_progress_rows.py` checks the two agree)."""
    dates = doc["dates"]
    issues = doc["issues"].values()
    live_arrivals = [(day, fen) for day, fen, voided in doc["arrivals"].values() if not voided]
    quarters = sorted({quarter_of_day(day) for day in dated_days(doc)})
    # What happened in each quarter, in the order of `progress_in`'s words.
    counted: dict[str, dict[str, int]] = {}
    last_follow_up: dict[str, str] = {}  # the quarter's latest follow-up day
    first_reached: dict[str, str] = {}  # a fact → the quarter it was first reached in
    for key in MONTHLY_FACTS:
        for month, (count, first, last) in dates[key].items():
            quarter = quarter_of_day(month)
            in_quarter = counted.setdefault(quarter, {})
            in_quarter[key] = in_quarter.get(key, 0) + count
            if key == "follow_ups":
                if last > last_follow_up.get(quarter, ""):
                    last_follow_up[quarter] = last
            else:
                first_quarter = quarter_of_day(first)
                if key not in first_reached or first_quarter < first_reached[key]:
                    first_reached[key] = first_quarter
    for _, column in STAGE_RULE:
        if column not in MONTHLY_FACTS and doc[column] is not None:
            first_reached[column] = quarter_of_day(doc[column])
    funds: dict[str, int] = {}
    for day, fen in live_arrivals:
        quarter = quarter_of_day(day)
        funds[quarter] = funds.get(quarter, 0) + fen
    raised: dict[str, int] = {}
    closed: dict[str, int] = {}
    problems = []  # (quarter raised, quarter closed or None, category)
    for raised_on, closed_on, category in issues:
        raised_in = quarter_of_day(raised_on)
        raised[raised_in] = raised.get(raised_in, 0) + 1
        closed_in = None
        if closed_on is not None:
            closed_in = quarter_of_day(closed_on)
            closed[closed_in] = closed.get(closed_in, 0) + 1
        problems.append((raised_in, closed_in, category))
    statuses = sorted(dates["status"])  # as `status_as_of` reads them: by day, then status
    funded = [day for day, _ in live_arrivals]
    first_funded_on = min(funded) if funded else None
    referrals = json.dumps([a for a, _ in doc["referrals"]], ensure_ascii=False)
    rows = []
    status = "active"
    next_status = 0
    latest_follow_up: str | None = None
    for index, quarter in enumerate(quarters):
        while next_status < len(statuses) and quarter_of_day(statuses[next_status][0]) <= quarter:
            status = statuses[next_status][1]
            next_status += 1
        if quarter in last_follow_up and (
            latest_follow_up is None or last_follow_up[quarter] > latest_follow_up
        ):
            latest_follow_up = last_follow_up[quarter]
        reached = {fact for fact, first in first_reached.items() if first <= quarter}
        open_now = sorted(
            category
            for raised_in, closed_in, category in problems
            if raised_in <= quarter and (closed_in is None or closed_in > quarter)
        )
        progress = []
        in_quarter = counted.get(quarter, {})
        for key, label in (("visits", "考察"), ("negotiations", "洽谈"), ("follow_ups", "回访")):
            if in_quarter.get(key):
                progress.append(f"{label}{in_quarter[key]}次")
        for column, label in MILESTONE_WORDS:
            day = doc[column]
            if day is not None and quarter_of_day(day) == quarter:
                progress.append(f"{label}（{day}）")
        if funds.get(quarter):
            progress.append(f"资金到位{fen_to_yuan(funds[quarter])}元")
        if raised.get(quarter):
            progress.append(f"新提问题诉求{raised[quarter]}项")
        if closed.get(quarter):
            progress.append(f"办结问题诉求{closed[quarter]}项")
        rows.append(
            {
                "project_id": project_id,
                "quarter": quarter,
                "next_quarter": quarters[index + 1] if index + 1 < len(quarters) else None,
                "name": doc["name"],
                "city": doc["city"],
                "referred_on": doc["referred_on"],
                "associations": referrals,
                "stage": stage_from(reached.__contains__),
                "status": status,
                "progress": json_list(progress),
                "open_problems": json_list(open_now),
                "has_problems": 1 if open_now else 0,
                "signed_on": doc["signed_on"],
                "first_funded_on": first_funded_on,
                "construction_started_on": doc["construction_started_on"],
                "production_started_on": doc["production_started_on"],
                "last_follow_up_on": latest_follow_up,
            }
        )
    return rows


class ProgressProjection(LedgerProjection):
    name = "progress"
    schema_version = 1

    def define_tables(self, metadata: MetaData, generation: int) -> dict[str, Table]:
        projects = Table(
            self.table_name("projects", generation),
            metadata,
            Column("project_id", String(36), primary_key=True),
            Column("doc", Text, nullable=False),  # the ledger's document, folded alike
        )
        quarters = Table(
            self.table_name("quarters", generation),
            metadata,
            Column("project_id", String(36), primary_key=True),
            Column("quarter", String(6), primary_key=True),
            Column("next_quarter", String(6)),  # the project's next row; NULL: its latest
            Column("name", Text),
            Column("city", String(32)),
            Column("referred_on", String(10)),
            Column("associations", Text, nullable=False),  # JSON list of ids
            Column("stage", String(32), nullable=False),
            Column("status", String(16), nullable=False),
            Column("progress", Text, nullable=False),  # JSON list of words, this quarter's
            Column("open_problems", Text, nullable=False),  # JSON list, at the quarter's end
            Column("has_problems", Integer, nullable=False),
            Column("signed_on", String(10)),
            Column("first_funded_on", String(10)),
            Column("construction_started_on", String(10)),
            Column("production_started_on", String(10)),
            Column("last_follow_up_on", String(10)),  # on or before the quarter's end
        )
        Index(f"ix_{quarters.name}_quarter", quarters.c.quarter)
        return {"projects": projects, "quarters": quarters}

    def __init__(self) -> None:
        super().__init__()
        # During a rebuild beside the ledger projection: the ledger builder whose documents
        # (folded by the same handlers) this one writes, instead of folding them twice.
        self.folded_by: LedgerProjection | None = None
        # Each loaded project's quarter rows as stored (drawn from its stored document before
        # the batch changes it): a batch writes only the rows that differ, mostly one.
        self.stored_quarters: dict[str, dict[str, dict[str, Any]]] = {}

    def share_fold(self, builders: Sequence[Projection]) -> None:
        ledger = next((b for b in builders if type(b) is LedgerProjection and b.bulk), None)
        if ledger is None or not self.bulk or self.docs:
            return
        self.folded_by = ledger
        self.docs = ledger.docs
        self._handlers = {}

    def unshare_fold(self) -> None:
        if self.folded_by is not None:
            self.folded_by = None
            self.docs = {}
            self._handlers = {}

    def handlers(self) -> dict[type, Handler]:
        """The ledger's project handlers (association rows are the ledger's business); none
        while the ledger builder folds the documents for both (`share_fold`)."""
        if self.folded_by is not None:
            return {}
        return {
            event_class: handler
            for event_class, handler in super().handlers().items()
            if issubclass(event_class, Project.Event)
        }

    def begin_batch(self, conn: Connection, events: Sequence[Any]) -> None:
        projects = [e for e in events if isinstance(e, Project.Event)]
        kept = self.kept.take(touched(projects))
        stored = load_docs(conn, self.tables["projects"], projects, kept)
        for project_id, doc in stored.items():
            self.stored_quarters[project_id] = by_quarter(quarter_rows(project_id, doc))
        self.docs.update(stored)
        for project_id, (doc, quarters) in kept.items():
            self.docs[project_id] = doc
            self.stored_quarters[project_id] = quarters

    def reset(self) -> None:
        super().reset()
        self.stored_quarters.clear()

    def flush(self, conn: Connection) -> None:
        projects, quarters = self.tables["projects"], self.tables["quarters"]
        # Sharing the ledger builder's fold, every document it folded is this one's too.
        ids = sorted(self.docs if self.folded_by is not None else self.dirty)
        statement = upsert(conn.dialect, projects, ["project_id"])
        # In parts, so a rebuild never holds every row in memory at once.
        gone: list[dict[str, str]] = []
        for part in chunked(ids, 1000):
            project_rows = []
            quarter_rows_: list[dict[str, Any]] = []
            for project_id in part:
                doc = self.docs[project_id]
                text = document_text(doc)
                project_rows.append({"project_id": project_id, "doc": text})
                rows = quarter_rows(project_id, doc)
                if self.bulk:
                    quarter_rows_.extend(rows)
                    continue
                self.kept.keep(
                    project_id,
                    (doc, by_quarter(rows)),
                    functools.partial(stored_with_quarters, project_id, text),
                )
                before = self.stored_quarters.get(project_id, {})
                quarter_rows_.extend(r for r in rows if before.get(r["quarter"]) != r)
                drawn = {r["quarter"] for r in rows}
                gone.extend(
                    {"gone_project": project_id, "gone_quarter": q}
                    for q in before
                    if q not in drawn
                )
            if self.bulk:
                insert_rows(conn, projects, project_rows)
                insert_rows(conn, quarters, quarter_rows_)
                continue
            conn.execute(statement, project_rows)
            if gone:
                conn.execute(
                    delete(quarters).where(
                        quarters.c.project_id == bindparam("gone_project"),
                        quarters.c.quarter == bindparam("gone_quarter"),
                    ),
                    gone,
                )
                gone = []
            if quarter_rows_:
                conn.execute(
                    upsert(conn.dialect, quarters, ["project_id", "quarter"]), quarter_rows_
                )
        self.dirty.clear()
        self.dirty_associations.clear()
        if not self.bulk:
            self.docs.clear()
            self.stored_quarters.clear()


def by_quarter(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["quarter"]: row for row in rows}


def stored_with_quarters(
    project_id: str, text: str
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A project's document as read back from its stored `text`, with its quarter rows."""
    doc = decode_doc(text)
    return doc, by_quarter(quarter_rows(project_id, doc))


def dispatch_query(quarters: Table, quarter: str, stalled_cutoff: str, overdue_cutoff: str) -> Any:
    """Per project referred by the quarter's end, the row it stands at then — only those that
    can appear in the quarter's dispatch: with progress in the quarter or open problems, a
    signing before the stalled cut-off without funds or construction, or in production and
    not followed up since the overdue cut-off. Withdrawn projects never appear."""
    _, end = quarter_days(quarter)
    c = quarters.c
    last_contact = c.last_follow_up_on.is_(None) | (c.last_follow_up_on < overdue_cutoff)
    return (
        select(quarters)
        .where(c.quarter <= quarter)
        .where(c.next_quarter.is_(None) | (c.next_quarter > quarter))
        .where(c.referred_on <= end)
        .where(c.status != "withdrawn")
        .where(
            ((c.quarter == quarter) & (c.progress != "[]"))
            | (c.has_problems == 1)
            | (
                (c.signed_on < stalled_cutoff)
                & (c.first_funded_on.is_(None) | (c.first_funded_on > end))
                & (c.construction_started_on.is_(None) | (c.construction_started_on > end))
            )
            | ((c.production_started_on <= end) & last_contact)
        )
        .order_by(c.project_id)
    )
