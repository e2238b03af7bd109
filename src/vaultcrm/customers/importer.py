"""`vaultcrm import customers`: bring a studio's existing customer sheet into the vault as profiles.

Sheets kept by hand are messy: headers vary (姓名 / 客户姓名 / name), phones carry spaces, dashes,
`+86` and full-width digits, dates come as Excel date cells, `2026/2/12`, `2026年2月12日` or
`20260212` — and a date cell that lost its format arrives as Excel's serial number (`45200`), which
is read as the date it stands for and reported on the row so the owner can check it. The phone is the customer's identity: a phone already in the vault, or seen earlier in
the same sheet, merges into that profile — empty fields are filled, filled ones never overwritten
(allergies and contraindications are added to, never lost). Every row gets a verdict with its row
number: 新建, 合并, 无变化 (nothing the profile lacks: a re-imported sheet has nothing to do) or 拒绝
with the reason. A 偏好技师 the config does not list, or a 来源渠道 written as an alias (`wechat`),
is normalised or reported on its row. `plan_import` decides without writing (that is
`--dry-run`); `apply_import` writes through the store.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from ..core.config import Settings
from ..core.index import VaultIndex
from ..core.journal import transaction
from ..core.loader import Vault, load_vault
from ..core.locks import BOOKING, booking_lock
from ..core.render import markdown_inline
from ..core.store import create_record, update_record
from ..errors import VaultCRMError
from ..models import Customer
from ..values import Channel, Strength, parse_date
from .profiles import parse_gender
from .resolve import NEW_CUSTOMER_TIER, new_customer
from .spreadsheet import Sheet

COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "客户姓名", "名字", "顾客姓名", "客户", "name", "customer"),
    "phone": ("电话", "手机", "联系方式", "手机号", "手机号码", "联系电话", "电话号码", "phone", "mobile", "tel"),
    "gender": ("性别", "gender", "sex"),
    "birthday": ("生日", "出生日期", "birthday", "birth"),
    "first_visit": ("首次到店", "首次消费", "首次到店日期", "首次消费日期", "首次来店", "firstvisit"),
    "source": ("来源", "来源渠道", "渠道", "客户来源", "source"),
    "allergies": ("过敏", "过敏史", "过敏源", "allergy", "allergies"),
    "contraindications": ("禁忌", "禁忌事项", "禁忌症", "contraindications"),
    "concerns": ("健康关注", "健康状况", "身体状况"),
    "technician": ("偏好技师", "指定技师"),
    "strength": ("力度", "力度要求", "力度偏好"),
    "referrer": ("推荐人", "介绍人", "referrer"),
    "tier": ("会员等级", "等级", "会员", "会员级别", "tier", "level"),
    "tags": ("标签", "tags"),
    "notes": ("备注", "说明", "note", "notes", "remark"),
}
LABELS = {"name": "姓名", "phone": "电话", "gender": "性别", "birthday": "生日", "first_visit": "首次到店",
          "source": "来源渠道", "allergies": "过敏史", "contraindications": "禁忌事项", "concerns": "健康关注",
          "technician": "偏好技师", "strength": "力度要求", "referrer": "推荐人", "tier": "会员等级", "tags": "标签",
          "notes": "备注"}
# Profile key path of each field that goes into the frontmatter.
PATHS = {"gender": ("性别",), "birthday": ("生日",), "first_visit": ("首次到店",), "source": ("来源渠道",),
         "allergies": ("健康档案", "过敏史"), "contraindications": ("健康档案", "禁忌事项"),
         "concerns": ("健康档案", "健康关注"), "technician": ("服务偏好", "偏好技师"),
         "strength": ("服务偏好", "力度要求"), "referrer": ("推荐人",), "tier": ("会员等级",), "tags": ("标签",)}
LISTS = ("allergies", "contraindications", "tags")
_LIST_SPLIT = re.compile(r"[、，,;；/|\n]+")
_PHONE_JUNK = re.compile(r"[\s\-－—()（）.·]")
EXCEL_EPOCH = dt.date(1899, 12, 30)

CREATE, MERGE, UNCHANGED, REJECT = "新建", "合并", "无变化", "拒绝"
_SERIAL_TEXT = re.compile(r"\d{4,5}(?:\.0+)?")
EARLIEST_DATE = dt.date(1900, 1, 1)  # a birthday or first visit before it is a typo


def _norm_header(text: str) -> str:
    return re.sub(r"[\s*:：()（）_\-]", "", unicodedata.normalize("NFKC", text)).lower()


_ALIASES = {_norm_header(alias): key for key, aliases in COLUMNS.items() for alias in aliases}


HEADER_SEARCH = 10  # a sheet may have a title or a note above its header row


def map_columns(header: list[object]) -> tuple[dict[str, int], list[str]]:
    """(field → column index, the headers that mean nothing to vaultcrm); the first match wins."""
    found: dict[str, int] = {}
    ignored = []
    for i, cell in enumerate(header):
        title = _text(cell) or ""
        key = _ALIASES.get(_norm_header(title))
        if key and key not in found:
            found[key] = i
        elif title:
            ignored.append(title)
    return found, ignored


def find_header(sheet: Sheet) -> tuple[int, dict[str, int], list[str]]:
    """(position of the header among the sheet's rows, columns, ignored headers): the first row that
    names both a name and a phone column."""
    for position, (_, cells) in enumerate(sheet.rows[:HEADER_SEARCH]):
        columns, ignored = map_columns(cells)
        if "name" in columns and "phone" in columns:
            return position, columns, ignored
    first = "、".join(t for t in (_text(c) for c in sheet.rows[0][1]) if t) or "空"
    raise VaultCRMError(f"找不到含姓名和电话两列的表头（第一行为：{first}）",
                        details=["姓名列可写作：姓名、客户姓名、名字、name",
                                 "电话列可写作：电话、手机、手机号、联系方式、phone"])


# -- cells ---------------------------------------------------------------------------------------
def _text(cell: object) -> str | None:
    if cell is None:
        return None
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    text = unicodedata.normalize("NFKC", str(cell)).strip()
    return text or None


def normalize_phone(cell: object) -> str:
    """11-digit mobiles without +86; landlines as digits. ValueError with the reason otherwise."""
    if isinstance(cell, float):
        if not cell.is_integer():
            raise ValueError(f"电话「{cell}」不是完整的号码")
        cell = int(cell)
    text = _text(cell) or ""
    if re.search(r"\d[.,]\d+e\+?\d+", text, re.I):
        raise ValueError(f"电话「{text}」被 Excel 改成了科学计数法，请把该列设为文本后重新导出")
    digits = _PHONE_JUNK.sub("", text)
    digits = re.sub(r"^(?:\+86|0086|86)(?=1\d{10}$)", "", digits)
    if re.fullmatch(r"1\d{10}|0\d{9,11}|\d{7,8}", digits):
        return digits
    raise ValueError(f"电话「{text}」无法识别")


def excel_serial(cell: object) -> dt.date | None:
    """The date an Excel serial number stands for (a number cell, or its text in a CSV), else None."""
    if isinstance(cell, bool):
        return None
    if isinstance(cell, str) and _SERIAL_TEXT.fullmatch(cell.strip()):
        cell = float(cell)
    if isinstance(cell, (int, float)) and float(cell).is_integer() and 3000 <= cell < 80000:  # 1908–2119
        return EXCEL_EPOCH + dt.timedelta(days=int(cell))
    return None


def normalize_date(cell: object) -> dt.date:
    """An Excel date cell or serial number, `2026-02-12`, `2026/2/12`, `2026年2月12日`, `20260212`."""
    if isinstance(cell, dt.datetime):
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    serial = excel_serial(cell)
    if serial is not None:
        return serial
    text = _text(cell) or ""
    if re.fullmatch(r"\d{8}", text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    text = re.sub(r"[ T]0?0:00(:00)?$", "", text)  # `2026-02-12 00:00:00` from a CSV saved by Excel
    return parse_date(text.replace("号", "日"))


def _split_list(cell: object) -> list[str]:
    text = _text(cell)
    return [part.strip() for part in _LIST_SPLIT.split(text)] if text else []


@dataclass
class RowData:
    row: int
    name: str
    phone: str
    values: dict[str, object] = field(default_factory=dict)  # field → normalised value (not name/phone)
    notes: str | None = None
    warnings: list[str] = field(default_factory=list)


def read_row(row: int, cells: list[object], columns: dict[str, int], settings: Settings) -> RowData:
    """One row, normalised; ValueError with the reason for a row that cannot be imported."""
    def cell(key: str) -> object:
        i = columns.get(key)
        return cells[i] if i is not None and i < len(cells) else None

    name, phone_cell = _text(cell("name")), cell("phone")
    if not name and _text(phone_cell) is None:
        raise ValueError("缺少姓名和电话")
    if not name:
        raise ValueError("缺少姓名")
    if _text(phone_cell) is None:
        raise ValueError("缺少电话（电话用于识别客户，不能为空）")
    data = RowData(row, name, normalize_phone(phone_cell))
    for key in columns:
        raw = cell(key)
        if key in ("name", "phone") or _text(raw) is None:
            continue
        try:
            value = _value(key, raw, settings)
        except ValueError as exc:
            data.warnings.append(f"{LABELS[key]}「{_text(raw)}」未导入：{str(exc).split('，')[0]}")
            continue
        if key in ("birthday", "first_visit") and excel_serial(raw) is not None:
            data.warnings.append(f"{LABELS[key]}「{_text(raw)}」按 Excel 日期序号读作 {value}，请核对")
        if key == "notes":
            data.notes = value
        elif value not in (None, []):
            data.values[key] = value
    return data


def _value(key: str, raw: object, settings: Settings) -> object:
    if key in ("birthday", "first_visit"):
        day = normalize_date(raw)
        today = settings.now().date()
        if day > today:
            raise ValueError(f"晚于今天（{today}）")
        if day < EARLIEST_DATE:
            raise ValueError(f"早于 {EARLIEST_DATE}")
        return day
    if key in LISTS:
        return _split_list(raw)
    text = _text(raw)
    if key == "gender":
        return parse_gender(text)
    if key == "strength":
        return Strength.parse(text)
    if key == "tier" and text not in settings.membership.tiers:
        raise ValueError(f"不在配置的会员等级中（{'、'.join(settings.membership.tier_names())}）")
    if key == "technician" and settings.technicians and text not in settings.technicians:
        raise ValueError(f"不在配置的技师中（{'、'.join(settings.technicians)}）")
    if key == "source":
        try:
            return Channel.parse(text).value  # `wechat`, `微信预约` → 微信; other sources stay as written
        except ValueError:
            return text
    return text


# -- planning -------------------------------------------------------------------------------------
@dataclass
class Verdict:
    row: int
    action: str  # 新建, 合并 or 拒绝
    name: str | None
    phone: str | None
    detail: str  # the reason of a refusal, or what a merge fills in
    warnings: list[str] = field(default_factory=list)


@dataclass
class Target:
    """One profile the import writes: a new one (`customer` None) or an existing one to fill in."""

    first_row: int
    name: str
    phone: str
    customer: Customer | None = None
    values: dict[str, object] = field(default_factory=dict)  # what the profile gets
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportPlan:
    verdicts: list[Verdict]
    targets: list[Target]
    ignored_columns: list[str]
    notes: list[str]
    sheet: Sheet | None = None  # to decide again, under the lock, on the vault as it is then

    def count(self, action: str) -> int:
        return sum(1 for v in self.verdicts if v.action == action)

    @property
    def nothing_to_do(self) -> bool:
        return not any(t.customer is None or t.values or t.notes for t in self.targets)


def _current(customer: Customer, key: str) -> object:
    return {"gender": customer.gender, "birthday": customer.birthday, "first_visit": customer.first_visit,
            "source": customer.source, "allergies": customer.health.allergies,
            "contraindications": customer.health.contraindications, "concerns": customer.health.concerns,
            "technician": customer.preferences.technician, "strength": customer.preferences.strength,
            "referrer": customer.referrer, "tier": customer.tier, "tags": customer.tags}[key]


def _fill(target: Target, data: RowData, settings: Settings, body: str = "") -> list[str]:
    """Fill what the target does not have yet from `data`; the labels of what was filled. Lists are
    added to; a higher 会员等级 replaces a lower one (a bought card outranks the default tier)."""
    filled = []
    ranks = settings.membership.tier_names()
    for key, value in data.values.items():
        have = target.values.get(key, _current(target.customer, key) if target.customer else None)
        if key in LISTS:
            extra = [item for item in value if item not in (have or [])]
            if extra:
                target.values[key] = [*(have or []), *extra]
                filled.append(LABELS[key])
        elif have in (None, "") or (key == "tier" and have in ranks and ranks.index(value) > ranks.index(have)):
            target.values[key] = value
            filled.append(LABELS[key])
    if data.notes and data.notes not in target.notes and inert_line(data.notes) not in body:
        target.notes.append(data.notes)
        filled.append(LABELS["notes"])
    return filled


def plan_import(sheet: Sheet, index: VaultIndex, settings: Settings,
                body_of: Callable[[Customer], str] = lambda customer: "") -> ImportPlan:
    """`body_of` gives an existing profile's text, so 备注 already there are not added again."""
    position, columns, ignored = find_header(sheet)
    by_phone: dict[str, list[Customer]] = {}
    for customer in index.customers.values():
        try:
            phone = normalize_phone(customer.phone) if customer.phone else None
        except ValueError:
            phone = None
        if phone:
            by_phone.setdefault(phone, []).append(customer)
    targets: dict[str, Target] = {}
    verdicts = []
    for row, cells in sheet.rows[position + 1:]:
        try:
            data = read_row(row, cells, columns, settings)
            if data.phone not in targets:
                new_customer(data.name, data.phone)  # refuses a name that is an ID or a phone
        except (ValueError, VaultCRMError) as exc:
            name, phone = (_text(cells[columns[k]]) if columns[k] < len(cells) else None for k in ("name", "phone"))
            verdicts.append(Verdict(row, REJECT, name, phone, getattr(exc, "message", None) or str(exc)))
            continue
        target = targets.get(data.phone)
        if target is None:
            existing = by_phone.get(data.phone, [])
            if len(existing) > 1:
                ids = "、".join(sorted(c.id for c in existing))
                verdicts.append(Verdict(row, REJECT, data.name, data.phone, f"电话对应多位客户（{ids}），请手动处理"))
                continue
            found = existing[0] if existing else None
            target = targets[data.phone] = Target(row, found.name if found else data.name, data.phone, found)
            filled = _fill(target, data, settings, body_of(found) if found else "")
            if found is None:
                verdicts.append(Verdict(row, CREATE, data.name, data.phone, "", data.warnings))
                continue
            into, holder = f"{found.id} {found.name or ''}".strip(), "档案"
        else:
            filled = _fill(target, data, settings, body_of(target.customer) if target.customer else "")
            into, holder = f"第 {target.first_row} 行（同一电话）", f"第 {target.first_row} 行"
        if data.name != target.name:
            data.warnings.append(f"姓名不同：{holder}为「{target.name}」，此行为「{data.name}」，姓名未改")
        if filled:
            verdicts.append(Verdict(row, MERGE, data.name, data.phone, f"合并到 {into}，补充：{'、'.join(filled)}",
                                    data.warnings))
        else:
            verdicts.append(Verdict(row, UNCHANGED, data.name, data.phone, f"与 {into} 一致，无新信息",
                                    data.warnings))
    return ImportPlan(verdicts, list(targets.values()), ignored, sheet.notes, sheet)


def plan_vault_import(sheet: Sheet, vault: Vault) -> ImportPlan:
    """`plan_import` against a loaded vault, reading existing profiles' text for their 备注."""
    def body_of(customer: Customer) -> str:
        try:
            return (vault.root / customer.path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return ""

    return plan_import(sheet, vault.index, vault.settings, body_of)


# -- writing ---------------------------------------------------------------------------------------
@dataclass
class Imported:
    created: list[Customer] = field(default_factory=list)
    merged: list[Customer] = field(default_factory=list)


def _profile(target: Target) -> Customer:
    base = new_customer(target.name, target.phone)
    v = target.values
    return Customer.model_validate({
        **base.model_dump(by_alias=True), "性别": v.get("gender"), "生日": v.get("birthday"),
        "首次到店": v.get("first_visit"), "来源渠道": v.get("source"), "会员等级": v.get("tier", NEW_CUSTOMER_TIER),
        "健康档案": {"过敏史": v.get("allergies", []), "禁忌事项": v.get("contraindications", []),
                     "健康关注": v.get("concerns")},
        "服务偏好": {"偏好技师": v.get("technician"), "力度要求": v.get("strength")},
        "标签": v.get("tags", []), "推荐人": v.get("referrer"),
    })


_BLOCK_START = re.compile(r"^([-+*=_~|])|^(\d+)([.)])(?=\s|$)")


def inert_line(note: str) -> str:
    """A 备注 cell as one inert Markdown line: no link, HTML, heading, list, rule or `---` of its own."""
    return _BLOCK_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", markdown_inline(note).strip())


def with_notes(markdown: str, notes: list[str]) -> str:
    """The note's body with the sheet's 备注 under its `## 备注` heading (or a new one at the end)."""
    nl = "\r\n" if "\r\n" in markdown else "\n"
    lines = [line for line in map(inert_line, notes) if line and line not in markdown]
    if not lines:
        return markdown
    block = "".join(f"{line}{nl}" for line in lines)
    m = re.compile(r"^## 备注[ \t]*\r?$", re.M).search(markdown)
    if m is None:
        return markdown + ("" if markdown.endswith(nl) or not markdown else nl) + f"{nl}## 备注{nl}{nl}{block}"
    nxt = re.compile(r"^#{1,2} ", re.M).search(markdown, m.end())
    end = nxt.start() if nxt else len(markdown)
    section = markdown[m.end():end].rstrip("\r\n")
    return markdown[:m.end()] + section + nl + nl + block + (nl + markdown[end:] if nxt else "")


def apply_import(vault: Vault, plan: ImportPlan) -> Imported:
    """Write the plan's profiles. With the plan's sheet, the vault is read again under the booking lock
    and the sheet decided again on it, so rows another writer has just added merge instead of doubling."""
    with booking_lock(vault.root):
        if plan.sheet is not None:
            vault = load_vault(vault.root)
            plan = plan_vault_import(plan.sheet, vault)
        with transaction(vault.root, "import", lock=BOOKING):
            return _write(vault, plan)


def _write(vault: Vault, plan: ImportPlan) -> Imported:
    done = Imported()
    known = set(vault.index.customers)
    for target in plan.targets:
        if target.customer is None:
            customer = create_record(vault.root, vault.settings, _profile(target), known)
            known.add(customer.id)
            done.created.append(customer)
        else:
            customer = target.customer
            changes = {PATHS[key]: value for key, value in target.values.items()}
            if changes:
                update_record(vault.root, customer, changes, loaded=vault.loaded_stamp(customer))
            if changes or target.notes:
                done.merged.append(customer)
        if target.notes:
            update_record(vault.root, customer, {}, body=lambda markdown, t=target: with_notes(markdown, t.notes))
    return done


__all__ = ["COLUMNS", "CREATE", "ImportPlan", "Imported", "MERGE", "REJECT", "UNCHANGED", "Verdict", "apply_import",
           "find_header", "map_columns", "normalize_date", "normalize_phone", "plan_import", "plan_vault_import", "read_row"]
