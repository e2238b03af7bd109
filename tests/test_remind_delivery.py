"""`vaultcrm remind --send` against real servers started here: HTTP chat-bot webhooks, SMTP, a command."""

from __future__ import annotations

import email
import email.policy
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from conftest import run_cli
from reminder_data import app_note, config, day_state, followup_note, rows, studio_files

AT = "2026-02-12 13:45"  # every kind of the day is due: 提前1天 … 服务前30分钟准备
SECRETS = ("花粉", "孕期", "腰肌劳损", "伤口")


class Hook:
    """What the HTTP server received, and how it should answer."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict]] = []
        self.fail_next = 0  # answer HTTP 500 to this many requests
        self.reply = b'{"errcode": 0, "errmsg": "ok"}'
        self.url = ""
        self.lock = threading.Lock()

    def bodies(self, path: str = "/hook") -> list[dict]:
        return [body for p, body in self.received if p == path]


@pytest.fixture
def hook(monkeypatch):
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8"))
            with state.lock:
                failing = state.fail_next > 0
                state.fail_next -= failing
                if not failing:
                    state.received.append((self.path, body))
            reply = b"boom" if failing else state.reply
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}"
    yield state
    server.shutdown()
    server.server_close()


class _PortZeroController(Controller):
    """aiosmtpd on a free port: learn the port the OS chose before the controller connects to it."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def smtp():
    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content,
                                                                              policy=email.policy.default)))
            return "250 OK"

    inbox = Inbox()
    controller = _PortZeroController(inbox, hostname="127.0.0.1", port=0)
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


def webhook(hook: Hook, kind: str = "webhook", path: str = "/hook", extra: str = "") -> str:
    return f"- {{类型: {kind}, 地址: '{hook.url}{path}'{extra}}}\n"


# -- chat bots -------------------------------------------------------------------------------------
def test_wecom_dingtalk_and_feishu_get_their_message_shapes(cli, vault, hook):
    channels = (webhook(hook, "企业微信", "/wecom") + webhook(hook, "钉钉", "/ding")
                + webhook(hook, "飞书", "/feishu") + webhook(hook, "企业微信", "/wecom-md", ", 名称: 店长群, 格式: markdown"))
    root = vault({"跟进/FLW-2026-001.md": followup_note()}, config=config(channels))
    result = cli(root, "remind", "--at", "2026-02-14 09:00", "--send")
    assert result.exit_code == 0, result.output
    [wecom], [ding], [feishu], [markdown] = (hook.bodies(p) for p in ("/wecom", "/ding", "/feishu", "/wecom-md"))
    text = "【静心养生馆】回访时间提醒\n回访时间提醒：张三 新客户首次回访（FLW-2026-001，服务 SRV-2026-001，负责人 前台小林）"
    rid = wecom["vaultcrm_reminder_id"]  # the reminder's stable ID, the same on every channel
    assert rid.startswith("vaultcrm-") and markdown["vaultcrm_reminder_id"] == rid
    assert wecom == {"msgtype": "text", "text": {"content": wecom["text"]["content"]}, "vaultcrm_reminder_id": rid}
    assert wecom["text"]["content"].startswith(text) and "联系方式：13800138000" in wecom["text"]["content"]
    assert ding == wecom
    assert feishu == {"msg_type": "text", "content": {"text": wecom["text"]["content"]}, "vaultcrm_reminder_id": rid}
    assert markdown["msgtype"] == "markdown"
    assert markdown["markdown"]["content"].startswith("#### 【静心养生馆】回访时间提醒\n")
    entry = day_state(root, "2026-02-14")["R-0214-01"]
    assert entry["状态"] == "已发送" and entry["完成时间"] == "2026-02-14 09:00"
    assert entry["已发送至"] == ["企业微信", "钉钉", "飞书", "店长群"]


def test_a_failed_delivery_is_retried_on_the_next_run_and_then_never_again(cli, vault, hook):
    root = vault({"跟进/FLW-2026-001.md": followup_note()}, config=config(webhook(hook)))
    hook.fail_next = 1
    first = cli(root, "remind", "--at", "2026-02-14 09:05", "--send", "--quiet")
    assert first.exit_code == 1
    assert "发送失败：R-0214-01 回访时间提醒 → webhook：HTTP 500" in first.stderr
    assert rows(root, "2026-02-14")[0][5:] == ["待发送", "-"]
    second = cli(root, "remind", "--at", "2026-02-14 09:10", "--send", "--quiet")
    assert second.exit_code == 0, second.output
    assert [b["编号"] for b in hook.bodies()] == ["R-0214-01"]
    assert rows(root, "2026-02-14")[0][5:] == ["已发送", "2026-02-14 09:10"]
    third = cli(root, "remind", "--at", "2026-02-14 09:15", "--send", "--quiet")
    assert (third.exit_code, third.stdout, third.stderr) == (0, "", "")
    assert len(hook.received) == 1
    log = (root / ".vaultcrm" / "logs" / "remind.log").read_text(encoding="utf-8").splitlines()
    assert len(log) == 2
    assert "R-0214-01 回访时间提醒 FLW-2026-001 → webhook 失败：HTTP 500" in log[0]
    assert log[1].endswith("R-0214-01 回访时间提醒 FLW-2026-001 → webhook 成功")


def test_a_bot_error_in_a_200_reply_counts_as_failed(cli, vault, hook):
    hook.reply = b'{"errcode": 93000, "errmsg": "invalid webhook url"}'
    root = vault({"跟进/FLW-2026-001.md": followup_note()}, config=config(webhook(hook, "企业微信")))
    result = cli(root, "remind", "--at", "2026-02-14 09:00", "--send")
    assert result.exit_code == 1 and "对方返回错误 93000：invalid webhook url" in result.stderr
    assert day_state(root, "2026-02-14")["R-0214-01"]["状态"] == "待发送"


def test_filters_route_kinds_and_audiences(cli, vault, hook):
    channels = (webhook(hook, path="/prep", extra=", 名称: 技师群, 仅限: [服务前30分钟准备]")
                + webhook(hook, path="/customers", extra=", 名称: 客户短信, 对象: [客户]"))
    root = vault(studio_files(), config=config(channels))
    result = cli(root, "remind", "--at", AT, "--send")
    assert result.exit_code == 0, result.output
    assert [b["提醒项"] for b in hook.bodies("/prep")] == ["服务前30分钟准备"]
    assert sorted(b["提醒项"] for b in hook.bodies("/customers")) == ["提前1天", "提前2小时确认"]
    assert "3 条提醒没有可用的发送渠道" in result.stderr  # the schedules: no channel takes them
    waiting = sorted(r[3].split("：")[0] for r in rows(root, "2026-02-12") if r[5] == "待发送")
    assert waiting == ["房间准备提醒", "技师排班提醒", "材料准备提醒"]


def test_customer_texts_carry_no_health_data_and_staff_texts_do(cli, vault, hook):
    root = vault(studio_files(), config=config(webhook(hook)))
    assert cli(root, "remind", "--at", AT, "--send").exit_code == 0
    by_kind = {b["提醒项"]: b for b in hook.bodies()}
    for kind in ("提前1天", "提前2小时确认"):
        assert by_kind[kind]["对象"] == "客户"
        assert "张三您好" in by_kind[kind]["消息"]
        assert not [s for s in SECRETS if s in json.dumps(by_kind[kind], ensure_ascii=False)]
    prep = by_kind["服务前30分钟准备"]
    assert prep["对象"] == "员工"
    for expected in ("过敏史：花粉", "禁忌事项：孕期", "左耳有小伤口", "两周后复诊", "材料：王不留行籽、耳穴贴"):
        assert expected in prep["消息"]


# -- e-mail and command ------------------------------------------------------------------------------
def test_email_through_a_real_smtp_server(cli, vault, smtp):
    channel = (f"- {{类型: 邮件, 服务器: 127.0.0.1, 端口: {smtp.port}, 发件人: studio@example.com, "
               "收件人: [owner@example.com, desk@example.com]}")
    root = vault({"跟进/FLW-2026-001.md": followup_note()}, config=config(channel))
    result = cli(root, "remind", "--at", "2026-02-14 09:00", "--send")
    assert result.exit_code == 0, result.output
    [(recipients, message)] = smtp.messages
    assert recipients == ["owner@example.com", "desk@example.com"]
    assert message["Subject"] == "【静心养生馆】回访时间提醒"
    assert message["From"] == "studio@example.com"
    assert "回访时间提醒：张三 新客户首次回访" in message.get_content()
    assert day_state(root, "2026-02-14")["R-0214-01"]["已发送至"] == ["邮件"]


def test_email_password_from_a_missing_variable_fails_clearly(cli, vault, smtp, monkeypatch):
    monkeypatch.delenv("VAULTCRM_TEST_SMTP_PW", raising=False)
    channel = (f"- {{类型: 邮件, 服务器: 127.0.0.1, 端口: {smtp.port}, 发件人: a@example.com, 收件人: [b@example.com], "
               "用户名: a, 密码环境变量: VAULTCRM_TEST_SMTP_PW}")
    root = vault({"跟进/FLW-2026-001.md": followup_note()}, config=config(channel))
    result = cli(root, "remind", "--at", "2026-02-14 09:00", "--send")
    assert result.exit_code == 1 and "环境变量 VAULTCRM_TEST_SMTP_PW 未设置" in result.stderr
    assert smtp.messages == []


SCRIPT = """
import os, sys
with open(sys.argv[1], "a", encoding="utf-8") as out:
    out.write(os.environ["VAULTCRM_ID"] + "|" + os.environ["VAULTCRM_KIND"] + "|" + os.environ["VAULTCRM_AUDIENCE"]
              + "|" + os.environ.get("VAULTCRM_PHONE", "") + "\\n" + sys.stdin.read() + "---\\n")
sys.exit(int(os.environ.get("FAIL_WITH", "0")))
"""


def command_channel(tmp_path) -> tuple[str, object]:
    script, out = tmp_path / "notify.py", tmp_path / "sent.txt"
    script.write_text(SCRIPT, encoding="utf-8")
    return f"- {{类型: 命令, 命令: ['{sys.executable}', '{script}', '{out}']}}", out


def test_command_channel_gets_the_message_on_stdin_and_fields_in_env(cli, vault, tmp_path):
    channel, out = command_channel(tmp_path)
    root = vault(studio_files(), config=config(channel))
    result = cli(root, "remind", "--at", "2026-02-12 12:00", "--send")
    assert result.exit_code == 0, result.output
    blocks = out.read_text(encoding="utf-8").split("---\n")[:-1]
    heads = [b.splitlines()[0] for b in blocks]
    assert heads == ["R-0211-01|提前1天|客户|13800138000", "R-0212-01|技师排班提醒|员工|",
                     "R-0212-02|房间准备提醒|员工|", "R-0212-03|材料准备提醒|员工|",
                     "R-0212-04|提前2小时确认|客户|13800138000"]
    assert blocks[0].splitlines()[1:] == ["【静心养生馆】预约提醒",
                                          "张三您好，您预约了 2月12日 14:00 的耳穴调理（李师傅），期待您的光临。如需改期，请提前与我们联系。"]


def test_a_failing_command_leaves_the_reminder_waiting(cli, vault, tmp_path, monkeypatch):
    channel, out = command_channel(tmp_path)
    monkeypatch.setenv("FAIL_WITH", "3")
    root = vault({"跟进/FLW-2026-001.md": followup_note()}, config=config(channel))
    result = cli(root, "remind", "--at", "2026-02-14 09:00", "--send")
    assert result.exit_code == 1 and "命令退出码 3" in result.stderr
    assert day_state(root, "2026-02-14")["R-0214-01"]["状态"] == "待发送"
    monkeypatch.setenv("FAIL_WITH", "0")
    assert cli(root, "remind", "--at", "2026-02-14 09:05", "--send").exit_code == 0
    assert out.read_text(encoding="utf-8").count("R-0214-01|") == 2


# -- cron overlap ------------------------------------------------------------------------------------
def test_overlapping_runs_send_each_reminder_exactly_once(vault, hook):
    files = studio_files()
    for n, (time, technician) in enumerate((("15:00", "王师傅"), ("16:00", "李师傅"), ("17:00", "张技师")), 2):
        files[f"预约/APP-2026-00{n}.md"] = app_note(f"APP-2026-00{n}", time=time, technician=technician,
                                                     room="房间B")
    root = vault(files, config=config(webhook(hook)))
    args = ("--vault", str(root), "remind", "--at", AT, "--send", "--quiet")
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: run_cli(*args), range(2)))
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    sent = [b["编号"] for b in hook.bodies()]
    assert len(sent) == len(set(sent)) == len(day_state(root, "2026-02-11")) + len(day_state(root, "2026-02-12"))
    assert len(sent) == 7 + 3 + 2 + 1  # appointment reminders; 3 technicians, 2 rooms, the materials
    assert all(r[5] == "已发送" for day in ("2026-02-11", "2026-02-12") for r in rows(root, day))


def test_command_placeholders_are_filled_without_shell_injection(cli, vault, tmp_path):
    out = tmp_path / "placeholders.txt"
    channels = (f"- {{类型: 命令, 名称: shell, 命令: 'printf \"%s|%s\\n\" \"{{编号}}\" \"{{提醒内容}}\" >> {out}'}}\n"
                f"- {{类型: 命令, 名称: argv, 命令: ['{sys.executable}', '-c', 'import sys; open(sys.argv[1], \"a\")"
                f".write(sys.argv[2] + chr(10))', '{out}', '{{标题}}']}}")
    root = vault({"预约/APP-2026-001.md": app_note(customer="王$(echo 注入)")}, config=config(channels))
    assert cli(root, "remind", "--at", "2026-02-11 14:00", "--send").exit_code == 0
    assert out.read_text(encoding="utf-8").splitlines() == [
        "R-0211-01|提前1天：王$(echo 注入) 02-12 14:00 耳穴调理（李师傅）", "【静心养生馆】预约提醒"]


def test_port_465_means_ssl_unless_said_otherwise():
    from vaultcrm.core.config import ReminderChannel

    mail = {"类型": "邮件", "服务器": "smtp.example.com", "发件人": "a@example.com", "收件人": ["b@example.com"]}
    assert ReminderChannel.model_validate({**mail, "端口": 465}).uses_ssl
    assert not ReminderChannel.model_validate({**mail, "端口": 465, "ssl": False}).uses_ssl
    assert not ReminderChannel.model_validate({**mail, "端口": 587, "starttls": True}).uses_ssl
