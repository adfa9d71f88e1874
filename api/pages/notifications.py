"""Notification pages (DESIGN §20): one's notifications (the bell in every page's header leads
here) with marking read, one's channels (`/app/channels`, the form of `PUT /users/me/channels`)
and, for admins, the delivery outbox with what keeps failing (`/app/deliveries`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import Permission, Principal
from api.pages.forms import FormState, SubmittedForm, submit
from api.pages.projects import Input
from api.pages.render import page_language, render, words
from api.pages.session import PageUser, need
from api.routers.notifications import ChannelsIn
from i18n import N_
from services.notifications import NotificationService

router = APIRouter(prefix="/app", include_in_schema=False)
P = Permission

CHANNEL_INPUTS = (
    Input("email", N_("Email address"), hint=N_("Leave empty for no email")),
    Input(
        "wecom_webhook",
        N_("WeCom group robot webhook"),
        hint=N_("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=… (empty: not sent)"),
    ),
    Input(
        "dingtalk_webhook",
        N_("DingTalk group robot webhook"),
        hint=N_("https://oapi.dingtalk.com/robot/send?access_token=… (empty: not sent)"),
    ),
    Input(
        "dingtalk_secret",
        N_("DingTalk signing secret"),
        "password",
        hint=N_("Starts with SEC; leave empty to keep the saved secret"),
    ),
    # Each language named in its own words, whatever the page's language.
    Input(
        "language",
        N_("Language of notifications"),
        "select",
        {"zh": "中文", "en": "English"},
        english={"zh": "中文", "en": "English"},
    ),
)
DELIVERY_STATUSES = {
    "failed": "失败",
    "pending": "待发送",
    "sending": "发送中",
    "sent": "已发送",
    "dropped": "已取消",
}
CHANNEL_LABELS = {"email": "电子邮件", "wecom": "企业微信", "dingtalk": "钉钉"}
DELIVERY_STATUSES_EN = {
    "failed": "Failed",
    "pending": "Waiting to be sent",
    "sending": "Being sent",
    "sent": "Sent",
    "dropped": "Dropped",
}
CHANNEL_LABELS_EN = {"email": "Email", "wecom": "WeCom", "dingtalk": "DingTalk"}


def _service(request: Request) -> NotificationService:
    service: NotificationService = request.app.state.services.notifications
    return service


@router.get("/notifications")
def notifications(
    request: Request, user: PageUser, unread: bool = False, page: int = 1
) -> Response:
    need(user, P.NOTIFICATIONS)
    service = _service(request)
    lang = page_language(request)  # the page's words, the notifications' texts alike
    size = 50
    rows, total = service.store.for_recipient(
        user.id, unread=True if unread else None, limit=size, offset=(max(page, 1) - 1) * size
    )
    items = [{**service.as_item(n, lang), "path": n.link} for n in rows]
    return render(
        request,
        "app/notifications.html",
        {
            "page_title": words(request)(N_("Notifications")),
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

    submit(ChannelsIn, form, command, state, page_language(request))
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
            "page_title": words(request)(N_("How I am notified")),
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
            "page_title": words(request)(N_("Notification deliveries")),
            "items": listing["items"],
            "total": listing["total"],
            "status": chosen,
            "statuses": DELIVERY_STATUSES,
            "statuses_en": DELIVERY_STATUSES_EN,
            "channel_labels": CHANNEL_LABELS,
            "channel_labels_en": CHANNEL_LABELS_EN,
        },
    )
