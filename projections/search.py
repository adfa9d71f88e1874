"""The search index behind `GET /projects?q=`: project name, investor and association names,
as text, as pinyin and as pinyin initials (pypinyin), one row per project.

`haystack` holds all of them, lower-cased, one per line; SQLite indexes it with an FTS5 table
(trigram tokenizer, kept in step by triggers), PostgreSQL with a `pg_trgm` GIN index. Both need
three characters, so shorter queries (two-character names are common) are answered by the
`fragments` table instead: a row for every one- and two-character fragment of a project's
haystack lines, carrying the rank that fragment as a query would earn (`fragment_relevance`), the
referral date and the project's referral `number`; its key is also the result order, so such a
query is one indexed equality lookup, counted and paged in the index alone.
Matches are ranked exact, prefix, substring, pinyin (see `search_rank`); equal ranks newest
referral first (date, then the later recorded).
"""

from __future__ import annotations

import functools
import unicodedata
from array import array
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from itertools import repeat
from typing import Any

from pypinyin import Style
from pypinyin.converter import DefaultConverter
from pypinyin.core import Pinyin
from sqlalchemy import Column as C
from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    bindparam,
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
from projections.runtime import (
    BULK_STATEMENT_ROWS,
    Handler,
    Projection,
    chunked,
    insert_rows,
    upsert,
)

TRIGRAM = 3  # characters the trigram indexes need; shorter queries use `fragments`
MAX_QUERY = 100
# `fragments.relevance` by rank: higher is better, so that the key (gram, relevance,
# referred_on, number) read backwards is the result order (rank, newest first) on both databases.
EXACT, PREFIX, SUBSTRING, PINYIN = 3, 2, 1, 0
# A rebuild packs a fragment's (relevance, referral day, number) into one integer that sorts
# as the key does: number in the low bits, the date's ordinal above, relevance on top.
_NUMBER_BITS = 26
_NUMBER_MASK = (1 << _NUMBER_BITS) - 1
_RELEVANCE_SHIFT = _NUMBER_BITS + 22
_DAY_MASK = (1 << 22) - 1
_JULIAN_OF_ORDINAL_ZERO = 1721424.5


def normalise(value: str) -> str:
    """What is compared: NFKC (full-width letters and digits become ASCII), lower case."""
    return unicodedata.normalize("NFKC", value).strip().lower()


class WordMemoConverter(DefaultConverter):
    """pypinyin's own converter, remembering the pinyin of each word its segmenter cuts a text
    into, per style: names are made of few distinct words (科技, 有限公司, 集团…), so a rebuild
    converts each word once instead of once per name (the words are cut as before, so the
    pinyin is the very same)."""

    memo_size = 200_000

    def __init__(self) -> None:
        super().__init__()
        self._memo: dict[tuple[Any, ...], list[list[str]]] = {}

    def convert(
        self,
        words: str,
        style: Style,
        heteronym: bool,
        errors: Callable[[str], str] | str,
        strict: bool = True,
        **kwargs: Any,
    ) -> list[list[str]]:
        if kwargs or callable(errors):
            return super().convert(words, style, heteronym, errors, strict, **kwargs)
        key = (words, style, heteronym, errors, strict)
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= self.memo_size:
                self._memo.clear()
            found = self._memo[key] = super().convert(words, style, heteronym, errors, strict)
        return [list(item) for item in found]


_PINYIN = Pinyin(WordMemoConverter())


@functools.lru_cache(maxsize=65_536)
def pinyin_of(value: str) -> tuple[str, str]:
    """(full pinyin, initials) of a text, without tones or spaces: 联新控股 → lianxinkonggu,
    lxkg. Letters and digits in the text are kept as they are. (As pypinyin's `lazy_pinyin`,
    through `WordMemoConverter`.)"""
    clean = normalise(value)
    full = "".join(_PINYIN.lazy_pinyin(clean, errors="default")).replace(" ", "")
    initials = "".join(_PINYIN.lazy_pinyin(clean, style=Style.FIRST_LETTER, errors="default"))
    return full, initials.replace(" ", "")


class SearchProjection(Projection):
    name = "search"
    # Its flush reads the association names it has just upserted (`_load_names`).
    flush_deferrable = False
    # 2: referred_on, so a search is ordered without the ledger's table; 3: `number` and the
    # one- and two-character `fragments`
    schema_version = 3
    event_fields = frozenset({"investor", "name", "occurred_on", "referrals"})

    def __init__(self) -> None:
        super().__init__()
        self.docs: dict[str, dict[str, Any]] = {}
        self.names: dict[str, str] = {}
        self.dirty: set[str] = set()
        self.dirty_associations: set[str] = set()
        self.renamed: set[str] = set()
        # Rows as stored before this batch, whose fragments a changed row replaces.
        self.stored: dict[str, dict[str, Any]] = {}
        self.last_number: int | None = None  # the highest referral `number` given so far
        self._gathered: dict[str, array[int]] = {}  # a rebuild's fragments (`_gather_fragments`)

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
            # 1, 2, 3… in the order the referrals were recorded: the fragments' short key
            C("number", Integer, nullable=False, index=True, unique=True),
        )
        fragments = Table(
            self.table_name("fragments", generation),
            metadata,
            C("gram", Text, nullable=False),  # one or two characters of one haystack line
            C("relevance", Integer, nullable=False),  # EXACT … PINYIN for `gram` as the query
            C("referred_on", String(10), nullable=False),
            C("number", Integer, nullable=False),
            # The key is the index and, backwards, the order: no separate index to keep.
            PrimaryKeyConstraint("gram", "relevance", "referred_on", "number"),
            sqlite_with_rowid=False,
        )
        associations = Table(
            self.table_name("associations", generation),
            metadata,
            C("association_id", String(36), primary_key=True),
            C("name", Text, nullable=False),
            C("version", Integer, nullable=False),
        )
        return {"projects": projects, "fragments": fragments, "associations": associations}

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

    def table_names(self, generation: int) -> list[str]:
        # The FTS5 index first (SQLite only: the name is absent elsewhere, and so skipped).
        return [self.fts_name(generation), *super().table_names(generation)]

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
                self.stored[row["project_id"]] = dict(row)
        if any(isinstance(e, Project.Referred) for e in events):
            self.last_number = conn.execute(select(func.max(projects.c.number))).scalar()

    def reset(self) -> None:
        self.docs.clear()
        self.stored.clear()
        self._gathered.clear()
        self.last_number = None
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
                    self.stored.setdefault(row["project_id"], dict(row))
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
        # Each project's row also indexes its text in the FTS5 table (a trigger), 0.3–0.7 ms a
        # row at province scale: a rebuild inserts them a hundred at a time, so that no statement holds
        # SQLite's writer for long (`runtime.TurnTakingConnection`).
        for part in chunked(ids, 100 if self.bulk else 1000):
            rows = [self._row(p) for p in part]
            if self.bulk:
                insert_rows(conn, projects, rows)
                self._gather_fragments(rows)
            else:
                conn.execute(statement, rows)
                self._write_fragments(conn, rows)
        if self.bulk:
            self._insert_gathered(conn)
        self.dirty.clear()
        self.dirty_associations.clear()
        self.renamed.clear()
        if not self.bulk:
            self.docs.clear()
            self.names.clear()
            self.stored.clear()

    def _gather_fragments(self, rows: Sequence[dict[str, Any]]) -> None:
        """A rebuild's fragments, held packed (one integer each, by gram) until every row is
        made, so that they are written in key order: appended to the index, not scattered."""
        for row in rows:
            day = date.fromisoformat(row["referred_on"]).toordinal()
            if row["number"] >= 1 << _NUMBER_BITS:
                raise ValueError(f"referral number {row['number']} too large to pack")
            base = (day << _NUMBER_BITS) | row["number"]
            for gram, relevance in fragment_relevance(row).items():
                packed = self._gathered.get(gram)
                if packed is None:
                    packed = self._gathered[gram] = array("q")
                packed.append((relevance << _RELEVANCE_SHIFT) | base)

    def _insert_gathered(self, conn: Connection) -> None:
        """Write the gathered fragments in key order. Millions of rows: plain tuples through
        the driver's own executemany (a Core insert spends most of its time on parameters);
        on SQLite each row is (gram, packed integer) and the statement itself unpacks the
        relevance, the day (`date` of the Julian day) and the number, so no Python tuple of
        four is built per row."""
        if conn.dialect.name == "sqlite":
            self._insert_gathered_sqlite(conn)
            return
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        statement = (
            f"INSERT INTO {self.tables['fragments'].name} "
            f"(gram, relevance, referred_on, number) VALUES ({mark}, {mark}, {mark}, {mark})"
        )
        days: dict[int, str] = {}
        batch: list[tuple[str, int, str, int]] = []
        for gram in sorted(self._gathered):
            for packed in sorted(self._gathered.pop(gram)):
                day = (packed >> _NUMBER_BITS) & _DAY_MASK
                referred_on = days.get(day)
                if referred_on is None:
                    referred_on = days[day] = date.fromordinal(day).isoformat()
                batch.append((gram, packed >> _RELEVANCE_SHIFT, referred_on, packed & _NUMBER_MASK))
                if len(batch) >= 20_000:
                    conn.exec_driver_sql(statement, batch)
                    batch = []
        if batch:
            conn.exec_driver_sql(statement, batch)
        self._gathered.clear()

    def _insert_gathered_sqlite(self, conn: Connection) -> None:
        # A proleptic Gregorian ordinal (day 1 = 0001-01-01) is Julian day ordinal + 1721424.5
        # at midnight, which SQLite's `date` turns back into ISO text.
        statement = (
            f"INSERT INTO {self.tables['fragments'].name} "
            "(gram, relevance, referred_on, number) VALUES "
            f"(?1, ?2 >> {_RELEVANCE_SHIFT}, "
            f"date(((?2 >> {_NUMBER_BITS}) & {_DAY_MASK}) + {_JULIAN_OF_ORDINAL_ZERO}), "
            f"?2 & {_NUMBER_MASK})"
        )
        # In statements of at most BULK_STATEMENT_ROWS, each committed as it ends on a
        # rebuild's connection (`runtime.TurnTakingConnection`), so the writer is not held
        # while the next gram's rows are sorted.
        for gram in sorted(self._gathered):
            rows = sorted(self._gathered.pop(gram))
            for start in range(0, len(rows), BULK_STATEMENT_ROWS):
                conn.exec_driver_sql(
                    statement, list(zip(repeat(gram), rows[start : start + BULK_STATEMENT_ROWS]))
                )
        self._gathered.clear()

    def _write_fragments(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Each row's fragments in place of those its stored version had: only the
        difference is deleted and inserted (a renamed association changes a few)."""
        fragments = self.tables["fragments"]
        gone: list[dict[str, Any]] = []
        new: list[dict[str, Any]] = []
        for row in rows:
            before = self.stored.get(row["project_id"])
            now = fragment_keys(row)
            old = fragment_keys(before) if before is not None else set()
            gone.extend(_fragment_params(old - now, "old_"))
            new.extend(_fragment_params(now - old))
        if gone:
            conn.execute(
                fragments.delete().where(
                    fragments.c.gram == bindparam("old_gram"),
                    fragments.c.relevance == bindparam("old_relevance"),
                    fragments.c.referred_on == bindparam("old_referred_on"),
                    fragments.c.number == bindparam("old_number"),
                ),
                gone,
            )
        if new:
            conn.execute(insert(fragments), new)

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
            "number": doc["number"],
        }

    # -- handlers ---------------------------------------------------------------------------

    def on_referred(self, event: Project.Referred) -> None:
        project_id = str(event.originator_id)
        self.docs[project_id] = {
            "name_key": normalise(event.name),
            "investor_key": normalise(event.investor),
            "association_ids": ",".join(str(r["association_id"]) for r in event.referrals),
            "referred_on": event.occurred_on.isoformat(),
            # A rebuild starts from empty tables; a batch has loaded the highest so far.
            "number": (self.last_number or 0) + 1,
        }
        self.last_number = self.docs[project_id]["number"]
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


def _grams(lines: Iterable[str]) -> set[str]:
    """Every one- and two-character fragment of the lines (none across a line break)."""
    found: set[str] = set()
    for line in lines:
        found.update(line)
        found.update(line[i : i + 2] for i in range(len(line) - 1))
    return found


def fragment_relevance(row: dict[str, Any]) -> dict[str, int]:
    """Each fragment of a search row with the rank `search_rank` gives the row for it as the
    query (as relevance: EXACT, PREFIX, SUBSTRING, PINYIN): exact when a name, the investor
    or an association name is the fragment, prefix when one starts with it, substring when
    the text holds it, pinyin otherwise (it is only in the pinyin or initials)."""
    names = [row["name_key"], row["investor_key"], *row["associations_key"].split("\n")]
    exact = set(names)
    prefix = {name[:n] for name in names for n in (1, 2)}
    text = _grams(row["text_key"].split("\n"))
    return {
        gram: EXACT
        if gram in exact
        else PREFIX
        if gram in prefix
        else SUBSTRING
        if gram in text
        else PINYIN
        for gram in _grams(row["haystack"].split("\n"))
    }


def fragment_keys(row: dict[str, Any]) -> set[tuple[str, int, str, int]]:
    """The `fragments` rows of a search row, as (gram, relevance, referred_on, number)."""
    return {
        (gram, relevance, row["referred_on"], row["number"])
        for gram, relevance in fragment_relevance(row).items()
    }


def _fragment_params(
    keys: Iterable[tuple[str, int, str, int]], prefix: str = ""
) -> list[dict[str, Any]]:
    return [
        {
            f"{prefix}gram": gram,
            f"{prefix}relevance": relevance,
            f"{prefix}referred_on": referred_on,
            f"{prefix}number": number,
        }
        for gram, relevance, referred_on, number in sorted(keys)
    ]


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
    index when the query has three characters or more, through `fragments` otherwise. `%`,
    `_`, quotes and backslashes are text."""
    projects = projection.tables["projects"]
    if len(query) < TRIGRAM:
        fragments = projection.tables["fragments"]
        return projects.c.number.in_(select(fragments.c.number).where(fragments.c.gram == query))
    if dialect == "sqlite":
        matching: Any = select(literal_column("rowid")).select_from(
            bare_table(projection.fts_name())
        )
        return literal_column(f"{projects.name}.rowid").in_(
            matching.where(_fts_match(projection, query))
        )
    return projects.c.haystack.contains(query, autoescape=True)


def _fts_match(projection: SearchProjection, query: str) -> Any:
    """The FTS5 condition for `query` as one phrase: its trigrams in a row, so the text itself
    (quotes doubled, the rest taken as it is)."""
    phrase = '"' + query.replace('"', '""') + '"'
    return text(f"{projection.fts_name()} MATCH :phrase").bindparams(phrase=phrase)


def match_count(dialect: str, projection: SearchProjection, query: str) -> Any:
    """How many projects match `query` (three characters or more). On SQLite the FTS5 index
    counts alone — it holds one row per project — without a lookup of each match."""
    projects = projection.tables["projects"]
    if dialect == "sqlite":
        fts = bare_table(projection.fts_name())
        return select(func.count()).select_from(fts).where(_fts_match(projection, query))
    condition = search_condition(dialect, projection, query)
    return select(func.count()).select_from(projects).where(condition)


def short_query_page(
    projection: SearchProjection, query: str, size: int, offset: int
) -> tuple[Any, Any]:
    """(count, page of project ids) for a query of one or two characters: both read the
    `fragments` index alone, the page in its key order backwards (best rank, newest first)
    and cut to `size` there; only the page's ids are looked up."""
    fragments, projects = projection.tables["fragments"], projection.tables["projects"]
    count = select(func.count()).select_from(fragments).where(fragments.c.gram == query)
    numbers = (
        select(fragments.c.number, fragments.c.relevance, fragments.c.referred_on)
        .where(fragments.c.gram == query)
        .order_by(
            fragments.c.relevance.desc(),
            fragments.c.referred_on.desc(),
            fragments.c.number.desc(),
        )
        .limit(size)
        .offset(offset)
        .subquery()
    )
    page = (
        select(projects.c.project_id)
        .join_from(numbers, projects, projects.c.number == numbers.c.number)
        .order_by(numbers.c.relevance.desc(), numbers.c.referred_on.desc(), numbers.c.number.desc())
    )
    return count, page


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
