"""Problems are data: a frozen Diagnostic per problem, printed as `path:line: message`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Diagnostic:
    path: str  # relative to the vault root, with forward slashes
    line: int  # 1-based, counted from the top of the file
    severity: Severity
    message: str

    def __str__(self) -> str:
        label = "错误" if self.severity is Severity.ERROR else "警告"
        return f"{self.path}:{self.line}: {label}：{self.message}"

    def to_json(self) -> dict:
        data = asdict(self)
        data["severity"] = self.severity.value
        return data


def error(path: str, line: int, message: str) -> Diagnostic:
    return Diagnostic(path, line, Severity.ERROR, message)


def warning(path: str, line: int, message: str) -> Diagnostic:
    return Diagnostic(path, line, Severity.WARNING, message)


def has_errors(diagnostics) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)
