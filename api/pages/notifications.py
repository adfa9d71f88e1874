"""Notification pages (DESIGN §20): one's notifications (the bell in every page's header leads
here) with marking read, one's channels (`/app/channels`, the form of `PUT /users/me/channels`)
and, for admins, the delivery outbox with what keeps failing (`/app/deliveries`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import Permission, Principal
from api.pages.forms import FormState, SubmittedForm, submit
from api.pages.projects import Input
from api.pages.render import render
from api.pages.session import PageUser, need
from api.routers.notifications import ChannelsIn
from services.notifications import NotificationService

router = APIRouter(prefix="/app", include_in_schema=False)
P = Permission

CHANNEL_INPUTS = (
    Input("email", "电子邮箱", hint="留空则不发邮件"),
    Input(
        "wecom_webhook",
        "企业微信群机器人 Webhook",
        hint="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…（留空则不发）",
    ),
    Input(
        "dingtalk_webhook",
        "钉钉群机器人 Webhook",
        hint="https://oapi.dingtalk.com/robot/send?access_token=…（留空则不发）",
    ),
    Input(
        "dingtalk_secret",
        "钉钉加签密钥",
        "password",
        hint="以 SEC 开头；留空则保留已保存的密钥",
    ),
    Input("language", "通知语言", "select", {"zh": "中文", "en": "English"}),
)
DELIVERY_STATUSES = {
    "failed": "失败",
    "pending": "待发送",
    "sending": "发送中",
    "sent": "已发送",
    "dropped": "已取消",
}
CHANNEL_LABELS = {"email": "电子邮件", "wecom": "企业微信", "dingtalk": "钉钉"}


def _service(request: Request) -> NotificationService:
    service: NotificationService = request.app.state.services.notifications
    return service


@router.get("/notifications")
def notifications(
    request: Request, user: PageUser, unread: bool = False, page: int = 1
) -> Response:
    need(user, P.NOTIFICATIONS)
    service = _service(request)
    lang = service.language_of(user.id) or "zh"
    size = 50
    rows, total = service.store.for_recipient(
        user.id, unread=True if unread else None, limit=size, offset=(max(page, 1) - 1) * size
    )
    items = [{**service.as_item(n, lang), "path": n.link} for n in rows]
    return render(
        request,
        "app/notifications.html",
        {
            "page_title": "通知",
            "items": items,
            "total": total,
            "unread_only": unread,
            "page": max(page, 1),
            "pages": max(1, -(-total // size)),
        },
    )


@router.post("/notifications/{notification_id}/read")
def mark_read(
    request: Request, notification_id: str, user: PageUser, form: SubmittedForm
) -> Response:
    need(user, P.NOTIFICATIONS)
    _service(request).mark_read(user.id, notification_id)
    back = (
        "/app/notifications?unread=true" if form.get("unread") == "true" else "/app/notifications"
    )
    return RedirectResponse(back, status_code=303)


def _channel_values(service: NotificationService, user: Principal) -> dict[str, str]:
    chosen = service.store.channels(user.id)
    return {
        "email": chosen.email or "",
        "wecom_webhook": chosen.wecom_webhook or "",
        "dingtalk_webhook": chosen.dingtalk_webhook or "",
        "language": chosen.language or "zh",
    }


@router.get("/channels")
def channels(request: Request, user: PageUser, saved: bool = False) -> Response:
    need(user, P.NOTIFICATIONS)
    service = _service(request)
    state = FormState(values=_channel_values(service, user))
    return _channels_page(request, service, user, state, saved=saved)


@router.post("/channels")
def save_channels(request: Request, user: PageUser, form: SubmittedForm) -> Response:
    need(user, P.NOTIFICATIONS)
    service = _service(request)
    state = FormState()

    def command(body: ChannelsIn) -> None:
        service.set_channels(
            user.id,
            email=body.email,
            wecom_webhook=body.wecom_webhook,
            dingtalk_webhook=body.dingtalk_webhook,
            dingtalk_secret=body.dingtalk_secret,
            language=body.language,
        )

    submit(ChannelsIn, form, command, state)
    if state.failed:
        state.values.pop("dingtalk_secret", None)  # a secret is never echoed back
        return _channels_page(request, service, user, state, status=422)
    return RedirectResponse("/app/channels?saved=true", status_code=303)


def _channels_page(
    request: Request,
    service: NotificationService,
    user: Principal,
    state: FormState,
    *,
    saved: bool = False,
    status: int = 200,
) -> Response:
    return render(
        request,
        "app/channels.html",
        {
            "page_title": "通知方式",
            "form": state,
            "inputs": CHANNEL_INPUTS,
            "saved": saved,
            "secret_set": bool(service.store.channels(user.id).dingtalk_secret),
        },
        status=status,
    )


@router.get("/deliveries")
def deliveries(request: Request, user: PageUser, status: str = "failed") -> Response:
    need(user, P.DELIVERIES)
    chosen = status if status in DELIVERY_STATUSES else "failed"
    listing = _service(request).deliveries(chosen)
    return render(
        request,
        "app/deliveries.html",
        {
            "page_title": "通知投递",
            "items": listing["items"],
            "total": listing["total"],
            "status": chosen,
            "statuses": DELIVERY_STATUSES,
            "channel_labels": CHANNEL_LABELS,
        },
    )
