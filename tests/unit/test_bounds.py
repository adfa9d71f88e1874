"""Bounds and text rules of the domain values (DESIGN §21), and the aggregates that use them:
each refusal has its stable code and records nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from domain import errors
from domain.association import Association
from domain.events import Context
from domain.project import Project
from domain.values import (
    MAX_YUAN,
    cny_value,
    parse_amount,
    parse_count,
    parse_date,
    parse_decimal,
    parse_rate,
    parse_text,
)
from tests.conftest import NOW, OFFICER, STAFF


def _code(call: Any) -> str:
    with pytest.raises(errors.InvalidInput) as caught:
        call()
    return caught.value.code


# ---- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["１００.００", "١٠٠", "1_000", " 100", "100 ", "٣"])
def test_money_digits_are_ascii(text: str) -> None:
    assert _code(lambda: parse_amount(text)) == "invalid_amount"


def test_amounts_are_bounded_by_their_cny_value() -> None:
    assert parse_amount("10000000000000.00") == MAX_YUAN
    assert _code(lambda: parse_amount("10000000000000.01")) == "out_of_range"
    assert _code(lambda: parse_decimal(10**40, "amount")) == "out_of_range"
    assert _code(lambda: parse_decimal("1e999999999", "amount")) == "out_of_range"
    assert cny_value(Decimal("1000000000000.00"), Decimal("10")) == MAX_YUAN
    assert _code(lambda: cny_value(Decimal("999999999999999.99"), Decimal("99999"))) == (
        "out_of_range"
    )


def test_rates_are_in_zero_to_ten_thousand() -> None:
    assert parse_rate("10000", "USD") == Decimal(10000)
    assert _code(lambda: parse_rate("10000.000001", "USD")) == "out_of_range"
    assert _code(lambda: parse_rate("999999999999999.999999", "USD")) == "out_of_range"
    assert _code(lambda: parse_rate("0", "USD")) == "invalid_amount"


def test_counts_are_whole_numbers_up_to_ten_million() -> None:
    assert parse_count(10**7, "count", minimum=1) == 10**7
    assert _code(lambda: parse_count(10**7 + 1, "count", minimum=1)) == "out_of_range"
    assert _code(lambda: parse_count(10**30, "employees", minimum=0)) == "out_of_range"
    assert _code(lambda: parse_count(0, "count", minimum=1)) == "validation_error"
    assert _code(lambda: parse_count(True, "count", minimum=1)) == "validation_error"


def test_dates_keep_to_the_years_the_ledger_can_compute_with() -> None:
    assert parse_date("1900-01-01", "as_of") == date(1900, 1, 1)
    assert _code(lambda: parse_date("0001-01-01", "as_of")) == "out_of_range"
    assert _code(lambda: parse_date(date(9999, 12, 31), "known_on")) == "out_of_range"


# ---- texts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("a\ud800b", "name"),  # a lone surrogate
        ("\u200b\u200b\u200b", "name"),  # zero-width spaces only
        ("\u3164\ufeff", "notes"),  # a Hangul filler and a BOM
        ("新\x1b[2J材料", "name"),  # a terminal escape
        ("新\x1b[31m", "notes"),
        ("a\nb", "name"),  # a line break where there is one line
        ("a\u2028b", "investor"),
        ("abc\u202edcb", "description"),  # a right-to-left override
        ("tab\there", "reason"),
        ("c1\x85c1", "name"),  # a C1 control (NEL)
    ],
)
def test_texts_without_control_characters_or_nothing_visible(value: str, field: str) -> None:
    assert _code(lambda: parse_text(value, field)) == "invalid_text"


def test_texts_are_nfc_normalised_and_may_break_lines_in_notes() -> None:
    assert parse_text("Cafe\u0301", "name") == "Café"
    assert parse_text(" 第一行\n第二行\r\n ", "notes") == "第一行\n第二行"
    assert parse_text("issues", "issues[0].description") == "issues"
    assert parse_text("\u200b", "county", required=False) == ""
    assert parse_text("👩\u200d🔬", "name") == "👩\u200d🔬"  # a joiner inside visible text
    assert _code(lambda: parse_text("x" * 201, "name", limit=200)) == "validation_error"
    assert parse_text("e\u0301" * 150, "name", limit=200) == "é" * 150  # measured after NFC


# ---- the aggregates --------------------------------------------------------------------------

CTX = Context(OFFICER, "api", NOW)


def _signed_project() -> Project:
    project = Project.refer(
        CTX,
        project_id=uuid4(),
        name="新材料产业园",
        investor="华科实业",
        industry="C",
        project_type="ordinary",
        origin="overseas",
        city="changsha",
        planned_investment="100000000.00",
        referrals=[{"association_id": "a", "share": 100}],
        occurred_on="2024-01-10",
    )
    project.sign(CTX, "2024-02-01", "50000000.00", "CNY")
    project.record_funds_arrival(CTX, "arrival-1", "2024-06-01", "100.00", "CNY")
    project.collect_events()
    return project


def _refused(project: Project, call: Any) -> str:
    version = project.version
    with pytest.raises(errors.DomainError) as caught:
        call()
    assert project.version == version and not project.collect_events()
    return caught.value.code


def test_a_project_refuses_out_of_range_money_and_records_nothing() -> None:
    p = _signed_project()
    assert (
        _refused(
            p,
            lambda: p.record_funds_arrival(
                CTX, "x", "2024-06-02", "999999999999999.99", "USD", "999999999999999.999999"
            ),
        )
        == "out_of_range"
    )
    assert (
        _refused(
            p,
            lambda: p.record_funds_arrival(
                CTX, "x", "2024-06-02", "999999999999999.99", "USD", "99999"
            ),
        )
        == "out_of_range"
    )
    assert (
        _refused(p, lambda: p.record_funds_arrival(CTX, "x", "2024-06-02", "１００.００", "CNY"))
        == "invalid_amount"
    )
    assert (
        _refused(
            p,
            lambda: p.record_funds_arrival(CTX, "x", "2024-06-02", "10000000000000.01", "CNY"),
        )
        == "out_of_range"
    )
    # 10^15 in a currency worth little is still within 10^13 yuan.
    p.record_funds_arrival(CTX, "y", "2024-06-02", "999999999999999.99", "VND", "0.000290")
    assert p.arrivals["y"].amount_cny == Decimal("290000000000.00")


def test_a_follow_up_refuses_employees_over_ten_million() -> None:
    p = _signed_project()
    p.start_production(CTX, "2024-07-01")
    p.collect_events()
    call = lambda: p.record_follow_up_visit(  # noqa: E731
        CTX, "2024-08-01", "normal", [], employees=10**30
    )
    assert _refused(p, call) == "out_of_range"


def test_corrections_and_voids_are_not_dated_before_their_arrival() -> None:
    p = _signed_project()
    correct = lambda: p.correct_funds_arrival(  # noqa: E731
        CTX, "arrival-1", "2024-05-31", "90.00", "CNY", "回单金额"
    )
    void = lambda: p.void_funds_arrival(CTX, "arrival-1", "2024-05-31", "重复录入")  # noqa: E731
    assert _refused(p, correct) == "date_before_arrival"
    assert _refused(p, void) == "date_before_arrival"
    p.void_funds_arrival(CTX, "arrival-1", "2024-06-01", "重复录入")  # the same day is fine
    assert p.arrivals["arrival-1"].voided


def test_an_association_refuses_a_huge_count_and_an_invisible_name() -> None:
    ctx = Context(STAFF, "api", NOW)
    association = Association.register(
        ctx, association_id=uuid4(), name="北京湖南商会", kind="alumni", based_in="北京"
    )
    association.collect_events()
    record = lambda: association.record_activity(  # noqa: E731
        ctx, "act-1", "promotion", "2024-03-01", "推介会", count=10**30
    )
    with pytest.raises(errors.OutOfRange):
        record()
    assert not association.collect_events()
    with pytest.raises(errors.InvalidText):
        Association.register(
            ctx, association_id=uuid4(), name="\u200b\u200b", kind="alumni", based_in="北京"
        )
