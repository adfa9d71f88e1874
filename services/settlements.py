"""Settlements (结算) and their audit: freeze a year's reward figures under a policy, approve and
pay them, and recompute them later, listing every difference with the events that caused it.

A settlement freezes, and its audit recomputes, figures folded afresh from the event log (every
event recorded before the request), never from the read-model tables, which lie outside the hash
chains (DESIGN §21). Its document (figures and explanations) and its event are written in one
database transaction; the event pins the document by its SHA-256.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from adapters.documents import Document, DocumentExists, DocumentStore, document_row, insert_with
from adapters.reader import FastEventReader, event_headers_after, reader_for
from domain import errors
from domain.application import Ledger
from domain.canonical import content_hash
from domain.events import Context, event_type_name
from domain.settlement import Settlement
from projections.policy import Policy, PolicyNotFound, PolicyRegistry
from projections.policy.engine import RewardReport
from projections.rewards import (
    KeptYear,
    RewardQuery,
    fold_log,
    reward_page,
    reward_report_of_fold,
)
from projections.runtime import engine_of

KIND = "settlement"
# The events that can change a settled figure (DESIGN §7: late, corrected or voided arrivals,
# attestation, attribution and classification changes).
CAUSES = frozenset(
    {
        "funds_arrived",
        "funds_arrival_corrected",
        "funds_arrival_voided",
        "attestation_recorded",
        "attribution_changed",
        "reclassified",
        "fixed_asset_investment_reported",
        "follow_up_visit_recorded",
        "withdrawn",
        "reactivated",
    }
)
# Reports kept evaluated (a few years, a policy or two).
REPORTS_KEPT = 4
ROW_FIELDS = ("share", "funds_in_year", "status", "project_reward", "reward")


def period_of(policy_id: str, year: int) -> str:
    return f"{policy_id}/{year}"


@dataclass
class SettlementService:
    """The settlement commands (freeze, revise, approve, pay), their reads and the audit."""

    ledger: Ledger
    registry: PolicyRegistry
    documents: DocumentStore
    # Where the reward-facts read model stands (`GET /rewards` reads it).
    read_models_position: Callable[[], int]
    # How long `figures` waits for the projection runner to reach the head of the log.
    wait_seconds: float = 60.0
    # The kept figures by (policy, year), each brought forward to the read model's position.
    _kept: OrderedDict[tuple[str, int], KeptYear] = field(
        default_factory=OrderedDict, init=False, repr=False
    )
    _kept_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _event_reader: FastEventReader | None = field(default=None, init=False, repr=False)

    # -- figures ----------------------------------------------------------------------------

    def policy(self, policy_id: str) -> Policy:
        try:
            return self.registry.get(policy_id)
        except PolicyNotFound as e:
            raise errors.NotFound(str(e), field="policy") from None

    def figures(
        self, policy_id: str, year: int, query: RewardQuery | None = None
    ) -> dict[str, Any]:
        """The year's figures from the read models, once they cover every event recorded
        before this call (GET /rewards): every association, or the page `query` asks for."""
        return self.figures_at(policy_id, year, query)[1]

    def figures_at(
        self, policy_id: str, year: int, query: RewardQuery | None = None
    ) -> tuple[int, dict[str, Any]]:
        """`figures`, and the position of the read model they are exactly of."""
        policy = self.policy(policy_id)
        self._check_year(year)
        self.wait_for_read_models(self.wait_seconds)
        position, report = self.report_at(policy, year)
        return position, reward_page(report, query or RewardQuery())

    def figures_json(
        self, policy_id: str, year: int, query: RewardQuery | None = None
    ) -> tuple[int, bytes]:
        """`figures_at` encoded as JSON (the same bytes), each association's entry encoded
        once for as long as the kept report shows that association unchanged."""
        policy = self.policy(policy_id)
        self._check_year(year)
        self.wait_for_read_models(self.wait_seconds)
        kept = self._kept_year(policy, year)
        position, report = self._current(kept)
        return position, kept.encoded(report, query or RewardQuery())

    def report_at(self, policy: Policy, year: int) -> tuple[int, RewardReport]:
        """The year's evaluated figures at the read model's position now, and that position.
        Kept between requests and brought forward by the projects with events since (the
        pages of one report are read one after another, and events arrive all day)."""
        return self._current(self._kept_year(policy, year))

    def _kept_year(self, policy: Policy, year: int) -> KeptYear:
        key = (policy.id, year)
        with self._kept_lock:
            kept = self._kept.get(key)
            if kept is None or kept.policy is not policy:  # new, or the policies were reloaded
                kept = self._kept[key] = KeptYear(policy, year)
            self._kept.move_to_end(key)
            while len(self._kept) > REPORTS_KEPT:
                self._kept.popitem(last=False)
        return kept

    def _current(self, kept: KeptYear) -> tuple[int, RewardReport]:
        return kept.current(engine_of(self.ledger), self._reader(), self.read_models_position)

    def _reader(self) -> FastEventReader:
        if self._event_reader is None:
            self._event_reader = reader_for(self.ledger)
        return self._event_reader

    def wait_for_read_models(self, timeout: float) -> None:
        """Wait for the one projection runner (DESIGN §6) to apply every event recorded before
        this call; a read never applies events itself. Not there within `timeout` (no runner
        about, or one far behind) → 409 `read_models_behind`."""
        head = self.ledger.recorder.max_notification_id() or 0
        deadline = time.monotonic() + timeout
        while self.read_models_position() < head:
            if time.monotonic() > deadline:
                raise errors.Conflict(
                    "the reward figures are still catching up with recorded events; try again",
                    code="read_models_behind",
                )
            time.sleep(0.05)

    def fresh_figures(self, policy: Policy, year: int) -> tuple[int, dict[str, Any]]:
        """The year's figures folded afresh from the event log, and the position they cover."""
        position, fold = fold_log(reader_for(self.ledger))
        return position, reward_report_of_fold(fold, policy, year).as_dict()

    def _check_year(self, year: int) -> None:
        if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
            raise errors.InvalidInput("year must be a whole year such as 2023", field="year")

    # -- settling ---------------------------------------------------------------------------

    def _existing(self, policy_id: str, year: int) -> Settlement | None:
        return self.ledger.find_settlement(policy_id, year)

    def exists(self, policy_id: str, year: int) -> bool:
        return self._existing(policy_id, year) is not None

    def get(self, policy_id: str, year: int) -> Settlement:
        settlement = self._existing(policy_id, year)
        if settlement is None:
            raise errors.NotFound(f"no settlement of {policy_id} for {year}", field="year")
        return settlement

    def settle(
        self, ctx: Context, policy_id: str, year: int, revise: bool = False, reason: Any = None
    ) -> dict[str, Any]:
        policy = self.policy(policy_id)
        self._check_year(year)
        if revise and (not isinstance(reason, str) or not reason.strip()):
            raise errors.InvalidInput("a revision needs its reason", field="reason")
        existing = self._existing(policy_id, year)
        if existing is not None and not revise:
            raise errors.SettlementExists(
                f"{policy_id} {year} was settled on {existing.settled_on}; ask for a revision with a reason",
                field="year",
            )
        if existing is None and revise:
            raise errors.NotFound(
                f"no settlement of {policy_id} for {year} to revise", field="year"
            )
        position, content = self.fresh_figures(policy, year)
        digest = content_hash(content)
        totals = [
            {
                "association_id": a["association_id"],
                "total": Decimal(a["total"]),
                "uncapped_total": Decimal(a["uncapped_total"]),
                "capped": bool(a["capped"]),
            }
            for a in content["associations"]
        ]
        grand_total = sum((t["total"] for t in totals), Decimal("0.00"))
        version = _policy_version(policy, year)
        if existing is None:
            settlement = Settlement.settle(
                ctx,
                policy_id=policy_id,
                policy_version=version,
                year=year,
                position=position,
                document_hash=digest,
                total=grand_total,
                totals=totals,
            )
        else:
            settlement = existing
            settlement.revise(
                ctx,
                reason=reason,
                policy_version=version,
                position=position,
                document_hash=digest,
                total=grand_total,
                totals=totals,
            )
        row = document_row(
            kind=KIND,
            period=period_of(policy_id, year),
            revision=settlement.revision,
            content=content,
            position=position,
            generated_by=f"{ctx.actor.id} ({ctx.actor.role})",
            now=ctx.recorded_at,
            revises=None
            if existing is None
            else self._document_id(policy_id, year, settlement.revision - 1),
        )
        try:
            # The document and the event commit together, or neither does.
            insert_with(self.ledger, row, lambda: self.ledger.save_or_conflict(settlement))
        except (errors.VersionConflict, DocumentExists):
            raise errors.SettlementExists(
                f"{policy_id} {year} was settled by another request just now", field="year"
            ) from None
        # Described from what was just stored: inside a caller's transaction (an idempotent
        # request) the document is not yet visible to another connection.
        return self.describe(policy_id, year, with_content=True, frozen=(digest, content))

    def _document_id(self, policy_id: str, year: int, revision: int) -> int | None:
        document = self.documents.get(KIND, period_of(policy_id, year), revision)
        return None if document is None else document.id

    def document(self, policy_id: str, year: int, revision: int | None = None) -> Document:
        settlement = self.get(policy_id, year)
        document = self.documents.get(
            KIND, period_of(policy_id, year), settlement.revision if revision is None else revision
        )
        if document is None:
            raise errors.NotFound(f"no revision {revision} of that settlement", field="revision")
        return document

    def describe(
        self,
        policy_id: str,
        year: int,
        with_content: bool = False,
        frozen: tuple[str, dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        settlement = self.get(policy_id, year)
        if frozen is None:
            document = self.document(policy_id, year)
            stored_hash, stored_content = document.content_hash, document.content
        else:
            stored_hash, stored_content = frozen
        body: dict[str, Any] = {
            "id": str(settlement.id),
            "policy": settlement.policy_id,
            "policy_version": settlement.policy_version,
            "year": settlement.year,
            "revision": settlement.revision,
            "settled_on": settlement.settled_on.isoformat(),
            "reason": settlement.reason or None,
            "position": settlement.position,
            "document_hash": settlement.document_hash,
            "document_intact": stored_hash == settlement.document_hash,
            "total": f"{settlement.total:.2f}",
            "totals": [
                {**t, "total": f"{t['total']:.2f}", "uncapped_total": f"{t['uncapped_total']:.2f}"}
                for t in settlement.totals
            ],
            "approval": _stamp(settlement.approved),
            "payment": _stamp(settlement.paid),
            "revisions": [
                {**r, "settled_on": r["settled_on"].isoformat(), "total": f"{r['total']:.2f}"}
                for r in settlement.revisions
            ],
            "version": settlement.version,
        }
        if with_content:
            body["figures"] = stored_content
        return body

    def approve(
        self, ctx: Context, policy_id: str, year: int, *, occurred_on: Any, by: str, reference: str
    ) -> int:
        return self.ledger.approve_settlement(
            ctx, policy_id, year, occurred_on=occurred_on, by=by, reference=reference
        )

    def pay(
        self, ctx: Context, policy_id: str, year: int, *, occurred_on: Any, by: str, reference: str
    ) -> int:
        return self.ledger.pay_settlement(
            ctx, policy_id, year, occurred_on=occurred_on, by=by, reference=reference
        )

    # -- audit ------------------------------------------------------------------------------

    def audit(self, policy_id: str, year: int) -> dict[str, Any]:
        """Recompute the settled year now; every association whose figures moved, with the
        events recorded after the settlement's position that caused it."""
        settlement = self.get(policy_id, year)
        settled = self.document(policy_id, year).content
        position, recomputed = self.fresh_figures(self.policy(policy_id), year)
        before = {a["association_id"]: a for a in settled["associations"]}
        after = {a["association_id"]: a for a in recomputed["associations"]}
        changed_projects: dict[str, set[str]] = {}
        for association_id in sorted(set(before) | set(after)):
            rows_before = _rows(before.get(association_id))
            rows_after = _rows(after.get(association_id))
            moved = {
                p
                for p in set(rows_before) | set(rows_after)
                if rows_before.get(p) != rows_after.get(p)
            }
            total_before = _total(before.get(association_id))
            total_after = _total(after.get(association_id))
            if moved or total_before != total_after:
                changed_projects[association_id] = moved
        causes = self._events_after(
            settlement.position,
            set().union(*changed_projects.values()) if changed_projects else set(),
        )
        differences = []
        for association_id, projects in changed_projects.items():
            total_before = _total(before.get(association_id))
            total_after = _total(after.get(association_id))
            differences.append(
                {
                    "association_id": association_id,
                    "settled_total": f"{total_before:.2f}",
                    "recomputed_total": f"{total_after:.2f}",
                    "difference": f"{total_after - total_before:.2f}",
                    "projects": sorted(projects),
                    "caused_by": [c for c in causes if c["project_id"] in projects],
                }
            )
        return {
            "policy": policy_id,
            "year": year,
            "settled": {
                "revision": settlement.revision,
                "settled_on": settlement.settled_on.isoformat(),
                "position": settlement.position,
                "total": f"{settlement.total:.2f}",
                "document_hash": settlement.document_hash,
            },
            "recomputed": {
                "position": position,
                "total": f"{sum((_total(a) for a in recomputed['associations']), Decimal('0.00')):.2f}",
            },
            "differences": differences,
        }

    def _events_after(self, position: int, project_ids: set[str]) -> list[dict[str, Any]]:
        if not project_ids:
            return []
        found = []
        for _, project_id, version, topic in event_headers_after(reader_for(self.ledger), position):
            kind = event_type_name(topic)
            if project_id in project_ids and kind in CAUSES:
                found.append({"project_id": project_id, "version": version, "type": kind})
        return found


def _rows(association: dict[str, Any] | None) -> dict[str, tuple[Any, ...]]:
    if association is None:
        return {}
    return {r["project_id"]: tuple(r[f] for f in ROW_FIELDS) for r in association["projects"]}


def _total(association: dict[str, Any] | None) -> Decimal:
    return Decimal("0.00") if association is None else Decimal(association["total"])


def _stamp(stamp: dict[str, Any] | None) -> dict[str, Any] | None:
    if stamp is None:
        return None
    return {"by": stamp["by"], "on": stamp["on"].isoformat(), "reference": stamp["reference"]}


def _policy_version(policy: Policy, year: int) -> str:
    """Which dated version of the policy the year was settled under: its start date."""
    return policy.version_for(year).effective_from.isoformat()
