"""Read the customer sheet a studio already keeps: a CSV (UTF-8, UTF-8 with BOM, or GBK as Excel on a
Chinese Windows saves it) or an Excel workbook (.xlsx), into numbered rows, blank rows left out.

Row numbers are the ones the user sees in Excel or in a text editor, so a report can say "第 7 行".
Cells come back as Excel gave them (text, numbers, dates); which row is the header and what the cells
mean is customer_import's job.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from zipfile import BadZipFile

from ..errors import VaultCRMError

ENCODINGS = (("utf-8-sig", "UTF-8"), ("gb18030", "GBK"))


@dataclass
class Sheet:
    rows: list[tuple[int, list[object]]]  # (row number as the user sees it, cells), blank rows left out
    encoding: str | None = None  # for a CSV: the encoding it was read with
    notes: list[str] = field(default_factory=list)


def _blank(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _non_blank(numbered: list[tuple[int, list[object]]]) -> list[tuple[int, list[object]]]:
    rows = [(n, cells) for n, cells in numbered if not all(_blank(c) for c in cells)]
    if not rows:
        raise VaultCRMError("表格是空的：没有表头，也没有数据")
    return rows


def decode_csv(raw: bytes) -> tuple[str, str]:
    """(text, encoding name): UTF-8 (with or without BOM) first, then GBK/GB18030."""
    for codec, label in ENCODINGS:
        try:
            return raw.decode(codec), label
        except UnicodeDecodeError:
            continue
    raise VaultCRMError("无法识别 CSV 的编码：请在 Excel 中另存为「CSV UTF-8（逗号分隔）」")


def read_csv(raw: bytes) -> Sheet:
    text, encoding = decode_csv(raw)
    first_line = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first_line.count)  # ties (none of them) give the comma
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    numbered = []
    try:
        line = 1
        for cells in reader:
            numbered.append((line, list(cells)))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise VaultCRMError(f"CSV 第 {reader.line_num} 行格式有误：{exc}") from None
    notes = ["文件为 GBK 编码，已自动识别"] if encoding == "GBK" else []
    return Sheet(_non_blank(numbered), encoding, notes)


def read_xlsx(path: Path) -> Sheet:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError) as exc:
        raise VaultCRMError(f"无法打开 Excel 文件 {path.name}：{exc}") from None
    try:
        sheet = book.worksheets[0]
        numbered = [(i, list(cells)) for i, cells in enumerate(sheet.iter_rows(values_only=True), 1)]
        notes = [f"读取第一个工作表「{sheet.title}」"] if len(book.worksheets) > 1 else []
    finally:
        book.close()
    return Sheet(_non_blank(numbered), None, notes)


def read_sheet(path: Path) -> Sheet:
    """A .csv or .xlsx file; anything else is refused with what to do instead."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise VaultCRMError(f"找不到文件：{path}")
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx(path)
    if suffix == ".xls":
        raise VaultCRMError("不支持旧版 .xls 文件：请在 Excel 中另存为 .xlsx 或 CSV UTF-8")
    if suffix in (".csv", ".txt", ".tsv"):
        return read_csv(path.read_bytes())
    raise VaultCRMError(f"不支持的文件类型「{suffix or path.name}」：请用 .csv 或 .xlsx")


__all__ = ["Sheet", "decode_csv", "read_csv", "read_sheet", "read_xlsx"]
