"""Every table a command prints goes through `print_table`, so it survives a pipe, cron mail and 80 columns.

- Piped or redirected (stdout not a terminal): plain aligned lines — the title, a header line, one line per
  row, columns padded to their widest cell (counting a Chinese character as two) and separated by two
  spaces; no borders, no colours, never wrapped, so `grep`, `sort` and cron mail see one record per line.
- On a terminal: columns whose cells are short tokens (times, dates, IDs, phones, amounts, names) never
  wrap; only free text folds. When even that cannot fit the terminal, the plain lines are printed instead
  (the terminal then wraps whole lines, never a `16:00` into `16:` and `00`).
"""

from __future__ import annotations

import re

from rich.cells import cell_len
from rich.console import Console
from rich.errors import MarkupError
from rich.table import Table
from rich.text import Text

from .base import console as _stdout

_ASCII = r"[0-9A-Za-z¥$%:.,+\-/_#~～]+"
_TOKEN = re.compile(rf"[—–()（）]|{_ASCII}(?: {_ASCII})?")  # 16:00, 2026-11-19 09:00, C-0001, ¥1,335, 30.0%
_PIECES = re.compile(rf"{_ASCII}|\s+|.")  # free text breaks between Chinese characters, never inside these
_SEPARATORS = "、，；,;"
_CLOSING = "、，。；：）」』！？,.;:)"
_OPENING = "（「『("
_SHORT = 10  # cells: a name or a status word, kept on one line
_FOLDED_MIN = 8  # cells a folding column keeps at the least


def _plain(cell) -> str:
    if isinstance(cell, Text):
        text = cell.plain
    elif isinstance(cell, str) and "[" not in cell:  # no markup: the text as it is (10,000-row lists)
        text = cell
    elif isinstance(cell, str):
        try:
            text = Text.from_markup(cell).plain
        except MarkupError:
            text = cell
    else:
        text = str(cell)
    return " ".join(text.split("\n")).strip()


def _columns(table: Table) -> list[tuple[str, list[str]]]:
    return [(_plain(column.header), [_plain(cell) for cell in column._cells]) for column in table.columns]


def _unbreakable(value: str) -> bool:
    return bool(_TOKEN.fullmatch(value)) or (" " not in value and cell_len(value) <= _SHORT)


def wrap_cjk(text: str, width: int) -> str:
    """Free text folded to `width` cells: between Chinese characters or at spaces, preferably after a
    list separator (、，；), never inside a time, date, ID or amount, never a line starting with 、 or ） or ending with （."""
    lines: list[list[str]] = []
    line: list[str] = []

    def used(pieces: list[str]) -> int:
        return sum(cell_len(p) for p in pieces)

    for piece in _PIECES.findall(text):
        if piece.isspace():
            if line and used(line) + 1 <= width:
                line.append(" ")
            elif line:
                lines.append(line)
                line = []
            continue
        if used(line) + cell_len(piece) > width and line:
            cut = max((i for i, p in enumerate(line) if p in _SEPARATORS), default=None)
            if cut is not None and used(line[: cut + 1]) >= width // 2 and used(line[cut + 1:]) + cell_len(piece) <= width:
                lines.append(line[: cut + 1])
                line = line[cut + 1:]
            elif (piece in _CLOSING or line[-1] in _OPENING) and len(line) > 1 \
                    and cell_len(line[-1]) + cell_len(piece) <= width:
                lines.append(line[:-1])
                line = line[-1:]
            else:
                lines.append(line)
                line = []
            if line and used(line) + cell_len(piece) > width:  # the carried punctuation does not fit either
                lines.append(line)
                line = []
        while cell_len(piece) > width:  # one token wider than the column: folding it cannot be helped
            lines.append([piece[:width]])
            piece = piece[width:]
        line.append(piece)
    lines.append(line)
    return "\n".join("".join(pieces).strip() for pieces in lines if "".join(pieces).strip())


def _inner_widths(table: Table, console: Console) -> list[int] | None:
    """The content width rich gives each column on this console (None if rich's internals moved)."""
    try:
        options = console.options.update_width(console.width - table._extra_width)
        widths = table._calculate_column_widths(console, options)
        return [w - table._get_padding_width(i) for i, w in enumerate(widths)]
    except Exception:  # noqa: BLE001 - a newer rich: fall back to an estimate and rich's own folding
        return None


def _fold_columns(table: Table, inner: list[int]) -> None:
    """Fix the layout and fold the free-text columns ourselves (rich would fold inside `12:20`)."""
    for column, width in zip(table.columns, inner):
        column.width = width  # folded cells must not be measured anew
        if not column.no_wrap:
            column._cells = [Text(wrap_cjk(_plain(cell), width)) for cell in column._cells]


def plain_lines(table: Table, columns: list[tuple[str, list[str]]] | None = None) -> list[str]:
    """The table as aligned lines: header, then one line per row; right-justified columns stay so.
    `columns`: the table's `_columns`, when the caller has them already."""
    columns = columns if columns is not None else _columns(table)
    width_of: dict[str, int] = {}  # a 10,000-row list repeats most values: measure each once
    for _, cells in columns:
        for value in cells:
            if value not in width_of:
                width_of[value] = cell_len(value)
    for header, _ in columns:
        width_of[header] = cell_len(header)
    widths = [max(width_of[v] for v in (header, *cells)) for header, cells in columns]
    right = [column.justify == "right" for column in table.columns]
    lines = [_plain(table.title)] if table.title else []
    rows = [[header for header, _ in columns], *(list(r) for r in zip(*(cells for _, cells in columns)))]
    for row in rows:
        parts = []
        for value, width, is_right in zip(row, widths, right):
            pad = " " * (width - width_of[value])
            parts.append(pad + value if is_right else value + pad)
        lines.append("  ".join(parts).rstrip())
    return lines


def _needed_width(table: Table, columns: list[tuple[str, list[str]]]) -> int:
    _, right, _, left = table.padding
    per_column = left + right + (1 if table.box else 0)
    total = (1 if table.box and table.show_edge else 0) + per_column * len(columns)
    for column, (header, cells) in zip(table.columns, columns):
        widest = max(cell_len(v) for v in (header, *cells))
        total += widest if column.no_wrap else min(widest, max(cell_len(header), _FOLDED_MIN))
    return total


def print_table(table: Table, console: Console | None = None, rows: list[tuple] | None = None) -> None:
    """Print a rich table so that times, dates, IDs and phones are never broken (see the module doc).

    `rows`: the table's rows, when the caller has not added them: piped, they become plain lines without
    rich ever holding them (a list of 10,000 customers)."""
    console = console or _stdout
    if rows is not None and not console.is_terminal:
        columns = [(_plain(column.header), [_plain(row[i]) for row in rows]) for i, column in enumerate(table.columns)]
        console.file.write("\n".join(plain_lines(table, columns)) + "\n")
        return
    for row in rows or ():
        table.add_row(*row)
    columns = _columns(table)
    if console.is_terminal:
        for column, (_, cells) in zip(table.columns, columns):
            if cells and all(_unbreakable(v) for v in cells):
                column.no_wrap = True
            elif not column.no_wrap:
                column.overflow = "fold"
        inner = _inner_widths(table, console)
        if inner is None:
            if _needed_width(table, columns) <= console.width:
                console.print(table)
                return
        elif all(width >= max(cell_len(v) for v in (header, *cells)) if column.no_wrap else width >= _FOLDED_MIN
                 for column, width, (header, cells) in zip(table.columns, inner, columns)):
            _fold_columns(table, inner)
            console.print(table)
            return
    lines = "\n".join(plain_lines(table, columns)) + "\n"
    if console.is_terminal:
        console.print(lines, markup=False, highlight=False, soft_wrap=True, end="")
    else:  # piped: the lines as they are, without rich laying out (a list of 10,000 customers: 0.4 s)
        console.file.write(lines)


__all__ = ["plain_lines", "print_table"]
