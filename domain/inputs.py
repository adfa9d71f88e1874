"""The types of raw command inputs: what callers (HTTP, pages, CLI, importer) may hand the
application. The aggregates parse each one (`domain.values`) and refuse what does not parse, so
these say what is meant, not what has been checked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

Day = date | str  # a business date, or its ISO text
Money = Decimal | str | int  # an amount (at most two places), or its decimal text
Rate = Decimal | str | int  # a rate to CNY
Text = str
Referrals = Sequence[Mapping[str, Any]]  # [{association_id, share}]
Issues = Sequence[Mapping[str, Any]]  # [{category, description}]
