"""What the staff pages read besides the API's own documents (DESIGN §17, issue 20): which
policies apply to a year, associations found by name, the designations the ranked associations
hold, the accounts an officer may be assigned from, the latest settlements, and each role's
start-page panels. Reads only: every write on those pages is an application command.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.documents import DocumentStore
from adapters.users import AccountRow
from domain.application import Ledger
from domain.errors import NotFound
from i18n import N_, ZH, gettext_for
from projections.policy import PolicyRegistry
from projections.queries import ReadModels
from projections.search import normalise, pinyin_of

OFFICER_ROLES = ("officer", "staff")  # the roles `Ledger.assign_officer` accepts


def policies_for_year(policies: PolicyRegistry, year: int) -> list[str]:
    """The loaded policies in force for some part of `year`, in the registry's order."""
    found = []
    for policy_id in policies.ids():
        policy = policies.get(policy_id)
        if policy.valid_from.year <= year <= policy.valid_to.year:
            found.append(policy_id)
    return found


def associations_named(read: ReadModels, text: str) -> frozenset[str]:
    """The associations whose name contains `text` (case- and width-insensitive), or whose
    name's pinyin or initials do (`beijing`, `bjhn`), as the project search matches."""
    wanted = normalise(text)
    found = set()
    for a in read.associations():
        name = str(a["name"])
        if wanted in normalise(name) or any(wanted in form for form in pinyin_of(name)):
            found.add(str(a["association_id"]))
    return frozenset(found)


def designations_held(
    ledger: Ledger, association_ids: Iterable[str], year: int
) -> dict[str, list[str]]:
    """The designations each association holds for `year` (association id → designation codes)."""
    held: dict[str, list[str]] = {}
    for association_id in association_ids:
        try:
            association = ledger.get_association(association_id)
        except NotFound:
            continue
        codes = [d.designation for d in association.designations if d.year == year]
        if codes:
            held[association_id] = codes
    return held


OFFICER_ROLE_WORDS = {"officer": N_("Follow-up officer"), "staff": N_("Staff")}


def officer_choices(accounts: Iterable[AccountRow], lang: str = ZH) -> dict[str, str]:
    """Active accounts an officer assignment may name: id → "name（role）" in `lang`."""
    said = N_("%(name)s (%(role)s)")
    return {
        a.id: gettext_for(lang, said)
        % {"name": a.name, "role": gettext_for(lang, OFFICER_ROLE_WORDS[a.role])}
        for a in sorted(accounts, key=lambda a: (a.role, a.name))
        if a.active and a.role in OFFICER_ROLES
    }


@dataclass(frozen=True)
class StartPanels:
    """What a start page shows beside the 待办 rules: the last dispatch, the latest
    settlements, the latest checkpoints, a liaison's own projects."""

    last_dispatch: dict[str, Any] | None = None
    settlements: tuple[dict[str, Any], ...] = ()
    checkpoints: tuple[dict[str, Any], ...] = ()
    projects: tuple[dict[str, Any], ...] = ()
    projects_total: int = 0


def last_dispatch(documents: DocumentStore) -> dict[str, Any] | None:
    """The newest quarter's latest dispatch summary (period, revision, created_at)."""
    summaries = documents.summaries("dispatch")
    if not summaries:
        return None
    return max(summaries, key=lambda s: (str(s["period"]), int(s["revision"])))


def frozen_settlements(ledger: Ledger, policies: PolicyRegistry) -> list[dict[str, Any]]:
    """Every frozen settlement, newest year first, read from its aggregate alone (a start page
    need not load the frozen figures): policy, year, revision, settled_on, total, approval,
    payment — the fields `SettlementService.describe` gives them."""
    rows = []
    for policy_id in policies.ids():
        policy = policies.get(policy_id)
        for year in range(policy.valid_to.year, policy.valid_from.year - 1, -1):
            settlement = ledger.find_settlement(policy_id, year)
            if settlement is None:
                continue
            rows.append(
                {
                    "policy": settlement.policy_id,
                    "year": settlement.year,
                    "revision": settlement.revision,
                    "settled_on": settlement.settled_on.isoformat(),
                    "total": f"{settlement.total:.2f}",
                    "approval": _stamp(settlement.approved),
                    "payment": _stamp(settlement.paid),
                }
            )
    return sorted(rows, key=lambda s: (-int(s["year"]), str(s["policy"])))


def _stamp(stamp: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if stamp is None:
        return None
    return {"by": stamp["by"], "on": stamp["on"].isoformat(), "reference": stamp["reference"]}


def checkpoint_rows(checkpoints: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Checkpoints as a start page lists them (without their signed documents)."""
    return [
        {
            "id": c["id"],
            "created_at": c["created_at"],
            "last_notification_id": c["last_notification_id"],
        }
        for c in checkpoints
    ]
