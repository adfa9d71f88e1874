"""The evaluation of a year as the read models stand (DESIGN §8, 三(二)), computed once for each
state of them: what the evaluation page, `GET /evaluations/{year}` and the designation award
read when no frozen evaluation document answers.

An evaluation is a pure function of the rules and of the figures and ledger read models, and a
read model's state is named by its position (the last event it applied, committed with its
rows). So a result kept under (year, those positions) with the rules it used is the result a
fresh computation would give, until either projection moves on or the rules are reloaded; then
it is computed again. Only a few years are kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from projections.evaluation import Evaluation, EvaluationRules, evaluate
from projections.queries import ReadModels

KEPT_YEARS = 4
POSITIONS = ("figures", "ledger")  # what `projections.evaluation.evaluate` reads


class EvaluationService:
    def __init__(self, read: ReadModels, rules: Callable[[], EvaluationRules]) -> None:
        self.read = read
        self.rules = rules
        self._kept: OrderedDict[tuple[int, ...], Evaluation] = OrderedDict()
        self._lock = threading.Lock()

    def evaluation(self, year: int) -> Evaluation:
        """The year's scores and ranking from the read models as they stand now (a
        `LookupError` while they are still being set up, as `evaluate` gives)."""
        rules = self.rules()
        key = (year, *(self.read.position(name) for name in POSITIONS))
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept.rules is rules:
                self._kept.move_to_end(key)
                return kept
        # Computed outside the lock: two requests at once may both compute, with one answer.
        result = evaluate(self.read, year, rules)
        with self._lock:
            self._kept[key] = result
            self._kept.move_to_end(key)
            for stale in [k for k in self._kept if k[0] == year and k != key]:
                del self._kept[stale]  # an older state of the same year is never read again
            while len(self._kept) > KEPT_YEARS:
                self._kept.popitem(last=False)
        return result
