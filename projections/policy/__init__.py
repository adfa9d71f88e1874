"""The policy engine: reward rules as versioned YAML data, evaluated with explanations.

What the projection and HTTP layers call:

- `load_rules(folders) -> RulesRegistry` (`projections.policy.registry`) — the one loader of reward
  policies and evaluation rules; `load_policies(paths=None) -> PolicyRegistry` its policies;
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
from projections.policy.files import (
    BUILTIN_POLICY_DIR,
    PolicyError,
    PolicyFileError,
    policy_paths,
)
from projections.policy.fold import FactsFold, ProjectFactsState, UnhandledEvent, facts_from_events
from projections.policy.loader import (
    LoadedFile,
    PolicyNotFound,
    PolicyRegistry,
    load_policy_file,
    policy_from_data,
)
from projections.policy.model import Policy, PolicyVersion
from projections.policy.registry import load_policies

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
