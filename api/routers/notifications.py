"""Notifications over HTTP (DESIGN §12a, §20): one's own notifications and marking them read,
one's channels (`/users/me/channels`), and the delivery outbox for admins."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Permission, Principal
from api.deps import require
from api.schemas import In
from i18n import language_from_request
from services.notifications import NotificationService

router = APIRouter(tags=["notifications"])
Own = Annotated[Principal, Depends(require(Permission.NOTIFICATIONS))]
Admin = Annotated[Principal, Depends(require(Permission.DELIVERIES))]


def get_notifications(request: Request) -> NotificationService:
    service: NotificationService = request.app.state.services.notifications
    return service


Notifications = Annotated[NotificationService, Depends(get_notifications)]


_NOTIFICATION_EXAMPLE: dict[str, Any] = {
    "id": "5b1e0c7a-3f2d-5a41-9c8e-7d6f5e4c3b2a",
    "rule": "follow_up_due",
    "subject": "0c7d1f52-8a0e-4c55-9b7e-2f6a1d0c2e22",
    "text": "联新控股新材料产业园：应于 2026-12-01 前回访",
    "link": "https://zhaoshang.hunan.gov.cn/app/projects/0c7d1f52-8a0e-4c55-9b7e-2f6a1d0c2e22/follow-ups/new",
    "created_at": "2026-11-18T17:00:03+00:00",
    "read": False,
}
_DELIVERY_EXAMPLE: dict[str, Any] = {
    "id": 42,
    "notification_id": "5b1e0c7a-3f2d-5a41-9c8e-7d6f5e4c3b2a",
    "recipient_id": "c0a8012e-7f4b-4d3a-9e21-5b6c7d8e9f01",
    "rule": "follow_up_due",
    "channel": "wecom",
    "status": "failed",
    "attempts": 6,
    "last_error": "webhook https://qyapi.weixin.qq.com: HTTP 502",
    "created_at": "2026-11-18T17:00:03+00:00",
    "sent_at": None,
}


class NotificationOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_NOTIFICATION_EXAMPLE]})

    id: str
    rule: str = Field(
        description="follow_up_due, stalled_signing, issue_open, settlement_awaiting_approval, "
        "import_finished"
    )
    subject: str = Field(description="the project, issue or settlement it is about")
    text: str = Field(
        description="in the user's language (their channels' choice, else the request's)"
    )
    link: str = Field(description="the page to act on, under ZHAOSHANG_PUBLIC_URL")
    created_at: str
    read: bool


class NotificationsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_NOTIFICATION_EXAMPLE], "total": 1}]}
    )

    items: list[NotificationOut]
    total: int


class ReadOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": "5b1e0c7a-3f2d-5a41-9c8e-7d6f5e4c3b2a", "read": True}]
        }
    )

    id: str
    read: bool


class ChannelsIn(In):
    """A user's channels. Blank or absent: that channel is off. The app (`in_app`) is always
    on. A webhook may name only a host of `ZHAOSHANG_WEBHOOK_HOSTS` (https); the DingTalk
    secret (加签) is kept while the DingTalk webhook stays, unless a new one is given."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "chen@hunan.gov.cn",
                    "wecom_webhook": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
                    "dingtalk_webhook": "https://oapi.dingtalk.com/robot/send?access_token=…",
                    "dingtalk_secret": "SEC…",
                    "language": "zh",
                }
            ]
        },
    )

    email: str | None = Field(default=None, max_length=254)
    wecom_webhook: str | None = Field(default=None, max_length=1024)
    dingtalk_webhook: str | None = Field(default=None, max_length=1024)
    dingtalk_secret: str | None = Field(default=None, max_length=256)
    language: Literal["zh", "en"] | None = Field(
        default=None, description="the language of the texts (default Chinese)"
    )
    in_app: bool | None = Field(default=None, description="always true; accepted, not changed")


class ChannelsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "chen@hunan.gov.cn",
                    "wecom_webhook": None,
                    "dingtalk_webhook": "https://oapi.dingtalk.com/robot/send?access_token=…",
                    "dingtalk_secret_set": True,
                    "language": "zh",
                    "in_app": True,
                }
            ]
        }
    )

    email: str | None
    wecom_webhook: str | None
    dingtalk_webhook: str | None
    dingtalk_secret_set: bool = Field(description="a DingTalk secret is stored (never shown)")
    language: str | None
    in_app: bool = True


class DeliveryOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_DELIVERY_EXAMPLE]})

    id: int
    notification_id: str
    recipient_id: str | None
    rule: str | None
    channel: str
    status: str
    attempts: int
    last_error: str | None
    created_at: str
    sent_at: str | None


class DeliveriesOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_DELIVERY_EXAMPLE], "total": 1}]}
    )

    items: list[DeliveryOut]
    total: int


@router.get("/notifications", response_model=NotificationsOut, summary="One's notifications")
def list_notifications(
    request: Request,
    user: Own,
    service: Notifications,
    unread: bool | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Newest first; `unread=true` only those not yet read."""
    lang = language_from_request(request, service.language_of(user.id))
    rows, total = service.store.for_recipient(
        user.id, unread=unread, limit=size, offset=(page - 1) * size
    )
    return {"items": [service.as_item(n, lang) for n in rows], "total": total}


@router.post(
    "/notifications/{notification_id}/read",
    status_code=201,
    response_model=ReadOut,
    summary="Mark one of one's notifications read",
)
def mark_read(notification_id: str, user: Own, service: Notifications) -> ReadOut:
    """Another user's notification is 404, as one that does not exist."""
    service.mark_read(user.id, notification_id)
    return ReadOut(id=notification_id, read=True)


def channels_out(service: NotificationService, user_id: str) -> ChannelsOut:
    chosen = service.store.channels(user_id)
    return ChannelsOut(
        email=chosen.email,
        wecom_webhook=chosen.wecom_webhook,
        dingtalk_webhook=chosen.dingtalk_webhook,
        dingtalk_secret_set=bool(chosen.dingtalk_secret),
        language=chosen.language,
    )


@router.get("/users/me/channels", response_model=ChannelsOut, summary="One's channels")
def get_channels(user: Own, service: Notifications) -> ChannelsOut:
    return channels_out(service, user.id)


@router.put("/users/me/channels", response_model=ChannelsOut, summary="Choose one's channels")
def put_channels(body: ChannelsIn, user: Own, service: Notifications) -> ChannelsOut:
    """The whole set: a channel left out is turned off. A webhook on another host is 422
    `webhook_not_allowed`; a bad address 422 `invalid_email`."""
    service.set_channels(
        user.id,
        email=body.email,
        wecom_webhook=body.wecom_webhook,
        dingtalk_webhook=body.dingtalk_webhook,
        dingtalk_secret=body.dingtalk_secret,
        language=body.language,
    )
    return channels_out(service, user.id)


@router.get(
    "/notifications/deliveries",
    response_model=DeliveriesOut,
    summary="The delivery outbox (admins): `status=failed` for what keeps failing",
)
def deliveries(
    user: Admin,
    service: Notifications,
    status: Literal["pending", "sending", "sent", "failed", "dropped"] | None = None,
    size: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    return service.deliveries(status, size)
