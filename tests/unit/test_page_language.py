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
