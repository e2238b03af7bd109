"""`campaign create|send|birthday`, `log/book --coupon` and `report campaigns`, end to end.

Real notes in tmp_path, vaultcrm in real subprocesses where delivery or a kill matters, an HTTP
receiver started here on 127.0.0.1 and a command channel (an SMS gateway stand-in) that appends each
message to a file.
"""

from __future__ import annotations

import json
import re
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from campaign_data import AT, config, profile, roster, sms_channel, studio, webhook_channel
from conftest import run_cli

from vaultcrm.campaigns.coupons import ALPHABET, new_code, normalize_code
from vaultcrm.campaigns.offers import parse_offer

CODE = re.compile(r"^[" + ALPHABET + r"]{4}-[" + ALPHABET + r"]{4}$")


class Receiver:
    def __init__(self) -> None:
        self.received: list[tuple[dict, dict]] = []  # (headers, body)
        self.fail_phones: set[str] = set()  # answer HTTP 500 for these (once each)
        self.url = ""
        self.lock = threading.Lock()

    def phones(self) -> list[str]:
        return [body["客户电话"] for _, body in self.received]


@pytest.fixture
def receiver(monkeypatch):
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8"))
            with state.lock:
                failing = body.get("客户电话") in state.fail_phones
                state.fail_phones.discard(body.get("客户电话"))
                if not failing:
                    state.received.append((dict(self.headers), body))
            reply = b"boom" if failing else b'{"errcode": 0}'
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


def sms_lines(tmp: Path) -> list[dict]:
    path = tmp / "sms.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def vcrm(root: Path, *args: str, env: dict | None = None):
    return run_cli("--vault", str(root), *args, env=env)


def create(root: Path, *extra: str, env: dict | None = None):
    return vcrm(root, "campaign", "create", "--segment", "流失预警", "--offer", "8折", "--valid-until", "2026-07-31",
                "--at", AT, *extra, env=env)


# -- create and send -------------------------------------------------------------------------------
def test_create_lists_every_target_and_messages_only_those_who_agreed(vault, receiver, tmp_path):
    root = vault(studio(), config=config(sms_channel(tmp_path) + webhook_channel(receiver.url)))
    result = create(root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "已创建活动 CMP-2026-001" in result.stdout
    assert "目标客户 4 人：已发送 2，待发送 0，跳过 2（拒绝营销 1，未授权营销 1）" in result.stdout

    rows = roster(root)
    assert set(rows) == {"C-0001", "C-0002", "C-0003", "C-0005"}  # 赵六 came last week: not 流失预警
    assert [rows[c]["状态"] for c in sorted(rows)] == ["已发送", "跳过", "跳过", "已发送"]
    assert rows["C-0002"]["说明"] == "拒绝营销" and rows["C-0003"]["说明"] == "未授权营销"
    assert rows["C-0001"]["已发送至"] == "短信、短信平台" and rows["C-0001"]["发送时间"] == "2026-06-30 10:00"
    assert rows["C-0001"]["客户"] == "[[C-0001 张三]]" and rows["C-0001"]["有效期至"] == "2026-07-31"
    codes = [r["优惠券"] for r in rows.values()]
    assert all(CODE.match(c) for c in codes) and len(set(codes)) == 4

    sms = sms_lines(tmp_path)
    assert sorted(m["phone"] for m in sms) == ["13800000001", "13800000005"]
    zhang = next(m for m in sms if m["phone"] == "13800000001")
    assert zhang["coupon"] == rows["C-0001"]["优惠券"] and zhang["campaign"] == "CMP-2026-001"
    assert zhang["message"] == ("【静心养生馆】流失预警 · 8折\n张三您好，特为您准备：8折。到店时出示券码 "
                                f"{zhang['coupon']} 即可使用，有效期至 7月31日。回复 TD 退订。\n")
    assert sorted(receiver.phones()) == ["13800000001", "13800000005"]
    headers, body = next((h, b) for h, b in receiver.received if b["客户电话"] == "13800000001")
    assert body["优惠券"] == zhang["coupon"] and body["活动编号"] == "CMP-2026-001" and body["对象"] == "客户"
    assert headers["X-Vaultcrm-Reminder-Id"] == body["vaultcrm_reminder_id"] == zhang["reminder_id"]

    note = (root / "活动/CMP-2026-001.md").read_text(encoding="utf-8")
    assert note.startswith("---\n活动编号: CMP-2026-001\n活动名称: 流失预警 · 8折\n")
    assert "优惠内容: 8折\n优惠方式: 折扣\n有效期至: 2026-07-31\n" in note
    assert "共 4 人：已发送 2，待发送 0，跳过 2" in note
    assert not (root / ".vaultcrm/campaigns/CMP-2026-001.sent").exists()  # folded into the note


def test_a_failed_send_is_retried_once_and_nobody_is_messaged_twice(vault, receiver, tmp_path):
    root = vault(studio(), config=config(sms_channel(tmp_path) + webhook_channel(receiver.url)))
    receiver.fail_phones = {"13800000005"}
    first = create(root)
    assert first.returncode == 1
    assert "发送失败：C-0005" in first.stderr and "HTTP 500" in first.stderr
    rows = roster(root)
    assert rows["C-0005"]["状态"] == "待发送" and rows["C-0005"]["已发送至"] == "短信"  # the SMS went out
    assert rows["C-0001"]["状态"] == "已发送"

    again = vcrm(root, "campaign", "send", "CMP-2026-001", "--at", "2026-06-30 11:00")
    assert again.returncode == 0, again.stderr
    assert "本次发送 1 人，失败 0 次" in again.stdout
    third = vcrm(root, "campaign", "send", "cmp-2026-001", "--at", "2026-06-30 12:00")
    assert third.returncode == 0 and "本次发送 0 人" in third.stdout

    assert sorted(m["phone"] for m in sms_lines(tmp_path)) == ["13800000001", "13800000005"]  # SMS never repeated
    assert sorted(receiver.phones()) == ["13800000001", "13800000005"]
    rows = roster(root)
    assert rows["C-0005"]["状态"] == "已发送" and rows["C-0005"]["发送时间"] == "2026-06-30 11:00"
    assert rows["C-0005"]["已发送至"] == "短信、短信平台"
    log = (root / ".vaultcrm/logs/campaign.log").read_text(encoding="utf-8")
    assert "CMP-2026-001" in log and "C-0005 → 短信平台 失败：HTTP 500" in log


def test_a_killed_send_resumes_without_repeating_who_was_reached(vault, tmp_path):
    """The gateway kills vaultcrm right after taking 钱七's message: 张三's delivery was only in the send
    log, never in the note; the next run must not message 张三 again. 钱七's, in flight when the process
    died, goes again under the same ID (at least once), and the note ends whole."""
    files = studio()
    files["客户/C-0003 王五.md"] = profile("C-0003", "王五", "是")
    root = vault(files, config=config(sms_channel(tmp_path)))
    killed = create(root, env={"SMS_KILL_PARENT_ON": "13800000005"})
    assert killed.returncode == -9
    assert roster(root)["C-0001"]["状态"] == "待发送"  # the note was not rewritten before the kill
    assert (root / ".vaultcrm/campaigns/CMP-2026-001.sent").exists()

    resumed = vcrm(root, "campaign", "send", "CMP-2026-001", "--at", "2026-06-30 10:05")
    assert resumed.returncode == 0, resumed.stderr
    phones = [m["phone"] for m in sms_lines(tmp_path)]
    assert phones.count("13800000001") == 1 and phones.count("13800000003") == 1
    assert phones.count("13800000005") == 2  # the one in flight, repeated with the same ID
    ids = {m["reminder_id"] for m in sms_lines(tmp_path) if m["phone"] == "13800000005"}
    assert len(ids) == 1
    rows = roster(root)
    assert {rows[c]["状态"] for c in ("C-0001", "C-0003", "C-0005")} == {"已发送"}
    assert rows["C-0001"]["发送时间"] == "2026-06-30 10:00"


def test_consent_withdrawn_before_a_resend_means_no_message(vault, receiver, tmp_path):
    root = vault(studio(), config=config(webhook_channel(receiver.url)))
    receiver.fail_phones = {"13800000005"}
    assert create(root).returncode == 1
    path = root / "客户/C-0005 钱七.md"
    path.write_text(path.read_text(encoding="utf-8").replace("营销: 是", "营销: 否"), encoding="utf-8")
    again = vcrm(root, "campaign", "send", "CMP-2026-001", "--at", "2026-06-30 11:00")
    assert again.returncode == 0
    assert receiver.phones() == ["13800000001"]
    rows = roster(root)
    assert rows["C-0005"]["状态"] == "跳过" and rows["C-0005"]["说明"] == "拒绝营销"


def test_a_row_set_to_skip_by_hand_is_never_sent_and_the_text_around_the_table_stays(cli, vault, receiver):
    root = vault(studio(), config=config(webhook_channel(receiver.url)))
    receiver.fail_phones = {"13800000001", "13800000005"}
    assert create(root).returncode == 1
    path = root / "活动/CMP-2026-001.md"
    text = path.read_text(encoding="utf-8")
    code = roster(root)["C-0005"]["优惠券"]
    row = next(line for line in text.splitlines() if line.startswith(f"| {code} "))
    text = text.replace(row, row.replace("| 待发送 |", "| 跳过 |")).replace("## 备注\n", "## 备注\n钱七说过不要短信。\n")
    path.write_text(text, encoding="utf-8")
    again = cli(root, "campaign", "send", "CMP-2026-001", "--at", "2026-06-30 11:00")
    assert again.exit_code == 0, again.output
    assert receiver.phones() == ["13800000001"]
    after = path.read_text(encoding="utf-8")
    assert "钱七说过不要短信。" in after and roster(root)["C-0005"]["状态"] == "跳过"


def test_tag_channel_and_dry_run(cli, vault, receiver, tmp_path):
    root = vault(studio(), config=config(sms_channel(tmp_path) + webhook_channel(receiver.url)))
    dry = cli(root, "campaign", "create", "--segment", "全部", "--tag", "VIP", "--offer", "赠送精油一份", "--dry-run",
              "--at", AT)
    assert dry.exit_code == 0, dry.output
    assert "预览（未写入、未发送）" in dry.stdout and "目标客户 1 人：将发送 1，跳过 0" in dry.stdout
    assert "钱七您好，特为您准备：赠送精油一份。" in dry.stdout
    assert not (root / "活动").exists() and sms_lines(tmp_path) == [] and receiver.received == []

    made = cli(root, "campaign", "create", "--tag", "VIP", "--offer", "赠送精油一份", "--channel", "短信",
               "--name", "VIP 回馈", "--at", AT, "--format", "json")
    assert made.exit_code == 0, made.output
    data = made.json()
    assert data["活动编号"] == "CMP-2026-001" and data["优惠方式"] == "赠品" and data["发送渠道"] == ["短信"]
    assert data["目标客户"] == 1 and data["已发送"] == 1 and data["名单"][0]["客户编号"] == "C-0005"
    assert receiver.received == [] and [m["phone"] for m in sms_lines(tmp_path)] == ["13800000005"]
    assert "发送渠道:\n  - 短信\n" in (root / "活动/CMP-2026-001.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("args", "code", "message"), [
    (("--segment", "老顾客", "--offer", "8折"), 2, "未知的客户分群「老顾客」"),
    (("--segment", "流失预警"), 2, "缺少 --offer"),
    (("--offer", "8折"), 2, "请用 --segment"),
    (("--segment", "流失预警", "--offer", "12折"), 1, "折扣「12折」应在 0–10 折之间"),
    (("--segment", "流失预警", "--offer", "8折", "--valid-until", "2026-06-01"), 1, "已经过去"),
    (("--segment", "流失预警", "--offer", "8折", "--channel", "彩信"), 1, "未知的发送渠道「彩信」"),
    (("--segment", "流失预警", "--tag", "不存在", "--offer", "8折"), 1, "没有符合条件"),
])
def test_bad_input_is_refused_and_nothing_is_written(cli, vault, tmp_path, args, code, message):
    root = vault(studio(), config=config(sms_channel(tmp_path)))
    result = cli(root, "campaign", "create", *args, "--at", AT)
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (root / "活动").exists() and sms_lines(tmp_path) == []


def test_without_a_channel_for_customers_nothing_is_made(cli, vault, receiver):
    staff_bot = f"- {{类型: 企业微信, 地址: '{receiver.url}/bot'}}\n"  # a staff group chat: never a campaign's
    root = vault(studio(), config=config(staff_bot))
    result = cli(root, "campaign", "create", "--segment", "流失预警", "--offer", "8折", "--at", AT)
    assert result.exit_code == 1 and "没有可发送营销消息的渠道" in result.stderr
    assert not (root / "活动").exists() and receiver.received == []


# -- redeeming -------------------------------------------------------------------------------------
@pytest.fixture
def campaign_vault(vault, tmp_path):
    root = vault(studio(), config=config(sms_channel(tmp_path)))
    assert create(root).returncode == 0
    return root


def test_log_coupon_redeems_once_applies_the_discount_and_links_the_campaign(cli, campaign_vault):
    root = campaign_vault
    code = roster(root)["C-0001"]["优惠券"]
    typed = code.lower().replace("-", " ")  # as read out over the phone
    result = cli(root, "log", "--customer", "C-0001", "--service", "全身推拿", "--coupon", typed,
                 "--at", "2026-07-03 15:00")
    assert result.exit_code == 0, result.output
    assert f"已核销优惠券 {code}（CMP-2026-001 8折）：¥200 → ¥160" in result.stdout
    note = (root / "服务记录/SRV-2026-006.md").read_text(encoding="utf-8")
    assert f"  服务费用: ¥160\n  原价: ¥200\n  优惠券: {code}\n  活动: \"[[CMP-2026-001]]\"\n" in note
    assert f"活动：[[CMP-2026-001]]（优惠券 {code}）" in note

    again = cli(root, "log", "--customer", "C-0001", "--service", "全身推拿", "--coupon", code,
                "--at", "2026-07-04 15:00")
    assert again.exit_code == 1
    assert f"优惠券 {code} 已使用（2026-07-03 SRV-2026-006），每张券只能用一次" in again.stderr
    assert not (root / "服务记录/SRV-2026-007.md").exists()


@pytest.mark.parametrize(("who", "code_of", "day", "message"), [
    ("C-0002", "C-0001", "2026-07-03", "是发给 C-0001 的（CMP-2026-001），不能给 C-0002 使用"),
    ("C-0001", "C-0001", "2026-08-01", "已过期（有效期至 2026-07-31，服务日期 2026-08-01）"),
    ("C-0001", None, "2026-07-03", "优惠券 ZZZZ-ZZZZ 不存在"),
    ("C-0001", "bad", "2026-07-03", "格式不对"),
])
def test_a_code_that_cannot_be_used_is_refused_with_the_reason(cli, campaign_vault, who, code_of, day, message):
    root = campaign_vault
    code = {None: "ZZZZ-ZZZZ", "bad": "O0I1-AAAA"}.get(code_of) or roster(root)[code_of]["优惠券"]
    before = sorted(p.name for p in (root / "服务记录").iterdir())
    result = cli(root, "log", "--customer", who, "--service", "全身推拿", "--coupon", code, "--date", day,
                 "--at", f"{day} 15:00")
    assert result.exit_code == 1 and message in result.stderr, result.output
    assert sorted(p.name for p in (root / "服务记录").iterdir()) == before


def test_book_with_a_coupon_and_log_the_visit_redeems_it(cli, campaign_vault):
    root = campaign_vault
    code = roster(root)["C-0005"]["优惠券"]
    wrong = cli(root, "book", "--customer", "C-0001", "--date", "2026-07-05", "--time", "10:00", "--service",
                "全身推拿", "--coupon", code, "--at", "2026-07-01 09:00", "--yes")
    assert wrong.exit_code == 1 and "不能给 C-0001 使用" in wrong.stderr
    booked = cli(root, "book", "--customer", "C-0005", "--date", "2026-07-05", "--time", "10:00", "--service",
                 "全身推拿", "--coupon", code, "--at", "2026-07-01 09:00", "--yes")
    assert booked.exit_code == 0, booked.output
    app = (root / "预约/APP-2026-001.md").read_text(encoding="utf-8")
    assert f"  服务地点: 房间A\n  优惠券: {code}\n" in app
    logged = cli(root, "log", "APP-2026-001", "--at", "2026-07-05 11:10")
    assert logged.exit_code == 0, logged.output
    srv = (root / "服务记录/SRV-2026-006.md").read_text(encoding="utf-8")
    assert f"优惠券: {code}" in srv and "服务费用: ¥160\n" in srv and "预约编号: APP-2026-001" in srv


def test_report_campaigns_counts_reach_redemptions_revenue_and_customers_won_back(cli, campaign_vault):
    root = campaign_vault
    code = roster(root)["C-0001"]["优惠券"]
    assert cli(root, "log", "--customer", "C-0001", "--service", "全身推拿", "--coupon", code,
               "--at", "2026-07-03 15:00").exit_code == 0
    # 王五 (never agreed, never messaged) came back on his own: won back, no redemption
    assert cli(root, "log", "--customer", "C-0003", "--service", "全身推拿", "--at", "2026-07-10 15:00").exit_code == 0
    result = cli(root, "report", "campaigns", "--month", "2026-07", "--format", "json")
    assert result.exit_code == 0, result.output
    [row] = result.json()["活动"]
    assert row == {"活动编号": "CMP-2026-001", "活动名称": "流失预警 · 8折", "目标分群": "流失预警", "优惠内容": "8折",
                   "有效期至": "2026-07-31", "发券数": 4, "触达人数": 2, "发送消息数": 2, "跳过": 2, "核销数": 1,
                   "核销率": 25.0, "核销营业额": 160, "回流客户": 2}
    csv = cli(root, "report", "campaigns", "--month", "2026-07", "--format", "csv")
    assert "CMP-2026-001,流失预警 · 8折,流失预警,8折,2026-07-31,4,2,2,2,1,25.0,160,2" in csv.stdout
    later = cli(root, "report", "campaigns", "--month", "2026-09", "--format", "json").json()
    assert later["活动"] == []


# -- the standing birthday campaign ---------------------------------------------------------------
BIRTHDAY_ON = "营销活动:\n  生日关怀: {启用: 是, 优惠: 生日当月8折, 有效天数: 14}\n"


def test_birthday_greetings_become_a_standing_campaign(cli, vault, tmp_path):
    files = studio()
    files["客户/C-0001 张三.md"] = profile("C-0001", "张三", "是", birthday="1990-07-04")
    files["客户/C-0003 王五.md"] = profile("C-0003", "王五", birthday="1985-07-02")
    root = vault(files, config=config(sms_channel(tmp_path), BIRTHDAY_ON))
    listed = cli(root, "remind", "--at", "2026-06-28 10:00", "--format", "json")
    assert "生日关怀提醒" not in listed.stdout  # the campaign greets instead

    run = cli(root, "campaign", "birthday", "--at", "2026-06-28 10:00")
    assert run.exit_code == 0, run.output
    assert "生日关怀（活动/生日关怀.md）：本次新增 2 人" in run.stdout
    assert re.search(r"C-0001\s+张三\s+\S+\s+已发送\s+7月4日生日", run.stdout), run.stdout
    rows = roster(root, "活动/生日关怀.md")
    assert rows["C-0001"]["状态"] == "已发送" and rows["C-0001"]["有效期至"] == "2026-07-18"
    assert rows["C-0001"]["说明"] == "7月4日生日"
    assert rows["C-0003"]["状态"] == "跳过" and rows["C-0003"]["说明"] == "未授权营销"
    [sms] = sms_lines(tmp_path)
    assert sms["message"].startswith("【静心养生馆】生日关怀\n张三您好，7月4日是您的生日，静心养生馆提前祝您生日快乐！"
                                     "特为您准备：生日当月8折。")

    again = cli(root, "campaign", "birthday", "--at", "2026-06-30 10:00", "--quiet")
    assert again.exit_code == 0 and again.stdout == ""
    assert len(sms_lines(tmp_path)) == 1 and len(roster(root, "活动/生日关怀.md")) == 2

    code = rows["C-0001"]["优惠券"]
    assert cli(root, "log", "--customer", "C-0001", "--service", "全身推拿", "--coupon", code,
               "--at", "2026-07-04 15:00").exit_code == 0
    report = cli(root, "report", "campaigns", "--month", "2026-06", "--format", "json").json()
    [row] = report["活动"]
    assert row["活动编号"] == "生日关怀" and row["发券数"] == 2 and row["触达人数"] == 1 and row["核销数"] == 1
    assert row["核销营业额"] == 160 and row["回流客户"] is None


def test_birthday_campaign_must_be_switched_on(cli, vault, tmp_path):
    root = vault(studio(), config=config(sms_channel(tmp_path)))
    result = cli(root, "campaign", "birthday", "--at", AT)
    assert result.exit_code == 1 and "营销活动.生日关怀.启用: 是" in result.stderr
    assert not (root / "活动").exists()


# -- pure rules ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "fee", "expected", "kind"), [
    ("8折", "198", "158.40", "折扣"), ("9.5折", "200", "190.00", "折扣"), ("减50", "198", "148", "立减"),
    ("立减¥30", "20", "0", "立减"), ("满300减50", "298", "298", "立减"), ("满300减50", "300", "250", "立减"),
    ("赠送精油一份", "198", "198", "赠品"),
])
def test_offers(text, fee, expected, kind):
    offer = parse_offer(text)
    assert offer.kind == kind and offer.apply(Decimal(fee)) == Decimal(expected)
    assert offer.apply(None) is None


def test_codes_are_unique_readable_and_typed_in_any_way():
    taken: set[str] = set()
    for _ in range(2000):
        code = new_code(taken)
        assert CODE.match(code) and code not in taken
        taken.add(code)
    assert not set("0O1I") & set("".join(taken))
    assert normalize_code(" k7mx 3qpd ") == "K7MX-3QPD"
    with pytest.raises(ValueError, match="不含 0、O、1、I"):
        normalize_code("K0MX-3QPD")
