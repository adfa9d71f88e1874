"""The projections this application runs, in one place for the runner, the CLI and the API."""

from __future__ import annotations

from projections.figures import FiguresProjection
from projections.ledger import LedgerProjection
from projections.progress import ProgressProjection
from projections.rewards import RewardFactsProjection
from projections.runtime import Projection
from projections.search import SearchProjection


def all_projections() -> list[Projection]:
    return [
        LedgerProjection(),
        FiguresProjection(),
        RewardFactsProjection(),
        SearchProjection(),
        ProgressProjection(),
    ]
