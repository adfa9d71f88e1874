"""The project ledger (项目台账): one row per project, one per association, and funds per year.

Money is integer fen (SQLite's Numeric goes through float); a single amount fits a 64-bit column
(at most 10^15 fen), the funds totals are kept as decimal text (`WholeNumberText`) so no number
of arrivals can overflow them. Dates are ISO strings, which sort and compare as dates on both
databases.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    select,
)

from domain.association import Association
from domain.project import Project, stage_from
from domain.values import to_cny, to_fen
from projections.amounts import WholeNumberText
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

PROJECT_COLUMNS = (
    "name",
    "investor",
    "industry",
    "project_type",
    "origin",
    "city",
    "county",
    "park",
    "designations",
    "stage",
    "status",
    "referred_on",
    "first_visit_on",
    "signed_on",
    "contract_amount_fen",
    "registered_on",
    "construction_started_on",
    "production_started_on",
    "capacity_reached_on",
    "funds_total_fen",
    "planned_investment_fen",
    "visits",
    "negotiations",
    "follow_ups",
    "last_follow_up_on",
    "open_issues",
    "attested",
    "version",
    "last_event_on",
)


@functools.cache
def day_text(day: date) -> str:
    """A business date as ISO text, one shared string per date: a rebuild holds millions."""
    return sys.intern(day.isoformat())


@functools.cache
def month_text(day: str) -> str:
    return sys.intern(day[:7])


def add_dated(doc: dict[str, Any], key: str, day: str) -> None:
    """Count a dated fact in its month, keeping the month's first and last day."""
    months = doc["dates"][key]
    entry = months.get(day[:7])
    if entry is None:
        months[month_text(day)] = [1, day, day]
    else:
        entry[0] += 1
        entry[1] = min(entry[1], day)
        entry[2] = max(entry[2], day)


DOCUMENT_ENCODER = msgspec.json.Encoder()


def document_text(doc: dict[str, Any]) -> str:
    """A document as stored: compact JSON, non-ASCII kept — the very text of
    `json.dumps(doc, separators=(",", ":"), ensure_ascii=False)` (so rows written before
    and after compare equal in `verify --read-models`), encoded in C."""
    return DOCUMENT_ENCODER.encode(doc).decode()


def stored_with_sides(
    project_id: str, text: str
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """A project's document as read back from its stored `text`, with its side rows."""
    doc = decode_doc(text)
    return doc, side_rows(project_id, doc)


def _stage(doc: dict[str, Any]) -> str:
    return stage_from(lambda fact: bool(doc[fact]))


SIDE_TABLES = ("links", "years", "officers", "open_issues")


def side_rows(project_id: str, doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """A project's rows of the side tables (`SIDE_TABLES`), from its document."""
    by_year: dict[int, int] = {}
    for arrived_on, fen, voided in doc["arrivals"].values():
        if not voided:
            year = int(arrived_on[:4])
            by_year[year] = by_year.get(year, 0) + fen
    return {
        "links": [
            {"project_id": project_id, "association_id": a, "share": s} for a, s in doc["referrals"]
        ],
        "years": [
            {"project_id": project_id, "year": y, "funds_fen": f}
            for y, f in sorted(by_year.items())
        ],
        "officers": [{"project_id": project_id, "officer_id": o} for o in doc.get("officers", ())],
        "open_issues": [
            {
                "project_id": project_id,
                "issue_id": issue_id,
                "raised_on": raised_on,
                "category": category,
            }
            for issue_id, (raised_on, closed_on, category) in doc["issues"].items()
            if closed_on is None
        ]
        if doc["open_issues"]
        else [],
    }


class LedgerProjection(Projection):
    name = "ledger"
    # 4: funds totals as WholeNumberText; 5: the officers following; 6: the open issues as rows
    schema_version = 6
    event_fields = frozenset(
        {
            "amount",
            "arrival_id",
            "arrived_on",
            "based_in",
            "category",
            "city",
            "contact",
            "contract_amount",
            "county",
            "designations",
            "granted",
            "industry",
            "investor",
            "issue_id",
            "kind",
            "name",
            "occurred_on",
            "officer_id",
            "origin",
            "park",
            "planned_investment",
            "project_type",
            "rate_to_cny",
            "referrals",
        }
    )

    def __init__(self) -> None:
        super().__init__()
        self.docs: dict[str, dict[str, Any]] = {}
        self.associations: dict[str, dict[str, Any]] = {}
        self.dirty: set[str] = set()
        self.dirty_associations: set[str] = set()
        # Each loaded project's side-table rows as stored (drawn from its stored document
        # before the batch changes it): a batch rewrites only a table whose rows changed.
        self.stored_sides: dict[str, dict[str, list[dict[str, Any]]]] = {}

    def define_tables(self, metadata: MetaData, generation: int) -> dict[str, Table]:
        projects = Table(
            self.table_name("projects", generation),
            metadata,
            Column("project_id", String(36), primary_key=True),
            Column("name", Text),
            Column("investor", Text),
            Column("industry", String(1)),
            Column("project_type", String(32)),
            Column("origin", String(32)),
            Column("city", String(32)),
            Column("county", Text),
            Column("park", Text),
            Column("designations", Text),
            Column("stage", String(32)),
            Column("status", String(16)),
            Column("referred_on", String(10)),
            Column("first_visit_on", String(10)),
            Column("signed_on", String(10)),
            Column("contract_amount_fen", BigInteger),
            Column("registered_on", String(10)),
            Column("construction_started_on", String(10)),
            Column("production_started_on", String(10)),
            Column("capacity_reached_on", String(10)),
            Column("funds_total_fen", WholeNumberText),
            Column("planned_investment_fen", BigInteger),
            Column("visits", Integer),
            Column("negotiations", Integer),
            Column("follow_ups", Integer),
            Column("last_follow_up_on", String(10)),
            Column("open_issues", Integer),
            Column("attested", Integer),
            Column("version", Integer),
            Column("last_event_on", String(10)),
            Column("doc", Text, nullable=False),
        )
        Index(f"ix_{projects.name}_stage", projects.c.stage)
        Index(f"ix_{projects.name}_city", projects.c.city)
        links = Table(
            self.table_name("project_associations", generation),
            metadata,
            Column("project_id", String(36), primary_key=True),
            Column("association_id", String(36), primary_key=True),
            Column("share", String(8), nullable=False),
        )
        Index(f"ix_{links.name}_association", links.c.association_id)
        years = Table(
            self.table_name("project_years", generation),
            metadata,
            Column("project_id", String(36), primary_key=True),
            Column("year", Integer, primary_key=True),
            Column("funds_fen", WholeNumberText, nullable=False),
        )
        Index(f"ix_{years.name}_year", years.c.year)
        officers = Table(
            self.table_name("project_officers", generation),
            metadata,
            Column("project_id", String(36), primary_key=True),
            Column("officer_id", String(36), primary_key=True),
        )
        Index(f"ix_{officers.name}_officer", officers.c.officer_id)
        # The issues not yet closed (办结), kept from each project's document at every flush:
        # the day's reminders read them without parsing every document that has one.
        open_issues = Table(
            self.table_name("open_issues", generation),
            metadata,
            Column("project_id", String(36), primary_key=True),
            Column("issue_id", String(36), primary_key=True),
            Column("raised_on", String(10), nullable=False),
            Column("category", Text, nullable=False),
        )
        associations = Table(
            self.table_name("associations", generation),
            metadata,
            Column("association_id", String(36), primary_key=True),
            Column("name", Text),
            Column("kind", String(32)),
            Column("based_in", Text),
            Column("contact", Text),
            Column("registered_on", String(10)),
            Column("active", Integer),
            Column("activities", Integer),
            Column("version", Integer),
        )
        return {
            "projects": projects,
            "links": links,
            "years": years,
            "associations": associations,
            "officers": officers,
            "open_issues": open_issues,
        }

    def handlers(self) -> dict[type, Handler]:
        return {
            Project.Referred: self.on_referred,
            Project.VisitRecorded: self.on_visit_recorded,
            Project.NegotiationRecorded: self.on_negotiation_recorded,
            Project.Signed: self.on_signed,
            Project.Registered: self.on_registered,
            Project.ConstructionStarted: self.on_construction_started,
            Project.FundsArrived: self.on_funds_arrived,
            Project.FundsArrivalCorrected: self.on_funds_arrival_corrected,
            Project.FundsArrivalVoided: self.on_funds_arrival_voided,
            Project.FixedAssetInvestmentReported: self.on_other,
            Project.ProductionStarted: self.on_production_started,
            Project.CapacityReached: self.on_capacity_reached,
            Project.FollowUpVisitRecorded: self.on_follow_up_visit_recorded,
            Project.IssueRaised: self.on_issue_raised,
            Project.IssueHandled: self.on_other,
            Project.IssueClosed: self.on_issue_closed,
            Project.AttestationRecorded: self.on_attestation_recorded,
            Project.AttributionChanged: self.on_attribution_changed,
            Project.Reclassified: self.on_reclassified,
            Project.Stalled: self.on_stalled,
            Project.Withdrawn: self.on_withdrawn,
            Project.Reactivated: self.on_reactivated,
            Project.OfficerAssigned: self.on_officer_assigned,
            Project.OfficerUnassigned: self.on_officer_unassigned,
            Association.Registered: self.on_association_registered,
            Association.DetailsChanged: self.on_association_details_changed,
            Association.ActivityRecorded: self.on_activity_recorded,
            Association.DesignationAwarded: self.on_association_other,
            Association.Deactivated: self.on_association_deactivated,
        }

    # -- batch state ------------------------------------------------------------------------

    def begin_batch(self, conn: Connection, events: Sequence[Any]) -> None:
        kept = self.kept.take(touched(events))
        stored = load_docs(conn, self.tables["projects"], events, kept)
        for project_id, doc in stored.items():
            self.stored_sides[project_id] = side_rows(project_id, doc)
        self.docs.update(stored)
        for project_id, (doc, sides) in kept.items():
            self.docs[project_id] = doc
            self.stored_sides[project_id] = sides
        associations = self.tables["associations"]
        ids = sorted({str(e.originator_id) for e in events})
        for part in chunked(ids, 500):
            for arow in conn.execute(
                select(associations).where(associations.c.association_id.in_(part))
            ).mappings():
                self.associations[arow["association_id"]] = dict(arow)

    def reset(self) -> None:
        self.docs.clear()
        self.associations.clear()
        self.stored_sides.clear()
        self.dirty.clear()
        self.dirty_associations.clear()

    def flush(self, conn: Connection) -> None:
        projects = self.tables["projects"]
        ids = sorted(self.dirty)
        project_upsert = upsert(conn.dialect, projects, ["project_id"])
        # In parts, so a rebuild never holds every row (and its JSON) in memory at once.
        for part in chunked(ids, 1000):
            project_rows: list[dict[str, Any]] = []
            # A side table's rows of the part, and (not in bulk) the projects whose stored
            # rows they replace: only those whose rows the batch changed.
            new_rows: dict[str, list[dict[str, Any]]] = {name: [] for name in SIDE_TABLES}
            replaced: dict[str, list[str]] = {name: [] for name in SIDE_TABLES}
            for project_id in part:
                doc = self.docs[project_id]
                row = {column: doc[column] for column in PROJECT_COLUMNS}
                row["project_id"] = project_id
                row["doc"] = text = document_text(doc)
                project_rows.append(row)
                before = None if self.bulk else self.stored_sides.get(project_id)
                sides = side_rows(project_id, doc)
                self.kept.keep(
                    project_id, (doc, sides), functools.partial(stored_with_sides, project_id, text)
                )
                for name, rows in sides.items():
                    if before is not None and before[name] == rows:
                        continue
                    new_rows[name].extend(rows)
                    if before is not None:
                        replaced[name].append(project_id)
            if self.bulk:
                insert_rows(conn, projects, project_rows)
            else:
                conn.execute(project_upsert, project_rows)
            for name in SIDE_TABLES:
                table = self.tables[name]
                if replaced[name]:
                    conn.execute(delete(table).where(table.c.project_id.in_(replaced[name])))
                insert_rows(conn, table, new_rows[name])
        associations = self.tables["associations"]
        association_rows = [self.associations[a] for a in sorted(self.dirty_associations)]
        if self.bulk:
            insert_rows(conn, associations, association_rows)
        elif association_rows:
            conn.execute(upsert(conn.dialect, associations, ["association_id"]), association_rows)
        self.dirty.clear()
        self.dirty_associations.clear()
        if not self.bulk:
            self.docs.clear()
            self.associations.clear()
            self.stored_sides.clear()

    # -- project handlers -------------------------------------------------------------------

    def _doc(self, event: Any) -> dict[str, Any]:
        project_id = str(event.originator_id)
        doc = self.docs[project_id]
        doc["version"] = event.originator_version
        doc["last_event_on"] = max(doc["last_event_on"], day_text(event.occurred_on))
        self.dirty.add(project_id)
        return doc

    def _restage(self, doc: dict[str, Any]) -> None:
        doc["stage"] = _stage(doc)

    def on_referred(self, event: Project.Referred) -> None:
        project_id = str(event.originator_id)
        self.docs[project_id] = {
            "name": event.name,
            "investor": event.investor,
            "industry": event.industry,
            "project_type": event.project_type,
            "origin": event.origin,
            "city": event.city,
            "county": event.county,
            "park": event.park,
            "designations": ",".join(d["kind"] for d in event.designations),
            "stage": "referred",
            "status": "active",
            "referred_on": day_text(event.occurred_on),
            "first_visit_on": None,
            "signed_on": None,
            "contract_amount_fen": None,
            "registered_on": None,
            "construction_started_on": None,
            "production_started_on": None,
            "capacity_reached_on": None,
            "funds_total_fen": 0,
            "planned_investment_fen": to_fen(event.planned_investment),
            "visits": 0,
            "negotiations": 0,
            "follow_ups": 0,
            "last_follow_up_on": None,
            "open_issues": 0,
            "attested": None,
            "version": 1,
            "last_event_on": day_text(event.occurred_on),
            "referrals": [[r["association_id"], str(r["share"])] for r in event.referrals],
            "arrivals": {},
            "issues": {},
            # Dated facts, so documents can be drawn up as of a past date: visits, negotiations
            # and follow-ups per month as [count, first day, last day] (a busy project has
            # hundreds of 回访), status changes as [day, status].
            "dates": {"visits": {}, "negotiations": {}, "follow_ups": {}, "status": []},
        }
        self.dirty.add(project_id)

    def on_visit_recorded(self, event: Project.VisitRecorded) -> None:
        doc = self._doc(event)
        doc["visits"] += 1
        day = day_text(event.occurred_on)
        add_dated(doc, "visits", day)
        if doc["first_visit_on"] is None or day < doc["first_visit_on"]:
            doc["first_visit_on"] = day
        self._restage(doc)

    def on_negotiation_recorded(self, event: Project.NegotiationRecorded) -> None:
        doc = self._doc(event)
        doc["negotiations"] += 1
        add_dated(doc, "negotiations", day_text(event.occurred_on))
        self._restage(doc)

    def on_signed(self, event: Project.Signed) -> None:
        doc = self._doc(event)
        doc["signed_on"] = day_text(event.occurred_on)
        doc["contract_amount_fen"] = to_fen(to_cny(event.contract_amount, event.rate_to_cny))
        self._restage(doc)

    def on_registered(self, event: Project.Registered) -> None:
        doc = self._doc(event)
        doc["registered_on"] = day_text(event.occurred_on)
        self._restage(doc)

    def on_construction_started(self, event: Project.ConstructionStarted) -> None:
        doc = self._doc(event)
        doc["construction_started_on"] = day_text(event.occurred_on)
        self._restage(doc)

    def _refund(self, doc: dict[str, Any]) -> None:
        doc["funds_total_fen"] = sum(
            fen for _, fen, voided in doc["arrivals"].values() if not voided
        )

    def on_funds_arrived(self, event: Project.FundsArrived) -> None:
        doc = self._doc(event)
        fen = to_fen(to_cny(event.amount, event.rate_to_cny))
        doc["arrivals"][event.arrival_id] = [day_text(event.occurred_on), fen, False]
        self._refund(doc)

    def on_funds_arrival_corrected(self, event: Project.FundsArrivalCorrected) -> None:
        doc = self._doc(event)
        fen = to_fen(to_cny(event.amount, event.rate_to_cny))
        doc["arrivals"][event.arrival_id] = [day_text(event.arrived_on), fen, False]
        self._refund(doc)

    def on_funds_arrival_voided(self, event: Project.FundsArrivalVoided) -> None:
        doc = self._doc(event)
        doc["arrivals"][event.arrival_id][2] = True
        self._refund(doc)

    def on_production_started(self, event: Project.ProductionStarted) -> None:
        doc = self._doc(event)
        doc["production_started_on"] = day_text(event.occurred_on)
        self._restage(doc)

    def on_capacity_reached(self, event: Project.CapacityReached) -> None:
        doc = self._doc(event)
        doc["capacity_reached_on"] = day_text(event.occurred_on)
        self._restage(doc)

    def on_follow_up_visit_recorded(self, event: Project.FollowUpVisitRecorded) -> None:
        doc = self._doc(event)
        doc["follow_ups"] += 1
        day = day_text(event.occurred_on)
        add_dated(doc, "follow_ups", day)
        if doc["last_follow_up_on"] is None or day > doc["last_follow_up_on"]:
            doc["last_follow_up_on"] = day

    def on_issue_raised(self, event: Project.IssueRaised) -> None:
        doc = self._doc(event)
        doc["issues"][event.issue_id] = [day_text(event.occurred_on), None, event.category]
        doc["open_issues"] += 1

    def on_issue_closed(self, event: Project.IssueClosed) -> None:
        doc = self._doc(event)
        doc["issues"][event.issue_id][1] = day_text(event.occurred_on)
        doc["open_issues"] -= 1

    def on_attestation_recorded(self, event: Project.AttestationRecorded) -> None:
        doc = self._doc(event)
        doc["attested"] = 1 if event.granted else 0

    def on_attribution_changed(self, event: Project.AttributionChanged) -> None:
        doc = self._doc(event)
        doc["referrals"] = [[r["association_id"], str(r["share"])] for r in event.referrals]

    def on_reclassified(self, event: Project.Reclassified) -> None:
        doc = self._doc(event)
        doc["industry"] = event.industry
        doc["project_type"] = event.project_type

    def on_stalled(self, event: Project.Stalled) -> None:
        self._status(event, "stalled")

    def on_withdrawn(self, event: Project.Withdrawn) -> None:
        self._status(event, "withdrawn")

    def on_reactivated(self, event: Project.Reactivated) -> None:
        self._status(event, "active")

    def _status(self, event: Any, status: str) -> None:
        doc = self._doc(event)
        doc["status"] = status
        doc["dates"]["status"].append([day_text(event.occurred_on), status])

    def on_other(self, event: Any) -> None:
        self._doc(event)

    def on_officer_assigned(self, event: Project.OfficerAssigned) -> None:
        doc = self._doc(event)
        doc["officers"] = [*doc.get("officers", []), event.officer_id]

    def on_officer_unassigned(self, event: Project.OfficerUnassigned) -> None:
        doc = self._doc(event)
        doc["officers"] = [o for o in doc.get("officers", []) if o != event.officer_id]

    # -- association handlers ---------------------------------------------------------------

    def _association(self, event: Any) -> dict[str, Any]:
        association_id = str(event.originator_id)
        row = self.associations[association_id]
        row["version"] = event.originator_version
        self.dirty_associations.add(association_id)
        return row

    def on_association_registered(self, event: Association.Registered) -> None:
        association_id = str(event.originator_id)
        self.associations[association_id] = {
            "association_id": association_id,
            "name": event.name,
            "kind": event.kind,
            "based_in": event.based_in,
            "contact": event.contact,
            "registered_on": day_text(event.occurred_on),
            "active": 1,
            "activities": 0,
            "version": 1,
        }
        self.dirty_associations.add(association_id)

    def on_association_details_changed(self, event: Association.DetailsChanged) -> None:
        row = self._association(event)
        row.update(name=event.name, based_in=event.based_in, contact=event.contact)

    def on_activity_recorded(self, event: Association.ActivityRecorded) -> None:
        self._association(event)["activities"] += 1

    def on_association_deactivated(self, event: Association.Deactivated) -> None:
        self._association(event)["active"] = 0

    def on_association_other(self, event: Any) -> None:
        self._association(event)


def fen_to_decimal(fen: int | None) -> Decimal | None:
    return None if fen is None else (Decimal(fen) / 100).quantize(Decimal("0.01"))


def iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
