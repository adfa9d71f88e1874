"""The search index behind `GET /projects?q=`: project name, investor and association names,
as text, as pinyin and as pinyin initials (pypinyin), one row per project.

`haystack` holds all of them, lower-cased, one per line; SQLite indexes it with an FTS5 table
(trigram tokenizer, kept in step by triggers), PostgreSQL with a `pg_trgm` GIN index. Both need
three characters, so shorter queries (two-character names are common) scan the table instead.
Matches are ranked exact, prefix, substring, pinyin (see `search_rank`).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from pypinyin import Style, lazy_pinyin
from sqlalchemy import Column as C
from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.sql.expression import table as bare_table

from domain.association import Association
from domain.project import Project
from projections.runtime import Handler, Projection, chunked, upsert

TRIGRAM = 3  # characters the trigram indexes need; shorter queries scan
MAX_QUERY = 100


def normalise(value: str) -> str:
    """What is compared: NFKC (full-width letters and digits become ASCII), lower case."""
    return unicodedata.normalize("NFKC", value).strip().lower()


@functools.lru_cache(maxsize=65_536)
def pinyin_of(value: str) -> tuple[str, str]:
    """(full pinyin, initials) of a text, without tones or spaces: 联新控股 → lianxinkonggu,
    lxkg. Letters and digits in the text are kept as they are."""
    clean = normalise(value)
    full = "".join(lazy_pinyin(clean, errors="default")).replace(" ", "")
    initials = "".join(lazy_pinyin(clean, style=Style.FIRST_LETTER, errors="default"))
    return full, initials.replace(" ", "")


class SearchProjection(Projection):
    name = "search"
    schema_version = 2  # 2: referred_on, so a search is ordered without the ledger's table

    def __init__(self) -> None:
        super().__init__()
        self.docs: dict[str, dict[str, Any]] = {}
        self.names: dict[str, str] = {}
        self.dirty: set[str] = set()
        self.dirty_associations: set[str] = set()
        self.renamed: set[str] = set()

    def define_tables(self, metadata: MetaData, generation: int) -> dict[str, Table]:
        projects = Table(
            self.table_name("projects", generation),
            metadata,
            C("project_id", String(36), primary_key=True),
            C("name_key", Text, nullable=False),
            C("investor_key", Text, nullable=False),
            # "\n"-framed lines, so an exact name is `\nname\n` within them
            C("associations_key", Text, nullable=False),
            C("association_ids", Text, nullable=False),
            C("text_key", Text, nullable=False),  # the Chinese (and Latin) text, one per line
            C("haystack", Text, nullable=False),  # the text, then pinyin and initials
            C("referred_on", String(10)),  # the ledger's order among equal ranks
        )
        associations = Table(
            self.table_name("associations", generation),
            metadata,
            C("association_id", String(36), primary_key=True),
            C("name", Text, nullable=False),
            C("version", Integer, nullable=False),
        )
        return {"projects": projects, "associations": associations}

    def fts_name(self, generation: int | None = None) -> str:
        return self.table_name("fts", self.generation if generation is None else generation)

    def create_tables(self, conn: Connection) -> None:
        super().create_tables(conn)
        projects = self.tables["projects"].name
        if conn.dialect.name == "sqlite":
            fts = self.fts_name()
            conn.exec_driver_sql(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(haystack, "
                f"content='{projects}', content_rowid='rowid', tokenize='trigram')"
            )
            new = f"INSERT INTO {fts}(rowid, haystack) VALUES (new.rowid, new.haystack);"
            old = (
                f"INSERT INTO {fts}({fts}, rowid, haystack) "
                "VALUES ('delete', old.rowid, old.haystack);"
            )
            for suffix, when, body in (
                ("ai", "AFTER INSERT", new),
                ("ad", "AFTER DELETE", old),
                ("au", "AFTER UPDATE", old + " " + new),
            ):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER IF NOT EXISTS {projects}_{suffix} {when} ON {projects} "
                    f"BEGIN {body} END"
                )
        elif conn.dialect.name == "postgresql":
            with conn.begin_nested():
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            conn.exec_driver_sql(
                f"CREATE INDEX IF NOT EXISTS ix_{projects}_trgm ON {projects} "
                "USING gin (haystack gin_trgm_ops)"
            )

    def drop_tables(self, conn: Connection, generation: int) -> None:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {self.fts_name(generation)}")
        super().drop_tables(conn, generation)

    def handlers(self) -> dict[type, Handler]:
        return {
            Project.Referred: self.on_referred,
            Project.AttributionChanged: self.on_attribution_changed,
            Association.Registered: self.on_association_named,
            Association.DetailsChanged: self.on_association_renamed,
        }

    # -- batch state ------------------------------------------------------------------------

    def begin_batch(self, conn: Connection, events: Sequence[Any]) -> None:
        projects = self.tables["projects"]
        ids = sorted({str(e.originator_id) for e in events if isinstance(e, Project.Event)})
        for part in chunked(ids, 500):
            query = select(projects).where(projects.c.project_id.in_(part))
            for row in conn.execute(query).mappings():
                self.docs[row["project_id"]] = dict(row)

    def reset(self) -> None:
        self.docs.clear()
        self.names.clear()
        self.dirty.clear()
        self.dirty_associations.clear()
        self.renamed.clear()

    def _load_names(self, conn: Connection, ids: Iterable[str]) -> None:
        table = self.tables["associations"]
        missing = sorted(set(ids) - self.names.keys())
        for part in chunked(missing, 500):
            query = select(table.c.association_id, table.c.name).where(
                table.c.association_id.in_(part)
            )
            for association_id, name in conn.execute(query):
                self.names[association_id] = name

    def flush(self, conn: Connection) -> None:
        projects, associations = self.tables["projects"], self.tables["associations"]
        if self.dirty_associations:
            statement = (
                insert(associations)
                if self.bulk
                else upsert(conn.dialect, associations, ["association_id"])
            )
            conn.execute(
                statement,
                [
                    {"association_id": a, "name": self.names[a], "version": 1}
                    for a in sorted(self.dirty_associations)
                ],
            )
        if self.renamed and not self.bulk:
            # Every project an association renamed refers to takes its new name.
            for association_id in sorted(self.renamed):
                query = select(projects).where(
                    projects.c.association_ids.contains(association_id, autoescape=True)
                )
                for row in conn.execute(query).mappings():
                    self.docs.setdefault(row["project_id"], dict(row))
                    self.dirty.add(row["project_id"])
        elif self.renamed:
            self.dirty |= {
                p
                for p, doc in self.docs.items()
                if self.renamed & set(doc["association_ids"].split(","))
            }
        ids = sorted(self.dirty)
        self._load_names(
            conn, {a for p in ids for a in self.docs[p]["association_ids"].split(",") if a}
        )
        statement = (
            insert(projects) if self.bulk else upsert(conn.dialect, projects, ["project_id"])
        )
        for part in chunked(ids, 1000):
            conn.execute(statement, [self._row(p) for p in part])
        self.dirty.clear()
        self.dirty_associations.clear()
        self.renamed.clear()
        if not self.bulk:
            self.docs.clear()
            self.names.clear()

    def _row(self, project_id: str) -> dict[str, Any]:
        doc = self.docs[project_id]
        ids = [a for a in doc["association_ids"].split(",") if a]
        names = [normalise(self.names.get(a, "")) for a in ids]
        fields = [doc["name_key"], doc["investor_key"], *names]
        spoken = [pinyin_of(f) for f in fields]
        text_key = "\n".join(fields)
        haystack = "\n".join(
            [text_key, *(full for full, _ in spoken), *(initials for _, initials in spoken)]
        )
        return {
            "project_id": project_id,
            "name_key": doc["name_key"],
            "investor_key": doc["investor_key"],
            "associations_key": "\n" + "\n".join(names) + "\n",
            "association_ids": ",".join(ids),
            "text_key": text_key,
            "haystack": haystack,
            "referred_on": doc["referred_on"],
        }

    # -- handlers ---------------------------------------------------------------------------

    def on_referred(self, event: Project.Referred) -> None:
        project_id = str(event.originator_id)
        self.docs[project_id] = {
            "name_key": normalise(event.name),
            "investor_key": normalise(event.investor),
            "association_ids": ",".join(str(r["association_id"]) for r in event.referrals),
            "referred_on": event.occurred_on.isoformat(),
        }
        self.dirty.add(project_id)

    def on_attribution_changed(self, event: Project.AttributionChanged) -> None:
        project_id = str(event.originator_id)
        doc = self.docs[project_id]
        doc["association_ids"] = ",".join(str(r["association_id"]) for r in event.referrals)
        self.dirty.add(project_id)

    def on_association_named(self, event: Association.Registered) -> None:
        association_id = str(event.originator_id)
        self.names[association_id] = event.name
        self.dirty_associations.add(association_id)

    def on_association_renamed(self, event: Association.DetailsChanged) -> None:
        association_id = str(event.originator_id)
        self.names[association_id] = event.name
        self.dirty_associations.add(association_id)
        self.renamed.add(association_id)


def _position(dialect: str, column: Any, needle: Any) -> ColumnElement[int]:
    """Where `needle` starts in `column` (1-based; 0 when absent): a plain byte search, no
    pattern, so `%`, `_`, quotes and backslashes are text. The keys and the query are both
    normalised (`normalise`), so no case folding is needed."""
    found: ColumnElement[int] = (func.strpos if dialect == "postgresql" else func.instr)(
        column, needle, type_=Integer
    )
    return found


def search_condition(dialect: str, projection: SearchProjection, query: str) -> ColumnElement[bool]:
    """Rows of the search table that match `query` (already normalised): through the trigram
    index when the query has three characters or more, by a substring scan otherwise. `%`,
    `_`, quotes and backslashes are text."""
    projects = projection.tables["projects"]
    if len(query) < TRIGRAM:
        if dialect == "sqlite":  # instr: a byte search, cheaper than LIKE's pattern matching
            return _position(dialect, projects.c.haystack, query) > 0
        return projects.c.haystack.contains(query, autoescape=True)
    if dialect == "sqlite":
        fts = bare_table(projection.fts_name())
        phrase = '"' + query.replace('"', '""') + '"'
        matching: Any = (
            select(literal_column("rowid"))
            .select_from(fts)
            .where(text(f"{projection.fts_name()} MATCH :phrase").bindparams(phrase=phrase))
        )
        return literal_column(f"{projects.name}.rowid").in_(matching)
    return projects.c.haystack.contains(query, autoescape=True)


def search_rank(
    projection: SearchProjection, query: str, dialect: str = "sqlite"
) -> ColumnElement[int]:
    """0 exact (a name, investor or association name is the query), 1 prefix, 2 substring of
    the text, 3 pinyin or initials only. Byte searches (`_position`), evaluated for every
    matching row: LIKE patterns cost several times more there."""
    projects = projection.tables["projects"]

    def at(column: Any, needle: str) -> Any:
        return _position(dialect, column, needle)

    return case(
        (
            or_(
                projects.c.name_key == query,
                projects.c.investor_key == query,
                at(projects.c.associations_key, f"\n{query}\n") > 0,
            ),
            0,
        ),
        (
            or_(
                at(projects.c.name_key, query) == 1,
                at(projects.c.investor_key, query) == 1,
                at(projects.c.associations_key, f"\n{query}") > 0,
            ),
            1,
        ),
        (at(projects.c.text_key, query) > 0, 2),
        else_=3,
    )
