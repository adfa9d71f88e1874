"""`ascii_document_text` writes exactly what `json.dumps(doc, separators=(",", ":"))` writes,
so the figures' and reward facts' rows written by msgspec compare equal, character for
character, with rows written before (`verify --read-models` compares the text)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from projections.runtime import ascii_document_text

# What the documents hold: no floats (money is fen or decimal text).
scalars = st.none() | st.booleans() | st.integers() | st.text()
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(documents)
def test_the_text_is_the_json_modules(doc: Any) -> None:
    assert ascii_document_text(doc) == json.dumps(doc, separators=(",", ":"))


def test_characters_beyond_ascii_and_beyond_the_basic_plane() -> None:
    doc = {"name": "岳阳某县 café 😀", "ctrl": '\x00\x1f\x7f\u2028\n\t"\\'}
    assert ascii_document_text(doc) == json.dumps(doc, separators=(",", ":"))
    assert ascii_document_text(doc).isascii()
