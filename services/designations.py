"""Designations from the evaluation ranking (三(二), 四(二)2): the command that awards the
published top ranks as `Association.DesignationAwarded` events."""

from __future__ import annotations

from typing import Any

from domain import errors
from domain.application import Ledger
from domain.events import Context
from domain.values import ASSOCIATION_DESIGNATIONS, parse_code
from projections.evaluation import Evaluation


def award_designations_from_ranking(
    ledger: Ledger,
    ctx: Context,
    evaluation: Evaluation,
    designation: str,
    top: int | None = None,
    occurred_on: Any = None,
) -> dict[str, list[str]]:
    """Award `designation` for the evaluation year to the `top` published ranks (by default
    the number the rules give for that designation), as events on each association. Idempotent:
    associations that already hold it for the year are skipped."""
    rules = evaluation.rules
    code = parse_code(designation, ASSOCIATION_DESIGNATIONS, "designation")
    k = rules.designations.get(code) if top is None else top
    if k is None:
        raise errors.InvalidInput(
            f"the rules name no number of ranks for {code!r}; give `top`", field="top"
        )
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise errors.InvalidInput("top must be a whole number of at least 1", field="top")
    chosen = [i for i in evaluation.items if i.published and i.rank <= k]
    reasons = {
        i.association_id: (
            f"{evaluation.year}年度商协会评价第{i.rank}名（得分{i.score}；"
            f"{rules.id} v{rules.version}{'，暂行' if rules.provisional else ''}）"
        )
        for i in chosen
    }
    return ledger.award_designations(
        ctx,
        evaluation.year,
        designation,
        [i.association_id for i in chosen],
        occurred_on=occurred_on,
        reason=reasons,
    )
