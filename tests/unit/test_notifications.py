"""Notifications without a database: which webhooks the server may call, DingTalk's signature,
the texts in both languages, the back-off and the e-mail's Message-ID (DESIGN §20)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest

from adapters.senders import (
    OutgoingMessage,
    dingtalk_body,
    dingtalk_signed_url,
    message_id,
    wecom_body,
)
from domain import errors
from services.notifications import TEXTS, check_webhook_url, render_text
from services.settings import Settings

OFFICIAL = Settings().webhook_host_list()


@pytest.mark.parametrize(
    "url",
    [
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6",
        "https://oapi.dingtalk.com/robot/send?access_token=abc",
        "https://OAPI.dingtalk.com:443/robot/send?access_token=abc",
    ],
)
def test_the_official_robot_hosts_are_allowed(url: str) -> None:
    assert check_webhook_url(url, OFFICIAL, False, "wecom_webhook") == url


@pytest.mark.parametrize(
    "url",
    [
        "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=1",  # not https
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata
        "https://127.0.0.1/admin",
        "https://10.0.0.5/",
        "https://localhost:8000/users",
        "https://qyapi.weixin.qq.com.evil.example/send",
        "https://evil.example/?qyapi.weixin.qq.com",
        "https://user:pw@qyapi.weixin.qq.com/cgi-bin/webhook/send",
        "https://qyapi.weixin.qq.com@10.0.0.5/",
        "https://qyapi.weixin.qq.com:8443/cgi-bin/webhook/send",  # another port
        "https://qyapi.weixin.qq.com/send#frag",
        "ftp://qyapi.weixin.qq.com/",
        "file:///etc/passwd",
        "https://[::1]/",
        "https://qyapi.weixin.qq.com:99999/",
        "qyapi.weixin.qq.com/cgi-bin/webhook/send",
    ],
)
def test_a_webhook_elsewhere_is_refused(url: str) -> None:
    with pytest.raises(errors.WebhookNotAllowed) as refused:
        check_webhook_url(url, OFFICIAL, False, "wecom_webhook")
    assert refused.value.code == "webhook_not_allowed" and refused.value.field == "wecom_webhook"


def test_a_local_receiver_needs_its_host_and_port_listed_and_http_allowed() -> None:
    url = "http://127.0.0.1:8081/robot"
    assert check_webhook_url(url, ["127.0.0.1:8081"], True, "f") == url
    with pytest.raises(errors.WebhookNotAllowed):
        check_webhook_url(url, ["127.0.0.1:8081"], False, "f")  # http not allowed
    with pytest.raises(errors.WebhookNotAllowed):
        check_webhook_url("http://127.0.0.1:8082/robot", ["127.0.0.1:8081"], True, "f")


def test_dingtalk_signs_timestamp_and_secret_with_hmac_sha256() -> None:
    url = dingtalk_signed_url(
        "https://oapi.dingtalk.com/robot/send?access_token=abc", "SEC123", 1700000000000
    )
    query = parse_qs(urlsplit(url).query)
    assert query["access_token"] == ["abc"] and query["timestamp"] == ["1700000000000"]
    expected = base64.b64encode(
        hmac.new(b"SEC123", b"1700000000000\nSEC123", hashlib.sha256).digest()
    ).decode()
    assert query["sign"] == [expected]
    # url-encoded in the URL itself (base64 has + and /)
    raw_sign = urlsplit(url).query.split("sign=")[1]
    assert unquote_plus(raw_sign) == expected and "+" not in raw_sign


def test_robot_bodies_are_the_text_messages_wecom_and_dingtalk_accept() -> None:
    message = OutgoingMessage("n-1", "回访到期", "甲项目：应于 2023-11-28 前回访", "https://x/app/")
    for body in (wecom_body(message), dingtalk_body(message)):
        assert body == {
            "msgtype": "text",
            "text": {"content": "甲项目：应于 2023-11-28 前回访\nhttps://x/app/"},
        }


def test_every_rule_has_its_text_in_chinese_and_english() -> None:
    args = {
        "title": "甲",
        "due_on": "2025-01-01",
        "signed_on": "2024-01-01",
        "months": "3",
        "category": "用工",
        "raised_on": "2024-01-01",
        "days": "31",
        "policy": "hunan-2022",
        "year": "2024",
        "revision": "0",
        "total": "1.00",
        "file": "a.xlsx",
        "recorded": "1",
        "refused": "0",
    }
    for rule in TEXTS:
        zh_subject, zh_text = render_text(rule, args, "zh")
        en_subject, en_text = render_text(rule, args, "en")
        assert zh_subject != en_subject and zh_text != en_text, rule
        assert "{" not in zh_text and "{" not in en_text
    # a missing value never breaks a text
    assert render_text("follow_up_due", {}, "zh")[1] == "…：应于 … 前回访"


def test_the_message_id_follows_from_the_notification_id() -> None:
    assert message_id("abc", "zhaoshang@hunan.gov.cn") == "<notification-abc@hunan.gov.cn>"
    assert message_id("abc", "zhaoshang@hunan.gov.cn") == message_id("abc", "other@hunan.gov.cn")


def test_back_off_doubles_from_the_base_delay() -> None:
    from services.notifications import NotificationService

    service = NotificationService.__new__(NotificationService)
    service.settings = Settings(notification_retry_seconds=30)
    assert [service.retry_delay(n) for n in (1, 2, 3, 4)] == [
        timedelta(seconds=s) for s in (30, 60, 120, 240)
    ]
