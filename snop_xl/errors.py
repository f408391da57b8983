"""Problems a user can cause, each located at a sheet cell, and the error that carries all of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the workbook: where it is, what was found, what was expected."""

    sheet: str
    cell: str  # A1 address, or "" when the problem is the sheet or table itself
    message: str
    value: Any = None
    expected: str = ""

    @property
    def location(self) -> str:
        return f"{self.sheet}!{self.cell}" if self.cell else self.sheet

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        if self.value is not None and self.value != "":
            text += f" (found {self.value!r})"
        if self.expected:
            text += f"; expected {self.expected}"
        return text


class SnopError(Exception):
    """Base class of errors the user can act on (the CLI prints them without a traceback)."""


class UsageError(SnopError):
    """A command-line value the command can't take (as argparse's own errors: exit code 2, nothing written)."""


class ValidationError(SnopError):
    """The workbook or a file it reads has problems (each Problem names its sheet or file and cell); nothing was
    written."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = [f"{len(self.problems)} problem(s) found; nothing was changed:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))
