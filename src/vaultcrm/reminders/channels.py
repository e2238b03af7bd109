"""Deliver one reminder through one configured channel: a chat-bot webhook, SMTP mail or a command.

Standard library only (urllib, smtplib, subprocess): a studio's cron box should not need more. Each
channel either returns or raises DeliveryError with a short Chinese reason; retries and state are the
caller's business (`reminders/dispatch.py`). The text comes from `reminder_message.txt.j2`, which writes 客户
reminders from their customer-safe facts only.
"""

from __future__ import annotations

import json
import os
import re
import smtplib
import ssl as ssl_lib
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from ..core.config import WEBHOOK_TYPES, ChannelType, ReminderChannel, Settings
from ..core.reminder_kinds import Audience
from ..core.render import render
from .rules import Reminder

# The fields a command channel gets as environment variables (and a generic webhook as JSON).
ENV_NAMES = {"编号": "VAULTCRM_ID", "提醒类型": "VAULTCRM_GROUP", "提醒项": "VAULTCRM_KIND",
             "到期时间": "VAULTCRM_DUE", "提醒内容": "VAULTCRM_CONTENT", "关联客户": "VAULTCRM_CUSTOMER",
             "关联记录": "VAULTCRM_RECORD", "对象": "VAULTCRM_AUDIENCE", "标题": "VAULTCRM_TITLE",
             "内容": "VAULTCRM_MESSAGE", "客户电话": "VAULTCRM_PHONE"}
# `{标题}` in a command: the value itself in a list command, `${VAULTCRM_TITLE}` for the shell (never re-parsed).
PLACEHOLDER = re.compile(r"\{(" + "|".join(ENV_NAMES) + r")\}")


class DeliveryError(Exception):
    """The channel did not take the message; the reason is shown to the user and logged."""


@dataclass(frozen=True)
class Message:
    title: str
    text: str  # the whole message, title line first


def accepts(channel: ReminderChannel, reminder: Reminder) -> bool:
    """Whether the channel's 仅限 (kinds or groups) and 对象 (audiences) let this reminder through."""
    if channel.only and reminder.kind not in channel.only and reminder.group not in channel.only:
        return False
    return not channel.audience or reminder.audience in {Audience.parse(a) for a in channel.audience}


def compose(reminder: Reminder, settings: Settings, root: Path, *, markdown: bool = False) -> Message:
    text = render("reminder_message.txt.j2", root / settings.folders.templates, r=reminder,
                  studio=settings.studio, markdown=markdown).strip()
    title = text.split("\n", 1)[0].lstrip("# ").strip()
    return Message(title, text)


def deliver(channel: ReminderChannel, reminder: Reminder, fields: dict[str, str | None], settings: Settings,
            root: Path) -> None:
    """Send one reminder; `fields` describe it (编号, 提醒项 … as in `remind --format json`)."""
    markdown = channel.format == "markdown" and channel.type in {ChannelType.WECOM, ChannelType.DINGTALK}
    message = compose(reminder, settings, root, markdown=markdown)
    fields = {**fields, "标题": message.title,
              "客户电话": reminder.facts.get("phone") if reminder.audience is Audience.CUSTOMER else None}
    if channel.type in WEBHOOK_TYPES:
        _post(channel, _payload(channel, message, fields, markdown))
    elif channel.type is ChannelType.EMAIL:
        _mail(channel, message)
    else:
        _run(channel, message, fields)


def _payload(channel: ReminderChannel, message: Message, fields: dict, markdown: bool) -> dict:
    if channel.type is ChannelType.FEISHU:
        return {"msg_type": "text", "content": {"text": message.text}}
    if channel.type is ChannelType.WEBHOOK:
        return {**fields, "消息": message.text}
    if not markdown:  # 企业微信 and 钉钉 share the text shape
        return {"msgtype": "text", "text": {"content": message.text}}
    if channel.type is ChannelType.WECOM:
        return {"msgtype": "markdown", "markdown": {"content": message.text}}
    return {"msgtype": "markdown", "markdown": {"title": message.title, "text": message.text}}


def _post(channel: ReminderChannel, payload: dict) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(channel.url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=channel.timeout) as response:  # noqa: S310 (http/https only)
            reply = response.read(65536)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DeliveryError(f"无法连接 {channel.url}：{exc.reason}") from None
    except (TimeoutError, OSError) as exc:
        raise DeliveryError(f"连接 {channel.url} 失败：{exc}") from None
    _check_reply(reply)


def _check_reply(reply: bytes) -> None:
    """Chat bots answer HTTP 200 with an error code in the body (bad key, rate limit…)."""
    try:
        data = json.loads(reply.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return
    if not isinstance(data, dict):
        return
    for code_key, message_key in (("errcode", "errmsg"), ("code", "msg"), ("StatusCode", "StatusMessage")):
        code = data.get(code_key)
        if code not in (None, 0, "0"):
            raise DeliveryError(f"对方返回错误 {code}：{data.get(message_key, '')}")


def _password(channel: ReminderChannel) -> str | None:
    if channel.password_env:
        value = os.environ.get(channel.password_env)
        if value is None:
            raise DeliveryError(f"环境变量 {channel.password_env} 未设置（邮件密码）")
        return value
    return channel.password


def _mail(channel: ReminderChannel, message: Message) -> None:
    mail = EmailMessage()
    mail["Subject"] = message.title
    mail["From"] = channel.sender
    mail["To"] = ", ".join(channel.recipients)
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(domain=(channel.sender or "").rpartition("@")[2] or None)
    mail.set_content(message.text)
    password = _password(channel)
    try:
        if channel.uses_ssl:
            smtp = smtplib.SMTP_SSL(channel.host, channel.port or 465, timeout=channel.timeout,
                                    context=ssl_lib.create_default_context())
        else:
            smtp = smtplib.SMTP(channel.host, channel.port or (587 if channel.starttls else 25),
                                timeout=channel.timeout)
        with smtp:
            if channel.starttls and not channel.uses_ssl:
                smtp.starttls(context=ssl_lib.create_default_context())
            if channel.username:
                smtp.login(channel.username, password or "")
            smtp.send_message(mail)
    except smtplib.SMTPException as exc:
        raise DeliveryError(f"邮件发送失败：{exc}") from None
    except OSError as exc:
        raise DeliveryError(f"无法连接邮件服务器 {channel.host}：{exc}") from None


def _run(channel: ReminderChannel, message: Message, fields: dict) -> None:
    """The message on stdin, the fields in VAULTCRM_* variables; a string runs through the shell."""
    values = {k: str(v) for k, v in {**fields, "内容": message.text}.items() if k in ENV_NAMES and v is not None}
    env = {**os.environ, **{ENV_NAMES[k]: v for k, v in values.items()}}
    if isinstance(channel.command, str):
        command = PLACEHOLDER.sub(lambda m: "${%s}" % ENV_NAMES[m[1]], channel.command)
    else:
        command = [PLACEHOLDER.sub(lambda m: values.get(m[1], ""), part) for part in channel.command]
    try:
        done = subprocess.run(command, shell=isinstance(command, str), input=message.text + "\n", text=True, env=env,
                              capture_output=True, timeout=channel.timeout, check=False)
    except subprocess.TimeoutExpired:
        raise DeliveryError(f"命令超过 {channel.timeout:g} 秒未结束") from None
    except OSError as exc:
        raise DeliveryError(f"无法运行命令：{exc}") from None
    if done.returncode != 0:
        last = (done.stderr or "").strip().splitlines()[-1:] or [""]
        raise DeliveryError(f"命令退出码 {done.returncode}{'：' + last[0] if last[0] else ''}")
