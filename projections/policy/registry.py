"""The one rules registry: reward policies and evaluation rules, loaded together from the same
folders (the project's own, then `ZHAOSHANG_POLICY_PATH`), and replaced whole on reload.

Both kinds of file report problems as the same `PolicyError` (file, path, reason) inside a
`PolicyFileError`; a bad file never stops the others from loading. The composition root keeps
one `RulesRegistry` and swaps it for a fresh one on `reload` (`POST /policies/reload`, the CLI),
so a request sees either the old rules or the new ones, never a mixture.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from projections.evaluation import EvaluationRegistry, load_evaluation_registry
from projections.policy.loader import PolicyError, PolicyRegistry, load_policies


@dataclass(frozen=True)
class RulesRegistry:
    policies: PolicyRegistry
    evaluation: EvaluationRegistry
    folders: tuple[Path, ...]
    loaded_at: datetime | None = None

    def errors(self) -> list[PolicyError]:
        return [*self.policies.errors(), *self.evaluation.errors()]

    def listing(self) -> dict[str, Any]:
        """The `GET /policies` body: every file seen, valid or not."""
        return {"items": self.policies.listing(), "evaluation_rules": self.evaluation.listing()}

    def summary(self) -> dict[str, Any]:
        """What a reload answers: the ids loaded and every file refused, with its reasons."""
        return {
            "policies": self.policies.ids(),
            "evaluation_rules": sorted(
                {f"{f.rules.id}@{f.rules.version}" for f in self.evaluation.files if f.rules}
            ),
            "refused": [e.as_dict() for e in self.errors()],
            "loaded_at": None if self.loaded_at is None else self.loaded_at.isoformat(),
        }


def load_rules(
    folders: Iterable[str | Path] | None = None, *, loaded_at: datetime | None = None
) -> RulesRegistry:
    """Every policy and evaluation-rules file of the project's folder and `folders`."""
    paths: Sequence[Path] = () if folders is None else tuple(Path(f) for f in folders)
    return RulesRegistry(
        policies=load_policies(paths),
        evaluation=load_evaluation_registry(paths),
        folders=tuple(paths),
        loaded_at=loaded_at,
    )
