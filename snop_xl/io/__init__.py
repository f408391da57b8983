"""Workbook I/O: one BookIO interface, one module per engine (openpyxl headless; xlwings live Excel)."""

from .base import BookIO, RawTable, cell_of, parse_table, to_period, to_rows
from .openpyxl_book import OpenpyxlBook


def open_book(path) -> BookIO:
    """The headless engine for a workbook file."""
    return OpenpyxlBook(path)


__all__ = ["BookIO", "OpenpyxlBook", "RawTable", "cell_of", "open_book", "parse_table", "to_period", "to_rows"]
