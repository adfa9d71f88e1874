"""Accounts on SQLite and PostgreSQL: sessions, revocation seen by another worker process within
1 s, the throttle, the migration of the users of before accounts."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from adapters import users
from adapters.throttle import address_key
from adapters.users import UserStore, legacy_users_table, token_hash
from domain.application import Ledger
from domain.events import Actor
from services.accounts import InvalidCredentials, TooManyAttempts
from tests.conftest import services_for

ADMIN = Actor("root", "admin")
PASSWORD = "岳麓山下-爱晚亭前红叶"


def _accounts(ledger: Ledger, database_url: str, clock: list[Any]) -> Any:
    return services_for(ledger, database_url, clock=lambda: clock[0]).accounts


def _worker(database_url: str, now: Any, tokens: Any, answers: Any) -> None:
    """Another worker process: answers whether each token it is sent authenticates."""
    store = UserStore(database_url, clock=lambda: now)
    while (token := tokens.get()) is not None:
        answers.put(store.authenticate(token) is not None)
    store.close()


def _refused_within(token: str, tokens: Any, answers: Any) -> float:
    """Seconds until the other worker refuses `token`, asking it again and again (DESIGN §16:
    within 1 s; it may keep a good token's answer for a moment)."""
    started = time.monotonic()
    while time.monotonic() - started < 5.0:
        tokens.put(token)
        if answers.get(timeout=5) is False:
            return time.monotonic() - started
        time.sleep(0.02)
    return float("inf")


def test_a_revocation_and_a_disabled_account_stop_in_another_worker_within_a_second(
    ledger: Ledger, database_url: str, clock: list[Any]
) -> None:
    accounts = _accounts(ledger, database_url, clock)
    user, token = accounts.create("zhou", "officer", actor=ADMIN)
    other, other_token = accounts.create("wu", "staff", actor=ADMIN)
    ctx = ledger.context(ADMIN)
    spawn = multiprocessing.get_context("spawn")
    tokens, answers = spawn.Queue(), spawn.Queue()
    worker = spawn.Process(target=_worker, args=(database_url, clock[0], tokens, answers))
    worker.start()
    try:
        tokens.put(token)
        assert answers.get(timeout=60) is True
        (token_row,) = accounts.store.tokens(user.id)
        accounts.revoke_token(ctx, user.id, token_row.id, "离职")
        assert _refused_within(token, tokens, answers) < 1.0
        tokens.put(other_token)
        assert answers.get(timeout=5) is True
        accounts.disable(ctx, other.id, "调岗")
        assert _refused_within(other_token, tokens, answers) < 1.0
    finally:
        tokens.put(None)
        worker.join(timeout=30)
    kinds = [e.type for e in ledger.account_events(user.id)]
    assert kinds == ["created", "token_issued", "token_revoked"]
    assert token not in str(ledger.account_events(user.id))  # the hash only, never the value


def test_sessions_expire_end_and_follow_password_changes(
    ledger: Ledger, database_url: str, clock: list[Any]
) -> None:
    accounts = _accounts(ledger, database_url, clock)
    user, _ = accounts.create("zhou", "officer", password=PASSWORD, actor=ADMIN)
    first = accounts.login("zhou", PASSWORD, "10.0.0.1")
    assert first.user.must_change_password
    second = accounts.login("ZHOU", PASSWORD, "10.0.0.2")  # names are case-insensitive
    found = accounts.session_user(second.session_id)
    assert found is not None and found[1] == second.csrf_token
    me = found[0]
    accounts.change_own_password(me, PASSWORD, "橘子洲头-湘江北去-2025", "10.0.0.2")
    assert accounts.session_user(first.session_id) is None  # the other session ended
    assert accounts.session_user(second.session_id) is not None  # this one goes on
    with pytest.raises(InvalidCredentials):
        accounts.login("zhou", PASSWORD, "10.0.0.1")
    again = accounts.login("zhou", "橘子洲头-湘江北去-2025", "10.0.0.1")
    assert not again.user.must_change_password
    # idle 8 hours
    clock[0] += timedelta(hours=7, minutes=59)
    assert accounts.session_user(again.session_id) is not None
    clock[0] += timedelta(hours=8, minutes=1)
    assert accounts.session_user(again.session_id) is None
    # absolute 7 days, however busy
    busy = accounts.login("zhou", "橘子洲头-湘江北去-2025", "10.0.0.1")
    for _ in range(7 * 24 // 4 + 1):  # past 7 days
        clock[0] += timedelta(hours=4)
        alive = accounts.session_user(busy.session_id)
    assert alive is None
    # a disabled account's sessions end
    live = accounts.login("zhou", "橘子洲头-湘江北去-2025", "10.0.0.1")
    accounts.disable(ledger.context(ADMIN), user.id)
    assert accounts.session_user(live.session_id) is None
    with pytest.raises(InvalidCredentials):
        accounts.login("zhou", "橘子洲头-湘江北去-2025", "10.0.0.1")
    # a cookie naming a user id, not a session, opens nothing
    assert accounts.session_user(user.id) is None


def test_the_throttle_is_per_address_and_account_never_a_lock(
    ledger: Ledger, database_url: str, clock: list[Any]
) -> None:
    accounts = _accounts(ledger, database_url, clock)
    accounts.create("zhou", "officer", password=PASSWORD, actor=ADMIN)
    for _ in range(10):
        with pytest.raises(InvalidCredentials):
            accounts.login("zhou", "wrong-password-1", "203.0.113.9")
    with pytest.raises(TooManyAttempts) as throttled:
        accounts.login("zhou", PASSWORD, "203.0.113.9")  # even the right one, from there
    assert 1 <= throttled.value.retry_after <= 600
    # Someone else, elsewhere, is not locked out of the account.
    assert accounts.login("zhou", PASSWORD, "198.51.100.7").user.name == "zhou"
    clock[0] += timedelta(minutes=10, seconds=1)
    assert accounts.login("zhou", PASSWORD, "203.0.113.9").user.name == "zhou"
    # Bad tokens count per address.
    for _ in range(9):
        assert accounts.authenticate_bearer("zs_guess", "192.0.2.1") is None
    with pytest.raises(TooManyAttempts):
        accounts.authenticate_bearer("zs_guess", "192.0.2.1")
    assert accounts.throttle.retry_after([address_key("192.0.2.2")], clock[0]) is None


def test_users_of_before_accounts_are_carried_over_and_their_tokens_keep_working(
    ledger: Ledger, database_url: str, clock: list[Any]
) -> None:
    services = services_for(ledger, database_url, clock=lambda: clock[0])
    store = services.users
    legacy_users_table.create(store.engine, checkfirst=True)
    with store.engine.begin() as conn:
        conn.execute(
            legacy_users_table.insert().values(
                id="6f1c2b9e-5d7a-4c1e-9a8b-2d4f6e8a0b1c",
                name="old-hand",
                role="staff",
                association_id=None,
                token_sha256=token_hash("zs_old-token"),
                created_at=clock[0],
            )
        )
    accounts = services.accounts
    accounts.ensure_ready()
    assert accounts.migrate_legacy_users() == 0  # once only
    user = accounts.authenticate("zs_old-token")
    assert user is not None and user.id == "6f1c2b9e-5d7a-4c1e-9a8b-2d4f6e8a0b1c"
    events = ledger.account_events(user.id)
    assert [e.type for e in events] == ["created", "token_issued"]
    assert events[0].data["migrated"] is True and events[1].data["sha256"] == token_hash(
        "zs_old-token"
    )
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM zhaoshang_accounts")).scalar() == 1


def counted_connections(store: UserStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one each time `store` connects to its database."""
    reads: list[int] = []
    real = store.engine.connect

    def counted() -> Any:
        reads.append(1)
        return real()

    monkeypatch.setattr(store.engine, "connect", counted)
    return reads


@pytest.fixture
def officer_token(
    ledger: Ledger, database_url: str, clock: list[Any]
) -> Iterator[tuple[Any, str, UserStore]]:
    """An officer, its token, and a store of its own (a worker's) reading the same accounts."""
    user, token = _accounts(ledger, database_url, clock).create("qian", "officer", actor=ADMIN)
    store = UserStore(database_url, clock=lambda: clock[0])
    try:
        yield user, token, store
    finally:
        store.close()


def test_a_good_token_is_read_again_after_a_moment_and_at_once_after_a_change(
    officer_token: tuple[Any, str, UserStore], clock: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    user, token, store = officer_token
    reads = counted_connections(store, monkeypatch)
    assert store.authenticate(token) is not None
    assert reads  # read from the database
    reads.clear()
    assert store.authenticate(token) is not None
    assert reads == []  # the answer was kept
    monkeypatch.setattr(users, "BEARER_SECONDS", 0.0)  # the moment has passed
    assert store.authenticate(token) is not None
    assert len(reads) == 1  # read again once the moment passed
    (token_row,) = store.tokens(user.id)
    store.revoke_token(token_row.id, clock[0])
    assert store.authenticate(token) is None  # its own change: at once


def test_a_kept_token_is_answered_without_a_query_and_only_while_it_is_good(
    officer_token: tuple[Any, str, UserStore], clock: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    user, token, store = officer_token
    assert store.kept_bearer(token) is None  # not read yet
    read = store.authenticate(token)
    assert read is not None and read.id == user.id
    reads = counted_connections(store, monkeypatch)
    kept = store.kept_bearer(token)
    assert kept is not None and kept.id == user.id and reads == []
    assert store.kept_bearer(token + "x") is None
    clock[0] += timedelta(days=91)  # past the token's 90 days
    assert store.kept_bearer(token) is None
    clock[0] -= timedelta(days=91)
    monkeypatch.setattr(users, "BEARER_SECONDS", 0.0)  # the moment has passed
    assert store.kept_bearer(token) is None
    assert reads == []
