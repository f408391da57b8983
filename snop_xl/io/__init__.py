"""Workbook I/O: one BookIO interface, one module per engine (openpyxl headless; xlwings live Excel), chosen by name."""

from __future__ import annotations

import os

from snop_xl.errors import SnopError
from snop_xl.io.base import BookIO
from snop_xl.io.openpyxl_book import OpenpyxlBook
from snop_xl.io.parse import RawTable, cell_of, parse_table, to_period, to_rows

#: engine name -> what opens a book with it (live Excel is reached through the calling workbook, not a path)
ENGINES = {"openpyxl": OpenpyxlBook}


def open_book(path: str | os.PathLike, engine: str = "openpyxl") -> BookIO:
    """The workbook file at `path`, opened with `engine` (headless openpyxl by default)."""
    try:
        return ENGINES[engine](path)
    except KeyError:
        raise SnopError(f"unknown workbook engine {engine!r}; choose from {', '.join(ENGINES)}") from None


__all__ = ["BookIO", "ENGINES", "OpenpyxlBook", "RawTable", "cell_of", "open_book", "parse_table", "to_period",
           "to_rows"]
