"""The pages' language switch (DESIGN §16, issue 18): the choice kept in a cookie, honoured by
every page and by the API's messages in that browser; `Accept-Language` is the fallback."""

from __future__ import annotations

from html import unescape

from i18n import LANGUAGE_COOKIE
from tests.e2e.conftest import Api


def test_the_switch_keeps_english_for_pages_and_the_api_then_back(sqlite_api: Api) -> None:
    api = sqlite_api
    project = api.signed_project()
    page = f"/app/projects/{project}"
    chinese = api.get(page, role="officer")
    assert chinese.status_code == 200 and '<html lang="zh-CN">' in chinese.text
    assert "资金到位" in chinese.text and chinese.headers["content-language"] == "zh-CN"

    switched = api.client.post(
        "/app/language", data={"lang": "en", "next": page}, follow_redirects=False
    )
    assert switched.status_code == 303 and switched.headers["location"] == page
    assert f"{LANGUAGE_COOKIE}=en" in switched.headers["set-cookie"]
    assert "HttpOnly" in switched.headers["set-cookie"]

    english = api.get(page, role="officer")
    text = unescape(english.text)
    assert '<html lang="en">' in text and english.headers["content-language"] == "en"
    for words in ("Funds arrivals", "Key figures", "About the project", "Contract amount"):
        assert words in text
    assert "Changsha" in text and "Manufacturing" in text  # codes in words, in English
    assert "资金到位" not in text
    form = unescape(api.get(f"{page}/funds/new", role="officer").text)
    assert "Record a funds arrival" in form and "Amount arrived" in form
    assert "Bank slip / receipt" in form

    # The API's refusals follow the same browser's choice …
    refused = api.post(f"/projects/{project}/visits", {"occurred_on": "2999-01-01"}, "officer")
    assert refused.status_code == 422 and refused.headers["content-language"] == "en"
    assert refused.json()["error"]["code"] == "date_in_future"
    # … and a form's refusal is in English beside its field.
    posted = api.request(
        "POST",
        f"{page}/visits/new",
        "officer",
        data={"occurred_on": "2999-01-01"},
    )
    assert posted.status_code == 422
    assert refused.json()["error"]["message"] in unescape(posted.text)

    back = api.client.post("/app/language", data={"lang": "zh", "next": page})
    assert back.status_code == 200 and '<html lang="zh-CN">' in back.text  # followed back


def test_accept_language_decides_until_a_choice_and_next_stays_on_this_site(
    sqlite_api: Api,
) -> None:
    api = sqlite_api
    login = api.client.get("/app/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in login.text and ">Sign in</h1>" in login.text
    assert 'name="lang" value="zh"' in login.text  # the switch is there before signing in

    api.client.post("/app/language", data={"lang": "zh", "next": "/app/login"})
    chosen = api.client.get("/app/login", headers={"Accept-Language": "en"})
    assert ">登录</h1>" in chosen.text  # the choice outranks the header

    away = api.client.post(
        "/app/language", data={"lang": "en", "next": "//evil.example/"}, follow_redirects=False
    )
    assert away.headers["location"] == "/app/"
    odd = api.client.post(
        "/app/language", data={"lang": "fr", "next": "/app/login"}, follow_redirects=False
    )
    assert f"{LANGUAGE_COOKIE}=zh" in odd.headers["set-cookie"]  # unknown: the default
