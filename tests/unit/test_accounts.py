"""The Account aggregate, officer assignment and the password rule (no database)."""

from __future__ import annotations

import pytest

from domain import errors
from domain.application import Ledger
from domain.passwords import check_password
from tests.conftest import ctx
from tests.factories import project

SHA = "a" * 64


def test_account_events_carry_their_actor_and_no_secret(memory_ledger: Ledger) -> None:
    c = ctx(memory_ledger)
    account_id, version = memory_ledger.create_account(c, name="zhou", role="officer")
    memory_ledger.record_password_set(c, account_id, must_change=True)
    token_id, expiry, _ = memory_ledger.issue_token(c, account_id, sha256=SHA, name="接口")
    memory_ledger.revoke_token(c, account_id, token_id, "离职")
    memory_ledger.disable_account(c, account_id, "离职")
    account = memory_ledger.get_account(account_id)
    assert version == 1 and account.version == 5 and not account.active
    assert account.must_change_password and account.tokens[token_id].revoked_on is not None
    assert expiry is not None and (expiry - c.today).days == 90
    history = memory_ledger.account_events(account_id)
    assert [e.type for e in history] == [
        "created",
        "password_set",
        "token_issued",
        "token_revoked",
        "disabled",
    ]
    assert all(e.actor == {"id": "staff-1", "role": "staff"} for e in history)
    assert history[1].data == {"must_change": True}  # that it happened, never the hash


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"name": "x" * 101, "role": "staff"}, "validation_error"),
        ({"name": "two words", "role": "staff"}, "validation_error"),
        ({"name": "li\u0007", "role": "staff"}, "invalid_text"),
        ({"name": "li", "role": "emperor"}, "validation_error"),
        ({"name": "li", "role": "liaison"}, "validation_error"),
        ({"name": "li", "role": "staff", "association_id": "a"}, "validation_error"),
    ],
)
def test_a_bad_account_is_refused_and_nothing_stored(
    memory_ledger: Ledger, fields: dict[str, str], code: str
) -> None:
    with pytest.raises(errors.InvalidInput) as refused:
        memory_ledger.create_account(ctx(memory_ledger), **fields)
    assert refused.value.code == code
    assert memory_ledger.recorder.max_notification_id() in (None, 0)


def test_token_rules(memory_ledger: Ledger) -> None:
    c = ctx(memory_ledger)
    account_id, _ = memory_ledger.create_account(c, name="m", role="staff")
    with pytest.raises(errors.InvalidInput):
        memory_ledger.issue_token(c, account_id, sha256=SHA, expires_on=str(c.today))
    with pytest.raises(errors.OutOfRange):
        memory_ledger.issue_token(c, account_id, sha256=SHA, expires_on="2099-01-01")
    with pytest.raises(errors.InvalidInput):
        memory_ledger.issue_token(c, account_id, sha256="not a hash")
    token_id, _, _ = memory_ledger.issue_token(c, account_id, sha256=SHA)
    memory_ledger.revoke_token(c, account_id, token_id)
    with pytest.raises(errors.TokenAlreadyRevoked):
        memory_ledger.revoke_token(c, account_id, token_id)
    with pytest.raises(errors.NotFound):
        memory_ledger.revoke_token(c, account_id, "no-such-token")
    memory_ledger.disable_account(c, account_id)
    with pytest.raises(errors.AccountDisabled):
        memory_ledger.issue_token(c, account_id, sha256="b" * 64)
    with pytest.raises(errors.AccountDisabled):
        memory_ledger.disable_account(c, account_id)
    assert memory_ledger.get_account(account_id).version == 4


@pytest.mark.parametrize(
    "password",
    ["short-one", "x" * 201, "password123", "1234567890", "aaaaaaaaaaaa", "zhou-secret-1", 12],
)
def test_weak_passwords_are_refused(password: object) -> None:
    with pytest.raises(errors.WeakPassword) as refused:
        check_password(password, name="zhou")
    assert refused.value.code == "weak_password" and refused.value.field == "password"


def test_a_good_password_passes() -> None:
    assert check_password("岳麓山下-爱晚亭前红叶", name="zhou") == "岳麓山下-爱晚亭前红叶"


def test_officers_are_assigned_by_account(memory_ledger: Ledger) -> None:
    c = ctx(memory_ledger)
    project_id = project(memory_ledger)
    officer, _ = memory_ledger.create_account(c, name="zhou", role="officer")
    auditor, _ = memory_ledger.create_account(c, name="wu", role="auditor")
    version = memory_ledger.get_project(project_id).version
    for bad, code in ((str(auditor), "unknown_officer"), ("nobody", "unknown_officer")):
        with pytest.raises(errors.DomainError) as refused:
            memory_ledger.assign_officer(c, project_id, bad)
        assert refused.value.code == code
    assert memory_ledger.get_project(project_id).version == version
    memory_ledger.assign_officer(c, project_id, str(officer), reason="分管")
    assert memory_ledger.get_project(project_id).assigned_officers == [str(officer)]
    with pytest.raises(errors.OfficerAlreadyAssigned):
        memory_ledger.assign_officer(c, project_id, str(officer))
    memory_ledger.assign_officer(c, project_id, str(officer), remove=True)
    with pytest.raises(errors.OfficerNotAssigned):
        memory_ledger.assign_officer(c, project_id, str(officer), remove=True)
    assert memory_ledger.get_project(project_id).assigned_officers == []
