"""`export csv`: the records as CSV tables for Excel; `csv_bytes`, the one way vaultcrm writes any CSV.

One file per record type, one column per template key (the flattened Chinese key path such as
`预约信息.客户姓名`, in template order), UTF-8 with a BOM so that Excel opens the Chinese correctly;
amounts and minutes are plain numbers so that a spreadsheet can add them up.

Cells are text anyone who can edit a note wrote: a name such as `=HYPERLINK(…)` would run as a formula
when the owner opens the file in Excel. As OWASP recommends, a cell that begins with `=`, `+`, `-`, `@`,
a tab or a carriage return is prefixed with `'` — except a plain negative number such as `-12.5`, which
stays a number. `customer list` and `report` write their CSV through `csv_bytes` too.

Without `--out` the files go to `.vaultcrm/exports/` (private like the vault, see vault/perms.py),
never among the notes and never into whatever folder the command was started from.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import typing
from collections.abc import Iterable
from decimal import Decimal
from enum import Enum
from pathlib import Path

from pydantic import BaseModel

from ..core.config import STATE_DIR
from ..core.index import VaultIndex
from ..errors import VaultCRMError
from ..models import Appointment, Customer, FollowUp, Record, ServiceRecord
from ..models.fields import Section
from ..vault.writer import write_atomic
from ..vault.yamlfmt import format_datetime, format_time

CSV_FILES: dict[type[Record], str] = {Appointment: "预约.csv", ServiceRecord: "服务记录.csv", FollowUp: "跟进.csv",
                                      Customer: "客户.csv"}
PATH_COLUMN = "笔记路径"
EXPORT_DIR = f"{STATE_DIR}/exports"  # where `export csv` writes without --out
BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def neutralise(text: str) -> str:
    """A cell a spreadsheet shows as the text it is, never runs as a formula (OWASP's CSV injection rule)."""
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


def csv_bytes(header: Iterable, rows: Iterable[Iterable]) -> bytes:
    """A whole CSV document as Excel wants it: UTF-8 with a BOM, CRLF, every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in (header, *rows):
        writer.writerow([neutralise("" if value is None else str(value)) for value in row])
    return (BOM + buffer.getvalue()).encode("utf-8")


def _section_of(annotation) -> tuple[type[Section] | None, bool]:
    """(the nested section type, whether it is a list of them) for a field's annotation."""
    if isinstance(annotation, type) and issubclass(annotation, Section):
        return annotation, False
    for arg in typing.get_args(annotation):
        sub, _ = _section_of(arg)
        if sub is not None:
            return sub, typing.get_origin(annotation) is list
    return None, False


def columns_of(model: type[BaseModel], prefix: str = "") -> list[tuple[str, tuple[str, ...]]]:
    """(column name, attribute path) for every key of the model, nested sections flattened, in order.

    A list of sections (a customer's 套餐) stays one column holding JSON.
    """
    found = []
    for name, info in model.model_fields.items():
        if info.exclude:
            continue
        label = prefix + (info.alias or name)
        sub, is_list = _section_of(info.annotation)
        if sub is not None and not is_list:
            found.extend((col, (name, *path)) for col, path in columns_of(sub, label + "."))
        else:
            found.append((label, (name,)))
    return found


def cell(value) -> str:
    """A value as text a spreadsheet reads: ISO dates, `14:00`, plain numbers, 是/否, lists joined by `；`."""
    if value is None:
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return format_time(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list):
        if any(isinstance(v, BaseModel) for v in value):
            return json.dumps([v.model_dump(mode="json", by_alias=True) for v in value], ensure_ascii=False)
        return "；".join(cell(v) for v in value)
    return str(value)


def _row(record: Record, columns: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    row = []
    for _, path in columns:
        value = record
        for attr in path:
            value = getattr(value, attr)
        row.append(cell(value))
    return row + [record.path]


STORE = ("store",)  # 门店: a chain's records carry it; it comes last, and not at all in a single-store vault


def csv_data(model: type[Record], records: list[Record]) -> bytes:
    columns = columns_of(model)
    chain = any(getattr(record, "store", None) for record in records)
    columns = [c for c in columns if c[1] != STORE] + ([c for c in columns if c[1] == STORE] if chain else [])
    return csv_bytes([name for name, _ in columns] + [PATH_COLUMN],
                     (_row(record, columns) for record in sorted(records, key=lambda r: r.record_id)))


def export_csv(index: VaultIndex, root: Path, out_dir: Path | None = None) -> list[tuple[Path, int, bool]]:
    """Write the four CSV files into `out_dir` (by default the vault's `.vaultcrm/exports/`).

    (path, rows, whether it changed) for each. A folder the user names may lie anywhere; the default
    one must really be inside the vault.
    """
    tables = {Appointment: index.appointments, ServiceRecord: index.services, FollowUp: index.followups,
              Customer: index.customers}
    within = root if out_dir is None else None
    out_dir = root / EXPORT_DIR if out_dir is None else out_dir
    results = []
    try:
        for model, name in CSV_FILES.items():
            records = list(tables[model].values())
            path = out_dir / name
            changed = write_atomic(path, csv_data(model, records), within=within)
            results.append((path, len(records), changed))
    except OSError as exc:
        raise VaultCRMError(f"无法写入导出文件到 {out_dir}：{exc.strerror or exc}") from None
    return results
