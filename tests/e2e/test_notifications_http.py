"""Notifications over HTTP and on the pages (DESIGN §12a, §20): one's notifications and marking
them read, one's channels (no webhook into the intranet, no secret shown), the deliveries for
admins, the bell on every page, and a robot that never answers not slowing the API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NOW
from tests.e2e.conftest import Api, _client
from tests.receivers import Receiver

PASSWORD = "岳麓山下-爱晚亭前红叶"
NEW = "橘子洲头-湘江北去-2025"


def _user_id(api: Api, role: str) -> str:
    return str(api.get("/users/me", role=role).json()["id"])


def _notify(api: Api, recipient: str, batch: str) -> str:
    service = api.app.state.services.notifications
    made = service.notify(
        "import_finished",
        batch,
        recipient,
        batch,
        {"file": f"{batch}.xlsx", "recorded": "3", "refused": "0"},
        f"/app/imports/{batch}",
    )
    assert made is not None
    return str(made.id)


def test_one_s_notifications_listed_and_marked_read(api: Api) -> None:
    staff = _user_id(api, "staff")
    first, second = _notify(api, staff, "b1"), _notify(api, staff, "b2")
    r = api.get("/notifications", role="staff")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 2 and {i["id"] for i in body["items"]} == {first, second}
    item = next(i for i in body["items"] if i["id"] == first)
    assert item["rule"] == "import_finished" and item["read"] is False
    assert item["text"] == "b1.xlsx 导入完成：已记录 3 行，拒绝 0 行"
    # The link is built from ZHAOSHANG_PUBLIC_URL, never from the request's Host.
    r = api.get("/notifications", role="staff", headers={"Host": "evil.example"})
    assert r.json()["items"][0]["link"].startswith("http://127.0.0.1:8000/app/imports/")
    english = api.get("/notifications", role="staff", headers={"Accept-Language": "en"})
    assert english.json()["items"][0]["text"].startswith("The import of")

    r = api.post(f"/notifications/{first}/read", role="staff")
    assert r.status_code == 201 and r.json() == {"id": first, "read": True}
    assert api.post(f"/notifications/{first}/read", role="staff").status_code == 201
    unread = api.get("/notifications?unread=true", role="staff").json()
    assert unread["total"] == 1 and unread["items"][0]["id"] == second
    # Someone else's notification is one that does not exist.
    r = api.post(f"/notifications/{second}/read", role="officer")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert api.get("/notifications", role="officer").json() == {"items": [], "total": 0}


def test_channels_refuse_an_intranet_webhook_and_never_show_the_secret(api: Api) -> None:
    assert api.get("/users/me/channels", role="officer").json() == {
        "email": None,
        "wecom_webhook": None,
        "dingtalk_webhook": None,
        "dingtalk_secret_set": False,
        "language": None,
        "in_app": True,
    }
    for field, url in (
        ("wecom_webhook", "http://10.1.2.3/internal"),
        ("dingtalk_webhook", "https://169.254.169.254/latest/meta-data/"),
        ("wecom_webhook", "https://qyapi.weixin.qq.com.attacker.example/x"),
    ):
        r = api.request("PUT", "/users/me/channels", role="officer", json={field: url})
        assert r.status_code == 422, r.text
        assert r.json()["error"] == {
            "code": "webhook_not_allowed",
            "message": r.json()["error"]["message"],
            "field": field,
        }
    r = api.request("PUT", "/users/me/channels", role="officer", json={"email": "not-an-address"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_email"

    chosen = {
        "email": "zhou@hunan.gov.cn",
        "wecom_webhook": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
        "dingtalk_webhook": "https://oapi.dingtalk.com/robot/send?access_token=t",
        "dingtalk_secret": "SECsecret-value",
        "language": "en",
        "in_app": True,
    }
    r = api.request("PUT", "/users/me/channels", role="officer", json=chosen)
    assert r.status_code == 200, r.text
    assert "SECsecret-value" not in r.text and r.json()["dingtalk_secret_set"] is True
    # Sent again without the secret: the stored one is kept while the DingTalk webhook stays.
    del chosen["dingtalk_secret"]
    r = api.request("PUT", "/users/me/channels", role="officer", json=chosen)
    assert r.json()["dingtalk_secret_set"] is True and r.json()["language"] == "en"
    # The secret never enters the event log.
    history = api.get(f"/users/{_user_id(api, 'officer')}/history").text
    assert "SECsecret-value" not in history and "zhou@hunan.gov.cn" not in history


def test_admins_list_the_deliveries(api: Api) -> None:
    r = api.get("/notifications/deliveries?status=failed", role="admin")
    assert r.status_code == 200 and r.json() == {"items": [], "total": 0}
    assert api.get("/notifications/deliveries", role="staff").status_code == 403
    r = api.get("/notifications/deliveries?status=lost", role="admin")
    assert r.status_code == 422


def test_the_bell_shows_the_unread_count_on_every_page(api: Api) -> None:
    r = api.post("/users", {"name": "zhou", "role": "officer", "password": PASSWORD})
    user_id = r.json()["id"]
    api.client.cookies.clear()
    login = api.client.post("/auth/login", json={"name": "zhou", "password": PASSWORD})
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    r = api.client.post(
        "/users/me/password", json={"current_password": PASSWORD, "new_password": NEW}, headers=csrf
    )
    assert r.status_code == 201, r.text
    page = api.client.get("/app/dispatches")
    assert 'href="/app/notifications"' in page.text and 'id="unread-count"' not in page.text
    ids = [_notify(api, user_id, "b1"), _notify(api, user_id, "b2")]
    for path in ("/app/", "/app/dispatches", "/app/channels"):
        page = api.client.get(path)
        assert page.status_code == 200
        assert re.search(r'id="unread-count">2<', page.text), path
    page = api.client.get("/app/notifications")
    assert "b1.xlsx 导入完成" in page.text
    r = api.client.post(
        f"/app/notifications/{ids[0]}/read",
        data={"csrf_token": csrf["X-CSRF-Token"]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert re.search(r'id="unread-count">1<', api.client.get("/app/").text)
    # The channels form: the API's fields and refusals beside them.
    r = api.client.post(
        "/app/channels",
        data={"csrf_token": csrf["X-CSRF-Token"], "wecom_webhook": "http://192.168.1.1/"},
    )
    assert r.status_code == 422 and 'id="e-wecom_webhook"' in r.text
    r = api.client.post(
        "/app/channels",
        data={"csrf_token": csrf["X-CSRF-Token"], "email": "zhou@hunan.gov.cn", "language": "zh"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert api.client.get("/users/me/channels").json()["email"] == "zhou@hunan.gov.cn"


@pytest.fixture
def hanging_robot() -> Iterator[Receiver]:
    with Receiver(hold=True) as robot:
        yield robot


def test_a_robot_that_never_answers_does_not_slow_the_api(
    tmp_path: Path, hanging_robot: Receiver
) -> None:
    """Delivery runs on the background sender, never on a request: while the sender waits on
    a robot that does not answer, the API answers (the robot is still holding the request)."""
    clock: list[datetime] = [NOW]
    settings: dict[str, Any] = {
        "webhook_hosts": hanging_robot.host,
        "webhook_allow_http": True,
        "notification_poll_seconds": 0.05,
        "notification_timeout_seconds": 30,
    }
    for api in _client(f"sqlite:///{tmp_path / 'hang.db'}", clock, **settings):
        staff = _user_id(api, "staff")
        r = api.request(
            "PUT",
            "/users/me/channels",
            role="staff",
            json={"wecom_webhook": hanging_robot.url("/cgi-bin/webhook/send?key=k")},
        )
        assert r.status_code == 200, r.text
        notification = _notify(api, staff, "b1")
        assert hanging_robot.waiting.wait(20), "the background sender did not call the robot"
        for _ in range(5):
            r = api.get("/notifications", role="staff")
            assert r.status_code == 200 and r.json()["items"][0]["id"] == notification
        assert api.post(f"/notifications/{notification}/read", role="staff").status_code == 201
        assert not hanging_robot.released.is_set() and hanging_robot.received == []
        hanging_robot.released.set()


def test_keyed_writes_answer_once(api: Api) -> None:
    """With an Idempotency-Key the channels form and marking read run in the keyed request's
    transaction, and a repeat answers the first answer."""
    staff = _user_id(api, "staff")
    notification = _notify(api, staff, "b1")
    key = {"Idempotency-Key": "read-once-1"}
    first = api.post(f"/notifications/{notification}/read", role="staff", headers=key)
    again = api.post(f"/notifications/{notification}/read", role="staff", headers=key)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert api.get("/notifications?unread=true", role="staff").json()["total"] == 0
