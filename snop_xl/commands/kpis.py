"""`snop-xl kpis`: the KPIs of a book's plan and its archive, printed or written to the KPIs sheet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from snop_xl import archive
from snop_xl import contract as C
from snop_xl.io.base import BookIO
from snop_xl.steps.kpi_review import kpi_review
from snop_xl.steps.kpis import kpi_trend


def write_kpis(book: BookIO, kpis: pd.DataFrame, items: pd.DataFrame | None = None) -> None:
    """The KPIs sheet whole: the KPIs table, its KPITrend and the charts drawn from it (never one without the
    others, so the charts always show the table beside them), and the KPI review of the same numbers (`items`
    groups items under their families). Only the KPIs sheet's charts are redrawn: nothing else changed."""
    book.write_table(C.KPIS, kpis)
    book.write_table(C.KPI_TREND, kpi_trend(kpis))
    book.write_grid(kpi_review(kpis, items))
    book.draw_charts(hosts=(C.KPI_TREND.sheet,))


def decisions_log(path: str | Path) -> pd.DataFrame:
    """Every published version's Decisions, version first (what `snop-xl kpis --versions` lists under them)."""
    log = archive.load_table(path, "Decisions", latest_per_cycle=False)
    keys = [k for k in C.DECISIONS.keys if k in log]
    return log[["version", *keys]] if len(log) else pd.DataFrame(columns=["version", *C.DECISIONS.keys])
