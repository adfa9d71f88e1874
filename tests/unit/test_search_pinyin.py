"""The search projection's pinyin (`pinyin_of`, through `WordMemoConverter`, which remembers
each segmented word's pinyin) is exactly pypinyin's own `lazy_pinyin` of the same text, and a
rebuild's fragments come out of SQLite's date arithmetic as the dates they were packed from
(issue 23)."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

from pypinyin import Style, lazy_pinyin

from demo.province import generate
from domain.application import Ledger
from domain.project import Project
from projections.search import (
    _DAY_MASK,
    _JULIAN_OF_ORDINAL_ZERO,
    _NUMBER_BITS,
    WordMemoConverter,
    normalise,
    pinyin_of,
)

AWKWARD = [
    "ABC科技123",
    "联新控股",
    "  Ｆｕｌｌ宽度 ",
    "银行行长",  # one character, two readings in two words
    "重庆重工",
    "长沙长信",
    "绿色ü",
    "9号",
    "",
    "x",
    "%_'\"\\",
    "中国人民银行",
]


def stock(value: str) -> tuple[str, str]:
    clean = normalise(value)
    full = "".join(lazy_pinyin(clean, errors="default")).replace(" ", "")
    initials = "".join(lazy_pinyin(clean, style=Style.FIRST_LETTER, errors="default"))
    return full, initials.replace(" ", "")


def test_pinyin_of_every_demo_name_is_pypinyins() -> None:
    app = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    generate(app, "tiny", seed=5)
    names = set(AWKWARD)
    for n in app.recorder.select_notifications(1, 1_000_000):
        if n.topic.endswith("Project.Referred") or n.topic.endswith("Association.Registered"):
            event = app.mapper.to_domain_event(n)
            names.add(event.name)
            if isinstance(event, Project.Referred):
                names.add(event.investor)
    assert len(names) > 50
    for name in sorted(names):
        assert pinyin_of(name) == stock(name), name
        # Asked again (the words now remembered), the same.
        assert pinyin_of.__wrapped__(name) == stock(name), name


def test_remembered_words_are_not_shared_lists() -> None:
    converter = WordMemoConverter()
    first = converter.convert("银行", Style.NORMAL, False, "default", True)
    first[0].append("changed")
    assert converter.convert("银行", Style.NORMAL, False, "default", True) == [["yin"], ["hang"]]


def test_packed_days_come_back_as_their_dates_through_sqlite() -> None:
    db = sqlite3.connect(":memory:")
    days = [date(1, 1, 1), date(1970, 1, 1), date(2000, 2, 29), date(9999, 12, 31)]
    day = date(2019, 12, 25)
    while day < date(2026, 1, 10):
        days.append(day)
        day += timedelta(days=1)
    for day in days:
        packed = (3 << (_NUMBER_BITS + 22)) | (day.toordinal() << _NUMBER_BITS) | 12345
        (text,) = db.execute(
            f"SELECT date(((?1 >> {_NUMBER_BITS}) & {_DAY_MASK}) + {_JULIAN_OF_ORDINAL_ZERO})",
            (packed,),
        ).fetchone()
        assert text == day.isoformat()
