"""`vaultcrm import customers`: a messy Excel sheet and CSVs in UTF-8 (with BOM) and GBK."""

from __future__ import annotations

import datetime as dt

import pytest
from customer_data import CONFIG, ZHANG, profile
from openpyxl import Workbook

from vaultcrm.core.loader import load_vault
from vaultcrm.customers.importer import normalize_date, normalize_phone

HEADER = ["序号", "客户姓名", "手机号", "性别", "出生日期", "首次消费", "来源", "过敏史", "备注", "会员等级", "会员卡号"]
ROWS = [
    [1, "张三", "138 0013 8000", "女", dt.datetime(1990, 5, 1), "2025/3/8", None, "花粉、艾草", "怕冷", None, "A1"],
    [None] * 11,  # a blank row, skipped
    [2, "赵六", "１３９１２３４５６７８", "男", "1985/3/7", "20260212", "美团", None, None, "金卡", None],
    [3, "孙七", "+86 137-1234-5678", None, "1992年8月9日", 45000, "朋友介绍", None, None, None, None],
    [4, "孙七", "13712345678", "F", None, None, "抖音", "海鲜", "对海鲜过敏", None, None],
    [5, None, "13500000000", None, None, None, None, None, None, None, None],
    [6, "周八", None, None, None, None, None, None, None, None, None],
    [7, "吴九", "12345", None, None, None, None, None, None, None, None],
    [8, "郑十", 13600000000, "男", "八零后", None, None, None, None, "VIP", None],
]


def write_xlsx(path, rows, title_row: bool = True):
    book = Workbook()
    sheet = book.active
    if title_row:
        sheet.append(["2025 年客户名单（前台整理）"])
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


@pytest.fixture
def studio(vault):
    return vault({"客户/C-0001 张三.md": ZHANG, "客户/C-0002 李四.md": profile("C-0002", "李四", "13900139000")},
                 config=CONFIG)


def snapshot(root):
    return {p: p.read_bytes() for p in root.rglob("*.md")}


@pytest.mark.parametrize("cell,phone", [("138 0013 8000", "13800138000"), ("１３８００１３８０００", "13800138000"),
                                        ("+86 138-0013-8000", "13800138000"), ("0086 13800138000", "13800138000"),
                                        (13800138000, "13800138000"), (13800138000.0, "13800138000"),
                                        ("(021) 6234-5678", "02162345678")])
def test_phones_are_normalised(cell, phone):
    assert normalize_phone(cell) == phone


@pytest.mark.parametrize("cell,message", [("12345", "无法识别"), ("1.38001E+10", "科学计数法"), ("138001380001", "无法识别")])
def test_bad_phones_say_why(cell, message):
    with pytest.raises(ValueError, match=message):
        normalize_phone(cell)


@pytest.mark.parametrize("cell", [dt.datetime(2026, 2, 12, 0, 0), dt.date(2026, 2, 12), "2026/2/12", "2026-02-12",
                                  "2026年2月12日", "20260212", 46065, "2026-02-12 00:00:00", "２０２６／２／１２"])
def test_dates_in_every_form(cell):
    assert normalize_date(cell) == dt.date(2026, 2, 12)


def test_dry_run_reports_every_row_and_writes_nothing(studio, cli, tmp_path):
    sheet = write_xlsx(tmp_path / "名单.xlsx", ROWS)
    before = snapshot(studio)
    result = cli(studio, "import", "customers", str(sheet), "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "试运行（未写入）：将新建 3 位，合并 2 行，无变化 0 行，拒绝 3 行" in out
    assert "未识别的列（已忽略）：序号、会员卡号" in out
    for text in ("合并到 C-0001 张三，补充：首次到店、过敏史、备注", "缺少姓名",
                 "缺少电话", "电话「12345」无法识别", "生日「八零后」未导入", "会员等级「VIP」未导入"):
        assert text in out, text
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("第 ")}
    assert set(lines) == {"3", "5", "6", "7", "8", "9", "10", "11"}  # Excel's row numbers; blank row 4 skipped
    assert lines["8"] == "第 8 行 拒绝 — 13500000000：缺少姓名"
    assert lines["5"] == "第 5 行 新建 赵六 13912345678"
    assert lines["7"].startswith("第 7 行 合并 孙七 13712345678：合并到 第 6 行（同一电话），补充：性别、过敏史、备注")
    assert snapshot(studio) == before
    assert not (studio / ".vaultcrm" / "ids.json").exists()


def test_import_creates_merges_and_fills_only_empty_fields(studio, cli, tmp_path):
    sheet = write_xlsx(tmp_path / "名单.xlsx", ROWS)
    result = cli(studio, "import", "customers", str(sheet))
    assert result.exit_code == 0, result.output
    assert "导入完成：新建 3 位，合并 2 行，无变化 0 行，拒绝 3 行" in result.stdout
    assert "新建档案 C-0003 至 C-0005" in result.stdout and "补充档案 C-0001" in result.stdout
    index = load_vault(studio).index
    assert not load_vault(studio).diagnostics
    zhao, sun, zheng = (index.customers[c] for c in ("C-0003", "C-0004", "C-0005"))
    assert (zhao.name, zhao.phone, zhao.gender, zhao.birthday, zhao.first_visit, zhao.source, zhao.tier) == \
        ("赵六", "13912345678", "男", dt.date(1985, 3, 7), dt.date(2026, 2, 12), "美团", "金卡")
    assert (sun.name, sun.phone, sun.gender, sun.birthday, sun.first_visit, sun.source, sun.health.allergies) == \
        ("孙七", "13712345678", "女", dt.date(1992, 8, 9), dt.date(2023, 3, 15), "朋友介绍", ["海鲜"])
    assert (zheng.phone, zheng.birthday, zheng.tier) == ("13600000000", None, "普通")
    assert (studio / sun.path).read_text(encoding="utf-8").endswith("## 备注\n\n对海鲜过敏\n")
    text = (studio / "客户/C-0001 张三.md").read_text(encoding="utf-8")
    assert "首次到店: 2025-03-08\n" in text and "生日: 1990-05-01\n" in text and "性别: 女\n" in text
    assert "  过敏史:\n    - 艾草\n    - 花粉\n" in text and "会员卡号: VIP-0088" in text
    assert text.endswith("## 备注\n\n喜欢安静，不要聊天。\n\n怕冷\n")
    before = snapshot(studio)
    again = cli(studio, "import", "customers", str(sheet))
    assert again.exit_code == 0, again.output
    assert "没有需要导入的内容：新建 0 位，合并 0 行，无变化 5 行，拒绝 3 行" in again.stdout
    assert snapshot(studio) == before


def test_csv_with_bom_and_gbk(studio, cli, tmp_path):
    text = "姓名,电话,生日,过敏\r\n钱一,139-0000-0001,2000/1/2,酒精\r\n,,,\r\n李四,13900139000,1988-08-08,\r\n"
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    result = cli(studio, "import", "customers", str(bom), "--dry-run")
    assert "将新建 1 位，合并 1 行，无变化 0 行，拒绝 0 行" in result.stdout and "GBK" not in result.stdout
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(text.encode("gbk"))
    result = cli(studio, "import", "customers", str(gbk))
    assert result.exit_code == 0, result.output
    assert "文件为 GBK 编码，已自动识别" in result.stdout
    customers = load_vault(studio).index.customers
    assert (customers["C-0003"].name, customers["C-0003"].health.allergies) == ("钱一", ["酒精"])
    assert customers["C-0002"].birthday == dt.date(1988, 8, 8)


@pytest.mark.parametrize("name,content,message", [
    ("a.csv", "名字,地址\n张三,北京\n".encode(), "找不到含姓名和电话两列的表头"),
    ("a.csv", b"", "表格是空的"),
    ("a.xls", b"\xd0\xcf\x11\xe0", "不支持旧版 .xls"),
    ("a.xlsx", b"not a zip", "无法打开 Excel 文件"),
    ("a.json", b"{}", "不支持的文件类型"),
])
def test_unreadable_files_are_refused_with_the_fix(studio, cli, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    before = snapshot(studio)
    result = cli(studio, "import", "customers", str(path))
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.output
    assert snapshot(studio) == before


def test_a_missing_file_is_refused(studio, cli, tmp_path):
    result = cli(studio, "import", "customers", str(tmp_path / "nope.csv"))
    assert result.exit_code == 1 and "找不到文件" in result.stderr


def test_excel_serial_dates_are_read_and_reported_and_impossible_dates_refused(studio, cli, tmp_path):
    text = ("姓名,电话,生日,首次到店,偏好技师,来源\n"
            "钱一,13900000001,32874,45200,李师傅,wechat\n"
            "孙二,13900000002,2099-01-01,1800-01-01,不存在的技师,大众点评\n")
    sheet = tmp_path / "名单.csv"
    sheet.write_text(text, encoding="utf-8")
    result = cli(studio, "import", "customers", str(sheet))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "生日「32874」按 Excel 日期序号读作 1990-01-01，请核对" in out
    assert "首次到店「45200」按 Excel 日期序号读作 2023-10-01，请核对" in out
    assert "生日「2099-01-01」未导入：晚于今天" in out and "首次到店「1800-01-01」未导入：早于 1900-01-01" in out
    assert "偏好技师「不存在的技师」未导入：不在配置的技师中" in out
    customers = {c.name: c for c in load_vault(studio).index.customers.values()}
    qian, sun = customers["钱一"], customers["孙二"]
    assert (qian.birthday, qian.first_visit, qian.source) == (dt.date(1990, 1, 1), dt.date(2023, 10, 1), "微信")
    assert qian.preferences.technician == "李师傅"
    assert (sun.birthday, sun.preferences.technician, sun.source) == (None, None, "大众点评")


def test_hostile_notes_in_a_sheet_land_inert_in_the_profile(studio, cli, tmp_path):
    notes = ["[[C-0001 张三]] 是她妹妹", "<img src=x onerror=alert(1)>", "---", "# 大标题", "- 列表项"]
    text = "姓名,电话,备注\n" + "".join(f"钱{i},1390000000{i},\"{n}\"\n" for i, n in enumerate(notes))
    sheet = tmp_path / "名单.csv"
    sheet.write_text(text, encoding="utf-8")
    assert cli(studio, "import", "customers", str(sheet)).exit_code == 0
    for i, note in enumerate(notes):
        path = next((studio / "客户").glob(f"* 钱{i}.md"))
        body = path.read_text(encoding="utf-8").split("\n---\n", 1)[1]
        section = body.split("## 备注", 1)[1]
        assert "[[" not in section and "<img" not in section and "\n---\n" not in section, section
        assert not [line for line in section.splitlines() if line.startswith(("#", "- "))], section
    again = cli(studio, "import", "customers", str(sheet))
    assert "没有需要导入的内容" in again.stdout  # the escaped notes are recognised as already there
