"""Deliver one reminder through one configured channel: a chat-bot webhook, SMTP mail or a command.

Standard library only (http.client, smtplib, subprocess): a studio's cron box should not need more.
Each channel either returns or raises DeliveryError with a short Chinese reason; retries and state are
the caller's business (`reminders/dispatch.py`). The text comes from `reminder_message.txt.j2`, which
writes 客户 reminders from their customer-safe facts only.

What a send promises: a webhook POST has one deadline (`超时`) for the whole exchange, however slowly
the server answers; only a 2xx answer counts (a redirect is not followed, it is a failure); anything
else, a garbled answer or a dropped connection included, fails this reminder only. A send that timed
out may still have arrived, and the next run sends it again: delivery is at least once, so every
request carries the reminder's stable ID (`delivery_id`) for the receiver to drop repeats. A command
runs in its own process group, killed whole at the deadline; it succeeds when it exits 0, whatever
background children it leaves holding its output.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import signal
import smtplib
import socket
import ssl as ssl_lib
import subprocess
import tempfile
import threading
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from ..core.config import WEBHOOK_TYPES, ChannelType, ReminderChannel, Settings
from ..core.reminder_kinds import Audience
from ..core.render import render
from .rules import Reminder

# The fields a command channel gets as environment variables (and a generic webhook as JSON).
ENV_NAMES = {"编号": "VAULTCRM_ID", "提醒类型": "VAULTCRM_GROUP", "提醒项": "VAULTCRM_KIND",
             "到期时间": "VAULTCRM_DUE", "提醒内容": "VAULTCRM_CONTENT", "关联客户": "VAULTCRM_CUSTOMER",
             "关联记录": "VAULTCRM_RECORD", "对象": "VAULTCRM_AUDIENCE", "标题": "VAULTCRM_TITLE",
             "内容": "VAULTCRM_MESSAGE", "客户电话": "VAULTCRM_PHONE", "活动编号": "VAULTCRM_CAMPAIGN",
             "优惠券": "VAULTCRM_COUPON"}
# `{标题}` in a command: the value itself in a list command, `${VAULTCRM_TITLE}` for the shell (never re-parsed).
PLACEHOLDER = re.compile(r"\{(" + "|".join(ENV_NAMES) + r")\}")
ID_HEADER = "X-Vaultcrm-Reminder-Id"
ID_FIELD = "vaultcrm_reminder_id"  # in every webhook body, beside the channel's own fields
ID_ENV = "VAULTCRM_REMINDER_ID"
MAX_REPLY = 65536


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


def delivery_id(reminder: Reminder) -> str:
    """The reminder's ID for receivers: the same for every attempt, made from what the reminder is
    (提醒项, 关联记录, 到期时间), so it never names another reminder, even after a day note is rebuilt."""
    return "vaultcrm-" + hashlib.sha256(reminder.key.encode("utf-8")).hexdigest()[:24]


def deliver(channel: ReminderChannel, reminder: Reminder, fields: dict[str, str | None], settings: Settings,
            root: Path) -> None:
    """Send one reminder; `fields` describe it (编号, 提醒项 … as in `remind --format json`)."""
    message = compose(reminder, settings, root, markdown=wants_markdown(channel))
    fields = {**fields, "客户电话": reminder.facts.get("phone") if reminder.audience is Audience.CUSTOMER else None}
    transmit(channel, message, fields, delivery_id(reminder))


def wants_markdown(channel: ReminderChannel) -> bool:
    return channel.format == "markdown" and channel.type in {ChannelType.WECOM, ChannelType.DINGTALK}


def transmit(channel: ReminderChannel, message: Message, fields: dict[str, str | None], stable_id: str) -> None:
    """Send one composed message (a reminder's or a campaign's) under its stable ID; DeliveryError if not taken."""
    markdown = wants_markdown(channel)
    fields = {**fields, "标题": message.title}
    if channel.type in WEBHOOK_TYPES:
        _post(channel, {**_payload(channel, message, fields, markdown), ID_FIELD: stable_id}, stable_id)
    elif channel.type is ChannelType.EMAIL:
        _mail(channel, message, stable_id)
    else:
        _run(channel, message, fields, stable_id)


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


def _post(channel: ReminderChannel, payload: dict, stable_id: str) -> None:
    """POST the JSON payload; the whole exchange (connect, send, answer) must end within `超时` seconds.

    A socket timeout only bounds each read, so a server dripping a byte at a time could hold one
    reminder for minutes: the exchange runs in a worker thread, and at the deadline its socket is shut.
    """
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", ID_HEADER: stable_id,
               "User-Agent": "vaultcrm"}
    conn, target = _connection(channel.url or "", channel.timeout)
    outcome: dict = {}

    def exchange() -> None:
        try:
            conn.request("POST", target, body=body, headers=headers)
            response = conn.getresponse()
            outcome["answer"] = (response.status, response.reason, response.getheader("Location"),
                                 response.read(MAX_REPLY))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread below
            outcome["error"] = exc
        finally:
            conn.close()

    worker = threading.Thread(target=exchange, name="vaultcrm-webhook", daemon=True)
    worker.start()
    worker.join(channel.timeout)
    if worker.is_alive():
        _abort(conn)
        worker.join(1.0)
        raise DeliveryError(f"{channel.timeout:g} 秒内未完成（超时），对方可能已收到；下次运行会重发（带同一提醒 ID）")
    if "error" in outcome:
        raise DeliveryError(_network_reason(channel.url or "", outcome["error"]))
    status, reason, location, reply = outcome["answer"]
    if 300 <= status < 400:
        raise DeliveryError(f"HTTP {status} {reason}：对方要求转到 {location or '别的地址'}，未跟随；"
                            "请把渠道的 地址 改为最终地址")
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status} {reason}")
    _check_reply(reply)


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    """A connection for `url` (through the environment's proxy, if one applies) and the request target."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(f"地址「{url}」不是 http:// 或 https:// 网址")
    try:
        port = parts.port
    except ValueError:
        raise DeliveryError(f"地址「{url}」的端口无效") from None
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    https = parts.scheme == "https"
    proxy = None if urllib.request.proxy_bypass(parts.hostname) else urllib.request.getproxies().get(parts.scheme)
    context = ssl_lib.create_default_context() if https else None
    if proxy:
        p = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if https:
            conn = http.client.HTTPSConnection(p.hostname, p.port or 80, timeout=timeout, context=context)
            conn.set_tunnel(parts.hostname, port or 443)
            return conn, target
        return http.client.HTTPConnection(p.hostname, p.port or 80, timeout=timeout), url
    if https:
        return http.client.HTTPSConnection(parts.hostname, port, timeout=timeout, context=context), target
    return http.client.HTTPConnection(parts.hostname, port, timeout=timeout), target


def _abort(conn: http.client.HTTPConnection) -> None:
    """Wake the worker blocked on the connection's socket: shut it, so its read ends now."""
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _network_reason(url: str, exc: BaseException) -> str:
    if isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
        return f"{url} 断开了连接，未确认送达（{exc or type(exc).__name__}）"
    if isinstance(exc, http.client.HTTPException):
        shown = " ".join("".join(ch if ch.isprintable() else " " for ch in str(exc)).split())[:80]
        return f"{url} 的回答不是有效的 HTTP（{type(exc).__name__}: {shown}），未确认送达"
    if isinstance(exc, TimeoutError):
        return f"连接 {url} 超时"
    if isinstance(exc, OSError):
        return f"无法连接 {url}：{exc.strerror or exc}"
    return f"发送到 {url} 失败：{type(exc).__name__}: {exc}"


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


def _mail(channel: ReminderChannel, message: Message, stable_id: str) -> None:
    mail = EmailMessage()
    mail["Subject"] = message.title
    mail["From"] = channel.sender
    mail["To"] = ", ".join(channel.recipients)
    mail["Date"] = formatdate(localtime=True)
    # The same Message-ID on every attempt: mail systems drop a repeated one.
    mail["Message-ID"] = f"<{stable_id}@{(channel.sender or '').rpartition('@')[2] or 'vaultcrm.invalid'}>"
    mail[ID_HEADER] = stable_id
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


def _run(channel: ReminderChannel, message: Message, fields: dict, stable_id: str) -> None:
    """The message on stdin, the fields in VAULTCRM_* variables; a string runs through the shell.

    The command runs in a new session (its own process group): at the deadline the whole group is
    killed, children included. Its output goes to temporary files, not pipes, so a background child
    still holding stderr after the command exited cannot make a success wait for the deadline.
    """
    values = {k: str(v) for k, v in {**fields, "内容": message.text}.items() if k in ENV_NAMES and v is not None}
    env = {**os.environ, **{ENV_NAMES[k]: v for k, v in values.items()}, ID_ENV: stable_id}
    if isinstance(channel.command, str):
        command = PLACEHOLDER.sub(lambda m: "${%s}" % ENV_NAMES[m[1]], channel.command)
    else:
        command = [PLACEHOLDER.sub(lambda m: values.get(m[1], ""), part) for part in channel.command]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(command, shell=isinstance(command, str), stdin=subprocess.PIPE, stdout=out,
                                    stderr=err, env=env, start_new_session=True)
        except OSError as exc:
            raise DeliveryError(f"无法运行命令：{exc}") from None
        try:
            proc.communicate((message.text + "\n").encode("utf-8"), timeout=channel.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise DeliveryError(f"命令超过 {channel.timeout:g} 秒未结束，已终止（连同它启动的进程）") from None
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read()[-4096:].decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise DeliveryError(f"命令退出码 {proc.returncode}{'：' + tail[0] if tail[0] else ''}")


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the command and everything it started in its process group, then reap it."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows has no process groups of this kind
            proc.kill()
    except ProcessLookupError:
        pass
    proc.wait()
