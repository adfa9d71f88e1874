"""The pages' languages without a server: the switch's cookie outranks `Accept-Language`, the
templates' words reach the catalogue check, and a translated sentence never lets a value through
unescaped."""

from __future__ import annotations

import pytest

from api.pages.render import _GETTEXT, environment, file_size, label_in
from i18n import LANGUAGE_COOKIE, chosen_language, language_from_request, translator
from i18n.extract import extract, template_words


class Request:
    def __init__(self, **headers: str) -> None:
        self.headers = headers


@pytest.mark.parametrize(
    ("cookie", "chosen"),
    [
        (None, None),
        ("", None),
        (f"{LANGUAGE_COOKIE}=en", "en"),
        (f"zhaoshang_session=abc; {LANGUAGE_COOKIE}=zh", "zh"),
        (f"{LANGUAGE_COOKIE}=fr", None),
        (f"{LANGUAGE_COOKIE}=EN; other=1", "en"),
        ('bad"cookie; zhaoshang_lang=en', "en"),
        ("other_zhaoshang_lang_x=en", None),
    ],
)
def test_the_switch_cookie_names_a_language_of_ours(cookie: str | None, chosen: str | None) -> None:
    assert chosen_language(cookie) == chosen


def test_the_choice_outranks_accept_language_and_a_parameter_outranks_both() -> None:
    chose_english = Request(cookie=f"{LANGUAGE_COOKIE}=en", **{"accept-language": "zh-CN"})
    assert language_from_request(chose_english) == "en"
    assert language_from_request(chose_english, preferred="zh") == "zh"
    assert language_from_request(Request(**{"accept-language": "en"})) == "en"
    assert language_from_request(Request(cookie="x=1", **{"accept-language": "en"})) == "en"


def test_the_templates_and_marked_python_words_reach_the_catalogue_check() -> None:
    in_templates = {text for text, _ in template_words()}
    assert {"Sign in", "Project history", "Verify a checkpoint file"} <= in_templates
    found = extract().messages
    assert "Amount arrived" in found  # N_("…") on a form label
    assert "Wrong user name or password." in found  # words(request)("…")
    assert "Evidence files intact: %(files)s files in %(references)s references." in found
    assert translator("zh").gettext("Record a funds arrival") == "记录资金到位"


def test_a_translated_sentence_escapes_its_values_and_a_label() -> None:
    template = environment.from_string(
        '{{ _("Search: %(q)s", q=q) }}|{{ _(label) }}|{{ _("%(name)s (%(share)s%%)", '
        "name=q, share=60) }}"
    )
    html = template.render(gettext=_GETTEXT["zh"], q="<script>x</script>", label="<b>")
    assert html == (
        "搜索：&lt;script&gt;x&lt;/script&gt;|&lt;b&gt;|&lt;script&gt;x&lt;/script&gt;（60%）"
    )
    english = template.render(gettext=_GETTEXT["en"], q="a&b", label="Files")
    assert english == "Search: a&amp;b|Files|a&amp;b (60%)"


def test_codes_and_sizes_in_words() -> None:
    labels = {"other_province": "省外"}
    assert label_in("zh", labels, "other_province") == "省外"
    assert label_in("en", labels, "other_province") == "other province"
    assert label_in("en", labels, "changsha", {"changsha": "Changsha"}) == "Changsha"
    assert label_in("zh", labels, None) == ""
    assert [file_size(n) for n in (812, 35_328, 2_202_010)] == ["812 B", "34.5 KiB", "2.1 MiB"]


def test_a_translated_sentence_with_values_in_a_template_reaches_the_catalogue_check() -> None:
    in_templates = {text for text, _ in template_words()}
    assert "Items %(first)s–%(last)s of %(total)s · page %(page)s / %(pages)s" in in_templates
    assert "Follow-up officers (%(n)s)" in in_templates


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("zh", ["上一页", "第 51–100 项，共 120 项 · 第 2 / 3 页", "下一页", 'aria-label="分页"']),
        ("en", ["Previous page", "Items 51–100 of 120 · page 2 / 3", "Next page", "Pages"]),
    ],
)
def test_the_pager_in_both_languages(lang: str, said: list[str]) -> None:
    from api.pages.paging import table_page

    table = table_page(list(range(120)), 2, lambda n: f"/app/associations?page={n}")
    template = environment.from_string(
        '{% from "_pager.html" import pager with context %}{{ pager(t) }}'
    )
    html = template.render(gettext=_GETTEXT[lang], t=table)
    assert all(words in html for words in said), html


def test_a_todo_line_in_the_reader_s_language_and_in_chinese_for_the_record() -> None:
    from services.todo import settlements_awaiting_approval

    (item,) = settlements_awaiting_approval(
        [
            {
                "policy": "hunan-2022",
                "year": 2023,
                "revision": 1,
                "settled_on": "2024-01-15",
                "total": "25000.00",
                "approval": None,
            }
        ]
    )
    assert item.title_in("zh") == "2023 年度奖励结算（hunan-2022）"
    assert item.detail_in("zh") == "第 1 版，2024-01-15 冻结，合计 25000.00 元"
    assert item.title_in("en") == "2023 reward settlement (hunan-2022)"
    assert item.detail_in("en") == "Revision 1, frozen on 2024-01-15, total 25000.00 yuan"
    assert item.as_dict()["detail"] == item.detail_in("zh")


def test_a_frozen_dispatch_s_progress_words_said_in_english() -> None:
    from api.pages.dispatches import progress_en

    frozen = ["考察2次", "签约（2023-06-01）", "资金到位1200000.50元", "办结问题诉求1项", "别的"]
    assert progress_en(frozen) == [
        "2 visits",
        "signed (2023-06-01)",
        "funds arrived: 1200000.50 yuan",
        "1 issues closed",
        "别的",  # a shape it does not know stays as it was frozen
    ]
