"""The rank each one- or two-character fragment of a search row carries in `fragments`."""

from __future__ import annotations

from typing import Any

from projections.search import EXACT, PINYIN, PREFIX, SUBSTRING, fragment_relevance


def _row(**fields: Any) -> dict[str, Any]:
    row = {"name_key": "", "investor_key": "", "associations_key": "\n\n"}
    row.update(fields)
    row["text_key"] = "\n".join(
        [row["name_key"], row["investor_key"], *row["associations_key"].strip("\n").split("\n")]
    )
    row.setdefault("haystack", row["text_key"])
    return row


def test_fragment_relevance_is_the_rank_a_query_earns() -> None:
    row = _row(
        name_key="长信",
        investor_key="城东长信集团",
        associations_key="\n芯片商会\n",
        haystack="长信\n城东长信集团\n芯片商会\nchangxin\ncx",
    )
    relevance = fragment_relevance(row)
    assert relevance["长信"] == EXACT
    assert relevance["长"] == PREFIX  # 长信 starts with it
    assert relevance["芯"] == PREFIX and relevance["芯片"] == PREFIX  # the association's name
    assert relevance["东长"] == SUBSTRING and relevance["团"] == SUBSTRING
    assert relevance["cx"] == PINYIN and relevance["x"] == PINYIN
    assert "信\n" not in relevance and "信城" not in relevance  # never across a line
