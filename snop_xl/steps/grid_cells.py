"""Pieces every review sheet is built from: fiscal quarters and years over the sheet's months, SUM formulas over
a row's months, numbers as cells. The builders (`steps.grids`, `steps.supply_review`, `steps.finance_review`) share
them, so every review sheet names and sums its spans the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from snop_xl.contract import column_letter

Span = tuple[str, list[pd.Period]]  # a quarter or fiscal year: its header and the sheet months it sums


def head_rows(width: int, labels: Sequence[str], months: Mapping[pd.Period, int], spans: Sequence[tuple[str, int]],
              title: str, help_text: str) -> list[list[Any]]:
    """The title, help and header rows every review sheet starts with: the label columns' headers, each month as
    its first day (shown "mmm yy"), each quarter or year by name at its column (`spans`: name, sheet column)."""
    header: list[Any] = [None] * width
    header[:len(labels)] = labels
    for m, c in months.items():
        header[c - 1] = m.to_timestamp()
    for name, c in spans:
        header[c - 1] = name
    return [[title] + [None] * (width - 1), [help_text] + [None] * (width - 1), header]


def fiscal_spans(months: Sequence[pd.Period], plan_months: Sequence[pd.Period], start_month: int
                 ) -> tuple[list[Span], list[Span]]:
    """Fiscal quarters and years that hold a plan month, each with the months of `months` inside it. A fiscal
    year is named by the calendar year it ends in (FY27); a span the sheet holds only part of says so."""
    quarters: dict[str, list[pd.Period]] = {}
    years: dict[str, list[pd.Period]] = {}
    wanted_q, wanted_y = set(), set()
    for m in months:
        shift = (m.month - start_month) % 12
        fy = f"FY{(m.year + (1 if start_month > 1 and m.month >= start_month else 0)) % 100:02d}"
        q = f"Q{shift // 3 + 1} {fy}"
        quarters.setdefault(q, []).append(m)
        years.setdefault(fy, []).append(m)
        if m in plan_months:
            wanted_q.add(q)
            wanted_y.add(fy)

    def label(name: str, held: list[pd.Period], full: int) -> str:
        return name if len(held) == full else f"{name} ({len(held)} of {full} mo)"
    return ([(label(q, ms, 3), ms) for q, ms in quarters.items() if q in wanted_q],
            [(label(y, ms, 12), ms) for y, ms in years.items() if y in wanted_y])


def _num(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def _sum(r: int, months: Sequence[pd.Period], col: Mapping[pd.Period, int]) -> str:
    """SUM over row r's cells of `months` (consecutive on the sheet): "SUM(E5:G5)", or "" for no month."""
    return sum_over(months, col)(r)


def sum_over(months: Sequence[pd.Period], col: Mapping[pd.Period, int]) -> Callable[[int], str]:
    """`_sum` of `months` for any row, the columns worked out once (a grid sums the same months on every row)."""
    if not months:
        return lambda r: ""
    cs = sorted(col[m] for m in months)
    first, last = column_letter(cs[0]), column_letter(cs[-1])
    return lambda r: f"SUM({first}{r}:{last}{r})"
