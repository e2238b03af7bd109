"""`export csv`: the records as CSV tables for Excel.

One file per record type, one column per template key (the flattened Chinese key path such as
`预约信息.客户姓名`, in template order), UTF-8 with a BOM so that Excel opens the Chinese correctly;
amounts and minutes are plain numbers so that a spreadsheet can add them up.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import typing
from decimal import Decimal
from enum import Enum
from pathlib import Path

from pydantic import BaseModel

from ..core.index import VaultIndex
from ..errors import VaultCRMError
from ..models import Appointment, Customer, FollowUp, Record, ServiceRecord
from ..models.fields import Section
from ..vault.writer import write_atomic
from ..vault.yamlfmt import format_datetime, format_time

CSV_FILES: dict[type[Record], str] = {Appointment: "预约.csv", ServiceRecord: "服务记录.csv", FollowUp: "跟进.csv",
                                      Customer: "客户.csv"}
PATH_COLUMN = "笔记路径"


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


def csv_text(model: type[Record], records: list[Record]) -> str:
    columns = columns_of(model)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([name for name, _ in columns] + [PATH_COLUMN])
    for record in sorted(records, key=lambda r: r.record_id):
        row = []
        for _, path in columns:
            value = record
            for attr in path:
                value = getattr(value, attr)
            row.append(cell(value))
        writer.writerow(row + [record.path])
    return buffer.getvalue()


def export_csv(index: VaultIndex, out_dir: Path) -> list[tuple[Path, int, bool]]:
    """Write the four CSV files; (path, rows, whether it changed) for each."""
    tables = {Appointment: index.appointments, ServiceRecord: index.services, FollowUp: index.followups,
              Customer: index.customers}
    results = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for model, name in CSV_FILES.items():
            records = list(tables[model].values())
            path = out_dir / name
            changed = write_atomic(path, csv_text(model, records).encode("utf-8-sig"))
            results.append((path, len(records), changed))
    except OSError as exc:
        raise VaultCRMError(f"无法写入导出文件到 {out_dir}：{exc.strerror or exc}") from None
    return results
