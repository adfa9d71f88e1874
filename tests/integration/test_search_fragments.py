"""Queries of one and two characters through the search projection's `fragments` index, on
SQLite and PostgreSQL: the same projects, in the same order, as a substring scan of the
haystack ranked by `search_rank` (the definition the index stands in for); paged; kept in step
when an association is renamed or a project's attribution changes; and covered by
`verify --read-models`."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Integer, func, select, text

from domain.application import Ledger
from projections.consistency import verify_read_models
from projections.queries import ReadModels
from projections.search import (
    SearchProjection,
    normalise,
    search_rank,
)
from services.bootstrap import Services
from tests import factories
from tests.conftest import OFFICER, STAFF, services_for

SHORT_QUERIES = [
    "长",  # exact (a project named 长), prefix, substring
    "长信",
    "信",
    "芯片",
    "园",
    "lx",  # initials and pinyin only
    "l",
    "x",
    "ch",
    "1",
    "%",
    "_",
    "'",
    '"',
    "%_",
    "\\",
    "Ａ",  # full width: NFKC makes it `a`
    "zq",  # nothing
]


@pytest.fixture
def recorded(ledger: Ledger, database_url: str) -> tuple[Services, dict[str, str]]:
    lianxin = factories.association(ledger, "联新控股商会")
    other = factories.association(ledger, "长沙商会")
    ids = {}
    for name, investor, association, day in [
        ("联新控股", "华科实业有限公司", other, "2022-03-01"),
        ("长信", "某丙", other, "2022-03-01"),
        ("长信大厦", "某甲", other, "2022-04-01"),
        ("城东长信", "某乙", lianxin, "2022-04-01"),
        ("芯片厂", "长信科技", other, "2022-05-01"),
        ("湖南100%_'\"园", "某某公司", other, "2022-05-01"),
        ("A座1号园", "长", lianxin, "2022-05-01"),
    ]:
        project_id = factories.project(
            ledger, association, name=name, investor=investor, occurred_on=day
        )
        ids[name] = str(project_id)
    services = services_for(ledger, database_url)
    services.runner.run_once()
    return services, ids


def _search_projection(services: Services) -> Any:
    return next(p for p in services.runner.projections if p.name == "search")


def _search(services: Services, q: str, page: int = 1, size: int = 50) -> tuple[list[str], int]:
    found = ReadModels(services.engine).ledger_page(q=q, page=page, size=size)
    return [r["name"] for r in found.items], found.total


def _scanned(services: Services, q: str) -> list[str]:
    """The definition: every search row whose haystack holds the query, by rank, then the
    newest referral first (date, then the later recorded)."""
    projection = SearchProjection()
    projection.bind(_search_projection(services).generation)
    projects = projection.tables["projects"]
    wanted = normalise(q)
    dialect = services.engine.dialect.name
    where = (
        func.strpos(projects.c.haystack, wanted, type_=Integer)
        if dialect == "postgresql"
        else func.instr(projects.c.haystack, wanted, type_=Integer)
    ) > 0
    query = (
        select(projects.c.project_id)
        .where(where)
        .order_by(
            search_rank(projection, wanted, dialect),
            projects.c.referred_on.desc(),
            projects.c.number.desc(),
        )
    )
    with services.engine.connect() as conn:
        ids = list(conn.execute(query).scalars())
    read = ReadModels(services.engine)
    return [read.ledger_row(i)["name"] for i in ids]  # type: ignore[index]


class TestShortQueries:
    @pytest.mark.parametrize("q", SHORT_QUERIES)
    def test_the_index_answers_as_the_scan_would(
        self, recorded: tuple[Services, dict[str, str]], q: str
    ) -> None:
        services, _ = recorded
        names, total = _search(services, q)
        assert names == _scanned(services, q)
        assert total == len(names)

    def test_ranks_exact_then_prefix_then_substring_then_pinyin(
        self, recorded: tuple[Services, dict[str, str]]
    ) -> None:
        services, _ = recorded
        names, total = _search(services, "长")
        # 长 is A座1号园's investor (exact); 长信 and 长信大厦 start with it, as do 长沙商会's
        # projects (association prefix), the newest first; 城东长信 holds it.
        assert names[0] == "A座1号园"
        assert names[-1] == "城东长信"
        assert total == 7
        assert _search(services, "lx")[0] == ["A座1号园", "城东长信", "联新控股"]
        assert _search(services, "zq") == ([], 0)

    def test_wildcards_and_quotes_are_text(self, recorded: tuple[Services, dict[str, str]]) -> None:
        services, _ = recorded
        for q in ["%", "_", "'", '"', "%_", "_'"]:
            assert _search(services, q) == (["湖南100%_'\"园"], 1), q
        assert _search(services, "\\") == ([], 0)

    def test_pages_follow_one_another(self, recorded: tuple[Services, dict[str, str]]) -> None:
        services, _ = recorded
        every, total = _search(services, "长")
        pages = [_search(services, "长", page=p, size=3) for p in (1, 2, 3)]
        assert [n for names, _ in pages for n in names] == every
        assert {t for _, t in pages} == {total}

    def test_a_renamed_association_and_a_changed_attribution_move_the_fragments(
        self, ledger: Ledger, recorded: tuple[Services, dict[str, str]]
    ) -> None:
        services, ids = recorded
        lianxin = factories.association(ledger, "联新控股商会二")
        other = next(
            a["association_id"]
            for a in ReadModels(services.engine).associations()
            if a["name"] == "长沙商会"
        )
        ledger.change_association_details(ledger.context(STAFF), other, name="岳麓校友会")
        ledger.change_attribution(
            ledger.context(OFFICER),
            ids["长信"],
            occurred_on="2022-06-01",
            referrals=[{"association_id": lianxin, "share": "100"}],
            reason="更正",
            approver="处长",
        )
        services.runner.run_once()
        assert "芯片厂" not in _search(services, "沙")[0]  # the old name's fragment is gone
        assert _search(services, "岳麓")[0] == _scanned(services, "岳麓")
        assert "芯片厂" in _search(services, "岳麓")[0]
        assert "长信" in _search(services, "二")[0]
        for q in SHORT_QUERIES:
            assert _search(services, q)[0] == _scanned(services, q), q
        report = verify_read_models(services.runner)
        assert report.ok, report.as_dict()

    def test_an_edited_fragment_is_caught_by_verify(
        self, recorded: tuple[Services, dict[str, str]]
    ) -> None:
        services, _ = recorded
        table = _search_projection(services).tables["fragments"].name
        with services.engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {table} WHERE gram = '芯'"))
        report = verify_read_models(services.runner)
        search = next(c for c in report.checks if c.name == "search")
        assert search.status == "mismatch"
        assert [d.table for d in search.differences] == [table]
