"""The policy engine: reward rules as versioned YAML data, evaluated with explanations.

What the projection and HTTP layers call:

- `load_policies(paths=None) -> PolicyRegistry` — the project's folder plus `ZHAOSHANG_POLICY_PATH`;
  `registry.get(policy_id) -> Policy` (raises `PolicyNotFound`), `registry.listing()` for
  `GET /policies`.
- `evaluate(policy, year, facts) -> RewardReport`; `report.as_dict()` is the `GET /rewards/{year}`
  body (DESIGN §12).
- `FactsFold` — folds `Project` events into per-project `ProjectFacts`, one event at a time,
  with JSON-able states (`dump` / `load`); `facts_from_events(events)` for one project.
"""

from projections.policy.engine import (
    AssociationReward,
    ProjectResult,
    RewardReport,
    RewardRow,
    evaluate,
    evaluate_project,
)
from projections.policy.explain import Parameter, Step
from projections.policy.facts import ArrivalFact, AttestationFact, AttributionFact, ProjectFacts
from projections.policy.fold import FactsFold, ProjectFactsState, UnhandledEvent, facts_from_events
from projections.policy.loader import (
    BUILTIN_POLICY_DIR,
    LoadedFile,
    PolicyError,
    PolicyFileError,
    PolicyNotFound,
    PolicyRegistry,
    load_policies,
    load_policy_file,
    policy_from_data,
    policy_paths,
)
from projections.policy.model import Policy, PolicyVersion

__all__ = [
    "BUILTIN_POLICY_DIR",
    "ArrivalFact",
    "AssociationReward",
    "AttestationFact",
    "AttributionFact",
    "FactsFold",
    "LoadedFile",
    "Parameter",
    "Policy",
    "PolicyError",
    "PolicyFileError",
    "PolicyNotFound",
    "PolicyRegistry",
    "PolicyVersion",
    "ProjectFacts",
    "ProjectFactsState",
    "ProjectResult",
    "RewardReport",
    "RewardRow",
    "Step",
    "UnhandledEvent",
    "evaluate",
    "evaluate_project",
    "facts_from_events",
    "load_policies",
    "load_policy_file",
    "policy_from_data",
    "policy_paths",
]
