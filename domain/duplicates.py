"""Looking for what is already recorded before recording it again (DESIGN §16).

The application asks a `DuplicateFinder` (the read models, wired in by the composition root)
whether an association of the same name and city is registered, or a project of the same name,
investor and city recorded. Without one (a bare `Ledger` in tests) nothing is looked for. The
read models trail the log by the projection's poll interval, so two registrations within that
moment are not caught: the check is a guard against a person's second entry, not a lock.
"""

from __future__ import annotations

import unicodedata
from typing import Protocol


class DuplicateFinder(Protocol):
    def associations_named(self, name: str, based_in: str) -> list[str]:
        """Ids of the associations registered under this name in this city."""
        ...

    def projects_like(self, name: str, investor: str, city: str) -> list[str]:
        """Ids of the projects recorded with this name and investor in this city."""
        ...


def comparable(text: str) -> str:
    """Names and places as compared: NFKC, no surrounding or inner spaces, case folded, and a
    place without its 市 (北京 and 北京市 are one city)."""
    folded = "".join(unicodedata.normalize("NFKC", text).split()).casefold()
    return folded.removesuffix("市") if len(folded) > 2 else folded
