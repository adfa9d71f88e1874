"""The evaluation of a year as the read models stand (DESIGN §8, 三(二)), computed once for each
state of them: what the evaluation page, `GET /evaluations/{year}` and the designation award
read when no frozen evaluation document answers.

An evaluation is a pure function of the rules and of the figures and ledger read models, and a
read model's state is named by its position (the last event it applied, committed with its
rows). So a result kept under (year, those positions) with the rules it used is the result a
fresh computation would give, until either projection moves on or the rules are reloaded; then
it is computed again. Only a few years are kept.

Computed again, it reads again only what can have moved (issue 23: events arrive all day, so
most views are the first after a move): each association's counters summed over the year are
kept with the figures position they are exactly of, and after a move only the associations
the new events can have counted for (`moved`) are summed again; the ranking, which compares
every association, is then drawn up whole from those sums.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from projections.evaluation import Evaluation, EvaluationRules, ScoreMemo, compute_evaluation
from projections.queries import ReadModels

KEPT_YEARS = 4
POSITIONS = ("figures", "ledger")  # what `projections.evaluation.evaluate` reads
# Reads of the moved sums while the runner keeps committing, before reading them all again.
ROUNDS_AT_MOST = 10
# The associations whose counters may have moved between two figures positions, or None when
# that cannot be told cheaply (too many events): `projections.figures.associations_counted_between`.
Moved = Callable[[int, int], set[str] | None]


@dataclass
class _KeptSums:
    """A year's counters summed per association, exactly as of the figures `position`."""

    position: int = -1
    sums: dict[str, dict[str, int]] = field(default_factory=dict)


class EvaluationService:
    def __init__(
        self,
        read: ReadModels,
        rules: Callable[[], EvaluationRules],
        moved: Moved | None = None,
    ) -> None:
        self.read = read
        self.rules = rules
        self.moved = moved
        self._kept: OrderedDict[tuple[int, ...], Evaluation] = OrderedDict()
        self._sums: OrderedDict[tuple[int, int], _KeptSums] = OrderedDict()
        self._memos: dict[int, tuple[EvaluationRules, ScoreMemo]] = {}
        self._lock = threading.Lock()
        self._computing = threading.Lock()

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
        # One computation at a time: a second request for the moved state waits for the first
        # and reads what it kept rather than summing the same counters again.
        with self._computing:
            positions = {"ledger": key[2]}
            figures_at, sums = self._year_sums(year, rules.ends_month)
            positions["figures"] = figures_at
            associations = self.read.evaluation_entrants()
            ids = [str(a["association_id"]) for a in associations]
            indicators = {a: sums.get(a, {}) for a in sorted({*sums, *ids})}
            kept_rules, memo = self._memos.get(year, (None, {}))
            if kept_rules is not rules:
                memo = {}  # scores computed under other rules say nothing
            self._memos.pop(year, None)
            self._memos[year] = (rules, memo)
            while len(self._memos) > KEPT_YEARS:
                del self._memos[next(iter(self._memos))]
            result = compute_evaluation(
                rules,
                year,
                indicators,
                associations,
                {p: positions[p] for p in POSITIONS},
                memo=memo,
            )
        key = (year, figures_at, key[2])
        with self._lock:
            self._kept[key] = result
            self._kept.move_to_end(key)
            for stale in [k for k in self._kept if k[0] == year and k != key]:
                del self._kept[stale]  # an older state of the same year is never read again
            while len(self._kept) > KEPT_YEARS:
                self._kept.popitem(last=False)
        return result

    def _year_sums(self, year: int, ends_month: int) -> tuple[int, dict[str, dict[str, int]]]:
        """The year's sums per association and the figures position they are exactly of:
        those kept, with the associations moved since summed again.

        The position and the counters commit together, so sums read between two equal
        readings of the position are those of that position; when the runner commits in
        between, the associations moved since the first reading are summed again."""
        kept = self._sums.get((year, ends_month))
        if kept is None:
            kept = self._sums[(year, ends_month)] = _KeptSums()
            while len(self._sums) > KEPT_YEARS:
                self._sums.popitem(last=False)
        self._sums.move_to_end((year, ends_month))
        for _ in range(ROUNDS_AT_MOST):
            target = self.read.position("figures")
            if kept.position == target:
                return target, kept.sums
            moved = None
            if self.moved is not None and 0 <= kept.position < target:
                moved = self.moved(kept.position, target)
            if moved is None:
                kept.position, kept.sums = -1, self.read.association_sums(year, ends_month)
            else:
                fresh = self.read.association_sums(year, ends_month, only=moved)
                kept.position = -1  # no position holds while some sums are replaced
                sums = dict(kept.sums)
                for association_id in moved:
                    sums.pop(association_id, None)
                sums.update(fresh)
                kept.sums = sums
            kept.position = target
            if self.read.position("figures") == target:
                return target, kept.sums
        # The runner committed during every read: the sums lie between two positions; the
        # earliest is said, and everything is read again next time.
        kept.position = -1
        return target, kept.sums
