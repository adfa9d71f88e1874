"""The domain's error hierarchy: every refusal carries a stable code, a field and a reason.

The HTTP layer maps the three families (invalid input, conflict with state, not found) to status
codes in one place; the domain only says which family an error belongs to.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the domain makes; nothing is recorded when one is raised."""

    code = "domain_error"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}


class InvalidInput(DomainError):
    """The request is invalid whatever the state (HTTP 422)."""

    code = "validation_error"


class InvalidAmount(InvalidInput):
    code = "invalid_amount"


class OutOfRange(InvalidInput):
    """A number or date outside the bounds the ledger keeps (DESIGN §21)."""

    code = "out_of_range"


class InvalidText(InvalidInput):
    """Text with control characters, lone surrogates, or nothing visible in it."""

    code = "invalid_text"


class InvalidCurrency(InvalidInput):
    code = "invalid_currency"


class RateRequired(InvalidInput):
    code = "rate_required"


class DateInFuture(InvalidInput):
    code = "date_in_future"


class SharesMustTotal100(InvalidInput):
    code = "shares_must_total_100"


class UnknownIndustry(InvalidInput):
    code = "unknown_industry"


class UnknownCode(InvalidInput):
    """A value outside a closed list (city, kind, status…)."""

    code = "validation_error"


class UnknownAssociation(InvalidInput):
    code = "unknown_association"


class Conflict(DomainError):
    """A valid request that conflicts with the current state (HTTP 409)."""

    code = "conflict"


class StageOrder(Conflict):
    code = "stage_order"


class DateBeforeReferral(Conflict):
    code = "date_before_referral"


class DateBeforeArrival(Conflict):
    """A correction or void dated before the funds arrival it concerns."""

    code = "date_before_arrival"


class ProjectWithdrawn(Conflict):
    code = "project_withdrawn"


class AssociationInactive(Conflict):
    code = "association_inactive"


class ArrivalVoided(Conflict):
    code = "arrival_voided"


class IssueAlreadyClosed(Conflict):
    code = "issue_closed"


class VersionConflict(Conflict):
    """Another writer saved first; retrying the whole command on the fresh state may succeed."""

    code = "version_conflict"


class StaleVersion(VersionConflict):
    """The caller named a version (If-Match) that is no longer the current one (HTTP 412)."""


class SettlementExists(Conflict):
    code = "settlement_exists"


class OverCap(Conflict):
    code = "over_cap"


class NotFound(DomainError):
    """The named thing does not exist (HTTP 404)."""

    code = "not_found"


class ChainBroken(Conflict):
    """A hash chain does not hold, so the record cannot be vouched for (e.g. by a checkpoint)."""

    code = "chain_broken"


class CheckpointInvalid(InvalidInput):
    """A checkpoint document that is not one (unreadable JSON, missing or mistyped fields)."""

    code = "checkpoint_invalid"


class InvalidKey(InvalidInput):
    """A signing or verification key that cannot be read as an Ed25519 key."""

    code = "invalid_key"


class UnsupportedMediaType(InvalidInput):
    """A file whose bytes are none of the accepted evidence types, whatever its name (HTTP 415)."""

    code = "unsupported_media_type"


class UnknownFile(InvalidInput):
    """An evidence reference to a file the store does not hold, or that the user may not read
    (the two answer alike, so a file's existence is not told)."""

    code = "unknown_file"


# ---- people's accounts and officers (issue 15) -----------------------------------------------


class WeakPassword(InvalidInput):
    """A password too short, too long, common, or made of the account's name."""

    code = "weak_password"


class AccountExists(Conflict):
    code = "account_exists"


class AccountDisabled(Conflict):
    code = "account_disabled"


class TokenAlreadyRevoked(Conflict):
    code = "token_revoked"


class CannotDisableSelf(Conflict):
    code = "cannot_disable_self"


class UnknownOfficer(InvalidInput):
    code = "unknown_officer"


class OfficerAlreadyAssigned(Conflict):
    code = "officer_already_assigned"


class OfficerNotAssigned(Conflict):
    code = "officer_not_assigned"


class DuplicateName(Conflict):
    """An association with the same name and city is already registered."""

    code = "duplicate_name"


class PossibleDuplicate(Conflict):
    """A project with the same name, investor and city is already recorded; the caller may
    confirm that this one is another."""

    code = "possible_duplicate"


# ---- ledger imports (issue 21) ---------------------------------------------------------------


class AlreadyImported(Conflict):
    """The same file (and column mapping) was imported before: nothing is recorded again."""

    code = "already_imported"


class ImportHeaderNotFound(InvalidInput):
    """No row of the sheet reads as a ledger's header (项目名称, 投资方 …)."""

    code = "import_header_not_found"


class NotOwnAssociation(InvalidInput):
    """A liaison's import row that names another association."""

    code = "not_own_association"


class WebhookNotAllowed(InvalidInput):
    """A robot webhook naming a host (or scheme) the server may not call (DESIGN §20)."""

    code = "webhook_not_allowed"


class InvalidEmail(InvalidInput):
    code = "invalid_email"
