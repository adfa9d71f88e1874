"""The catalogue is complete (the CI check), and languages are chosen and applied at the edge."""

from __future__ import annotations

import pytest

from i18n import language_from_request, localise_error, negotiate, normalise_language, translator
from i18n.extract import extract, missing_translations
from i18n.messages import compile_template, localise_validation


def test_every_message_and_error_code_has_a_chinese_translation() -> None:
    """Fails on any refusal written in the code (or any error code) without Chinese: run
    `python -m i18n.extract` to add it to the catalogue, then translate it."""
    assert missing_translations() == []


def test_the_extractor_finds_the_messages_of_the_domain_and_the_api() -> None:
    found = extract()
    assert "{value!r} is not a date (YYYY-MM-DD)" in found.messages
    assert "use the header Authorization: Bearer <token>" in found.messages
    assert {"duplicate_name", "possible_duplicate", "stage_order", "unauthenticated"} <= set(
        found.codes
    )


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "zh"),
        ("", "zh"),
        ("en", "en"),
        ("en-GB,en;q=0.9", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("zh-CN;q=0.2, en;q=0.8", "en"),
        ("fr-FR, de", "zh"),
        ("fr, en;q=0.5", "en"),
        ("en;q=0", "zh"),
        ("*", "zh"),
        ("en;q=abc", "zh"),
    ],
)
def test_accept_language_picks_chinese_unless_english_is_preferred(
    header: str | None, lang: str
) -> None:
    assert negotiate(header) == lang


def test_a_request_s_language_prefers_the_caller_s_choice() -> None:
    class Request:
        headers = {"accept-language": "en"}

    assert language_from_request(Request()) == "en"
    assert language_from_request(Request(), preferred="zh-CN") == "zh"
    assert normalise_language("en_US") == "en" and normalise_language("xx") == "zh"


def test_a_message_is_translated_by_its_template_with_its_values() -> None:
    assert localise_error("validation_error", "'abc' is not a date (YYYY-MM-DD)", "zh") == (
        "'abc' 不是日期（格式 YYYY-MM-DD）"
    )
    # a value the catalogue knows is translated too
    assert localise_error(
        "stage_order", "funds arrival needs the project to be signed first", "zh"
    ) == ("资金到位须在项目签约之后")
    # English is the message as written
    message = "'abc' is not a date (YYYY-MM-DD)"
    assert localise_error("validation_error", message, "en") is message


def test_an_unknown_message_falls_back_to_its_code_never_to_english() -> None:
    assert localise_error("stage_order", "something new", "zh") == "项目阶段顺序不符"
    assert (
        localise_error("brand_new_code", "something new", "zh") == "请求未能完成（brand_new_code）"
    )


def test_pydantic_messages_are_translated_by_type() -> None:
    assert localise_validation("greater_than_equal", "validation_error", "x", {"ge": 1}, "zh") == (
        "须不小于 1"
    )
    assert localise_validation("nonesuch", "validation_error", "x", {}, "zh") == "输入无效"


def test_templates_match_literally_and_placeholders_take_any_text() -> None:
    template = compile_template("at most {limit} characters (.*)")
    assert template.pattern.fullmatch("at most 5 characters (.*)")
    assert not template.pattern.fullmatch("at most 5 characters (x)")


def test_gettext_reads_the_compiled_catalogue() -> None:
    assert translator("zh").gettext("project") == "项目"
    assert translator("en").gettext("project") == "project"
