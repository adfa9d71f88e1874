"""The one rules registry: reward policies and evaluation rules, loaded together by one loader
from the same folders (the project's own, then `ZHAOSHANG_POLICY_PATH`), and replaced whole on
reload.

`load_rules` finds the files once (`files.discover`), reads and parses each once
(`files.read_rules_file`), and hands each, by its `kind`, to its validator (`loader.
policy_from_data` for reward policies, `evaluation_rules.rules_from_data` for `kind: evaluation`).
Both report problems as the same `PolicyError` (file, path, reason) inside a `PolicyFileError`; a
bad file never stops the others from loading. The composition root keeps one `RulesRegistry` and
swaps it for a fresh one on `reload` (`POST /policies/reload`, the CLI), so a request sees either
the old rules or the new ones, never a mixture.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from projections.policy.evaluation_rules import (
    EvaluationRegistry,
    LoadedRules,
    rules_from_file,
)
from projections.policy.files import (
    EVALUATION_KIND,
    MissingFolder,
    PolicyError,
    PolicyFileError,
    RulesFile,
    discover,
    read_rules_file,
    rule_folders,
)
from projections.policy.loader import LoadedFile, PolicyRegistry, policy_from_data


@dataclass(frozen=True)
class RulesRegistry:
    policies: PolicyRegistry
    evaluation: EvaluationRegistry
    folders: tuple[Path, ...]
    loaded_at: datetime | None = None

    def errors(self) -> list[PolicyError]:
        """Every refusal once (a missing folder is listed with both kinds of file)."""
        return list(dict.fromkeys([*self.policies.errors(), *self.evaluation.errors()]))

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


class _Collector:
    """Builds both registries from the files as they are read, refusing duplicates: a policy id
    loaded twice, or the same evaluation-rules id and version twice (the first one stays)."""

    def __init__(self) -> None:
        self.policies: list[LoadedFile] = []
        self.evaluation: list[LoadedRules] = []
        self.policy_files: dict[str, Path] = {}
        self.rules_files: dict[tuple[str, int], Path] = {}

    def missing(self, folder: MissingFolder) -> None:
        self.policies.append(LoadedFile(folder.folder, None, (folder.error,)))
        self.evaluation.append(LoadedRules(folder.folder, None, (folder.error,)))

    def add(self, read: RulesFile) -> None:
        if read.kind == EVALUATION_KIND:
            self._rules(read)
        else:
            self._policy(read)

    def _policy(self, read: RulesFile) -> None:
        file = read.file
        try:
            policy = policy_from_data(read.parsed(), str(file), file)
        except PolicyFileError as e:
            self.policies.append(LoadedFile(file, None, e.errors, read.raw_id))
            return
        if policy.id in self.policy_files:
            reason = f"policy {policy.id!r} is already loaded from {self.policy_files[policy.id]}"
            error = PolicyError(str(file), "id", reason)
            self.policies.append(LoadedFile(file, None, (error,), policy.id))
            return
        self.policy_files[policy.id] = file
        self.policies.append(LoadedFile(file, policy, (), policy.id))

    def _rules(self, read: RulesFile) -> None:
        file, rid, policy_id = read.file, read.raw_id, read.raw_policy
        try:
            rules = rules_from_file(read)
        except PolicyFileError as e:
            self.evaluation.append(LoadedRules(file, None, e.errors, rid, policy_id))
            return
        key = (rules.id, rules.version)
        if key in self.rules_files:
            reason = (
                f"{rules.id} version {rules.version} is already loaded from {self.rules_files[key]}"
            )
            error = PolicyError(str(file), "version", reason)
            self.evaluation.append(LoadedRules(file, None, (error,), rid, policy_id))
            return
        self.rules_files[key] = file
        self.evaluation.append(LoadedRules(file, rules, (), rules.id, rules.policy))


def _collect(folders: Iterable[Path]) -> _Collector:
    collector = _Collector()
    for found in discover(folders):
        if isinstance(found, MissingFolder):
            collector.missing(found)
        else:
            collector.add(read_rules_file(found))
    return collector


def load_rules(
    folders: Iterable[str | Path] | None = None, *, loaded_at: datetime | None = None
) -> RulesRegistry:
    """Every policy and evaluation-rules file of the project's folder and `folders`."""
    paths = () if folders is None else tuple(Path(f) for f in folders)
    collected = _collect(rule_folders(paths))
    return RulesRegistry(
        policies=PolicyRegistry(collected.policies),
        evaluation=EvaluationRegistry(collected.evaluation),
        folders=paths,
        loaded_at=loaded_at,
    )


def load_policies(
    paths: Iterable[str | Path] | None = None, *, include_builtin: bool = True
) -> PolicyRegistry:
    """The reward policies of the project's folder (unless `include_builtin` is false) and the
    folders given — the policy half of `load_rules`. Folders are read in order, files by name;
    a file whose id was already loaded is reported as a duplicate, not loaded. A path may also
    name a single file."""
    return PolicyRegistry(_collect(rule_folders(paths, include_builtin=include_builtin)).policies)


def load_evaluation_registry(paths: Iterable[str | Path] | None = None) -> EvaluationRegistry:
    """The evaluation rules of the project's folder and the folders given — the evaluation
    half of `load_rules`. The same id and version loaded twice is reported as a duplicate."""
    return EvaluationRegistry(_collect(rule_folders(paths)).evaluation)
