"""How a notification leaves the server: e-mail over SMTP (smtplib) and group-robot webhooks
(WeCom 企业微信 and DingTalk 钉钉) over HTTP(S) with `http.client` — no redirect is ever followed,
every socket has a timeout. What may be called is decided before (`services.notifications`); a
sender only sends, and raises `SendFailed` with a reason fit for the admins' list (never a
secret, never a webhook's query string).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import quote_plus, urlsplit


class SendFailed(Exception):
    """One attempt failed; the message says why, without secrets."""


@dataclass(frozen=True)
class OutgoingMessage:
    notification_id: str
    subject: str
    text: str
    link: str


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    starttls: bool
    user: str
    password: str
    sender: str
    timeout: float


def message_id(notification_id: str, sender: str) -> str:
    """The `Message-ID` of a notification's e-mail: the same for every attempt, so a receiver
    (or a mail server) can tell a retry from a new message."""
    domain = sender.rpartition("@")[2] or "zhaoshang"
    return f"<notification-{notification_id}@{domain}>"


def send_email(settings: SmtpSettings, to: str, message: OutgoingMessage) -> None:
    email = EmailMessage()
    email["From"] = settings.sender
    email["To"] = to
    email["Subject"] = message.subject
    email["Message-ID"] = message_id(message.notification_id, settings.sender)
    email["X-Notification-Id"] = message.notification_id
    email["Date"] = formatdate(usegmt=True)
    email.set_content(f"{message.text}\n\n{message.link}\n")
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.user:
                smtp.login(settings.user, settings.password)
            smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as e:
        raise SendFailed(f"smtp {settings.host}:{settings.port}: {type(e).__name__}") from None


def wecom_body(message: OutgoingMessage) -> dict[str, Any]:
    """A WeCom group robot's text message (plain text: user text can carry no markup)."""
    return {"msgtype": "text", "text": {"content": f"{message.text}\n{message.link}"}}


def dingtalk_body(message: OutgoingMessage) -> dict[str, Any]:
    """A DingTalk group robot's text message."""
    return {"msgtype": "text", "text": {"content": f"{message.text}\n{message.link}"}}


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """DingTalk's 加签: `timestamp` and `sign` = base64(HMAC-SHA256(secret,
    "timestamp\\nsecret")), url-encoded, added to the webhook's query."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    sign = quote_plus(base64.b64encode(digest).decode())
    joiner = "&" if urlsplit(url).query else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={sign}"


def post_webhook(url: str, body: dict[str, Any], notification_id: str, timeout: float) -> None:
    """POST the JSON body to the robot; a status other than 2xx, or a robot answer with a
    non-zero `errcode`, is a failure. Redirects are failures too (never followed)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    where = f"{parts.scheme}://{host}{':' + str(parts.port) if parts.port else ''}"
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    payload = json.dumps(body, ensure_ascii=False).encode()
    try:
        connection.request(
            "POST",
            path,
            body=payload,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "X-Notification-Id": notification_id,
                "User-Agent": "zhaoshang-notifications",
            },
        )
        response = connection.getresponse()
        answer = response.read(65536)
    except (OSError, http.client.HTTPException) as e:
        raise SendFailed(f"webhook {where}: {type(e).__name__}") from None
    finally:
        connection.close()
    if not 200 <= response.status < 300:
        raise SendFailed(f"webhook {where}: HTTP {response.status}")
    try:
        reply = json.loads(answer) if answer.strip() else {}
    except ValueError:
        return  # a 2xx without JSON: the receiver took it
    if isinstance(reply, dict) and reply.get("errcode") not in (None, 0):
        raise SendFailed(f"webhook {where}: errcode {reply.get('errcode')}")
