"""The KPI review: the long KPIs table shown as Total and families by lag, items folded below, readable names."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from snop_xl.cli import main
from snop_xl.contract import review as R
from snop_xl.io import OpenpyxlBook
from snop_xl.steps.kpi_review import kpi_review, step_label
from tests.conftest import make_book, small_frames


def kpi_rows() -> pd.DataFrame:
    rows = []
    for level, name in (("Total", "Total"), ("Family", "Zeta"), ("Family", "Alpha"), ("Item", "Z1"), ("Item", "A1")):
        for lag in (1, 2):
            for metric, step, value in (("ACCURACY", "statistical", 0.8), ("ACCURACY", "consensus", 0.85),
                                        ("BIAS", "consensus", 0.05), ("FVA", "owner: Sales", -0.02 * lag),
                                        ("FVA", "consensus", 0.05), ("WAPE", "consensus", 0.15)):
                rows.append((level, name, metric, step, lag, value + (0.01 if name == "A1" else 0), 12, pd.NaT,
                             "published"))
    rows.append(("Total", "Total", "ACCURACY", "consensus", 1, 0.5, 3, pd.Period("2026-11", "M"), "published"))
    rows.append(("Total", "Total", "ACCURACY", "statistical", 1, 0.1, 9, pd.NaT, "backtest"))
    return pd.DataFrame(rows, columns=["level", "name", "metric", "step", "lag", "value", "observations", "cycle",
                                       "basis"])


def test_blocks_lags_and_names() -> None:
    items = pd.DataFrame({"item": ["Z1", "A1"], "description": ["Zed one", "Ay one"], "family": ["Zeta", "Alpha"]})
    grid = kpi_review(kpi_rows(), items)
    body = grid.rows[R.FIRST_ROW - 1:]
    header = grid.rows[R.HEADER_ROW - 1]
    assert header[5:] == ["Lag 1", "Lag 2"]
    names = list(dict.fromkeys(r[0] for r in body))
    assert names == ["Total", "Zeta", "Z1", "Alpha", "A1"]  # Items order, each item under its family
    levels = dict(zip([r[0] for r in body], grid.row_levels[R.FIRST_ROW - 1:]))
    assert levels == {"Total": 0, "Zeta": 1, "Z1": 2, "Alpha": 1, "A1": 2}
    row = next(r for r in body if r[0] == "A1" and r[2] == "Accuracy" and r[3] == "Consensus")
    assert row[1] == "Ay one" and row[5:] == [pytest.approx(0.86), pytest.approx(0.86)] and row[4] == 12
    # all cycles together, published basis only: the per-cycle row and the backtest row are not shown
    total = next(r for r in body if r[0] == "Total" and r[2] == "Accuracy" and r[3] == "Consensus")
    assert total[5] == pytest.approx(0.85)
    assert not any(r[2] == "WAPE" for r in body)
    fva = [i for i, r in enumerate(body, start=R.FIRST_ROW) if r[2] == "Value added"]
    highlighted = grid.highlights[0].ref.split()
    assert grid.highlights[0].kind == "negative" and len(highlighted) == len(fva)
    assert step_label("owner: Sales North") == "Sales North (override)"


def test_run_writes_the_kpi_review_before_the_kpis_sheet(tmp_path: Path) -> None:
    book = make_book(tmp_path / "b.xlsx", small_frames())
    assert main(["run", str(book)]) == 0
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames.index(R.KPI_REVIEW) < wb.sheetnames.index("DemandPlan")  # review sheets before the data
    ws = wb[R.KPI_REVIEW]
    kpis, _ = OpenpyxlBook(book).read_table("KPIs")
    backtest = kpis[(kpis["basis"] == "backtest") & kpis["cycle"].isna() & (kpis["level"] == "Total")
                    & (kpis["metric"] == "ACCURACY") & (kpis["step"] == "statistical")].set_index("lag")["value"]
    assert len(backtest)
    row = next(r for r in range(R.FIRST_ROW, ws.max_row + 1) if ws.cell(r, 1).value == "Total"
               and ws.cell(r, 3).value == "Accuracy" and ws.cell(r, 4).value == "Statistical")
    assert [ws.cell(row, 6 + k).value for k in range(len(backtest))] == pytest.approx(list(backtest))
    assert ws.cell(row, 6).number_format == "0.0%" and "backtest" in ws.cell(1, 1).value
