"""The Financial review: step 4's money as a grid (Total and families down the rows, each with plan revenue, budget
revenue, variance, last year and margin; the fiscal year's past months, the plan's months, quarters and fiscal years
across), whose numbers are the Financials table's and whose variances are coloured favourable / unfavourable."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import openpyxl
import pandas as pd
import pytest

from snop_xl.build import recalc
from snop_xl.cli import main
from snop_xl.contract import column_letter
from snop_xl.contract import review as R
from snop_xl.inputs import load_inputs
from snop_xl.io import OpenpyxlBook, xlwings_book
from snop_xl.io.grid import FILLS
from snop_xl.steps import grids
from tests.conftest import make_book, small_frames
from tests.test_macros import live_grid_like_headless
from tests.test_supply_review import short_book

P = lambda s: pd.Period(s, "M")  # noqa: E731
ACTUALS = list(pd.period_range("2026-04", "2026-12", freq="M"))  # fiscal years from April: the year's past months
PLAN = list(pd.period_range("2027-01", "2027-06", freq="M"))


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Cycle January 2027, fiscal years from April (the cycle is in FY27's last quarter), six plan months."""
    return short_book(tmp_path_factory.mktemp("finance_review") / "book.xlsx")


def rows_of(ws) -> dict[tuple[str, str], int]:
    return {(ws.cell(r, R.FIN_COL_NAME).value, ws.cell(r, R.FIN_COL_FIGURE).value): r
            for r in range(R.FIRST_ROW, ws.max_row + 1)}


def columns_of(ws) -> dict[object, int]:
    out = {}
    for c in range(R.FIN_FIRST_MONTH_COL, ws.max_column + 1):
        v = ws.cell(R.HEADER_ROW, c).value
        out[pd.Period(v, "M") if hasattr(v, "year") else v] = c
    return out


def test_layout(book: Path) -> None:
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames.index(R.FINANCIAL_REVIEW) < wb.sheetnames.index("DemandPlan")  # review sheets before the data
    ws = wb[R.FINANCIAL_REVIEW]
    assert ws.freeze_panes == "C4"
    rows, cols = rows_of(ws), columns_of(ws)
    assert [ws.cell(r, R.FIN_COL_FIGURE).value for r in range(R.FIRST_ROW, R.FIRST_ROW + 5)] == list(
        R.FINANCIAL_FIGURES)
    assert rows[("Total", R.PLAN_REVENUE)] < rows[("F", R.PLAN_REVENUE)]
    assert ws.row_dimensions[rows[("F", R.MARGIN)]].outline_level == 1
    assert not ws.row_dimensions[rows[("F", R.MARGIN)]].hidden
    months = [k for k in cols if isinstance(k, pd.Period)]
    assert months == ACTUALS + PLAN
    # the past months shaded as actuals, then quarters and fiscal years; the next year shown (the last quarter)
    assert ws.column_dimensions[column_letter(cols[P("2026-04")])].fill.fgColor.rgb.endswith(FILLS["actual"])
    assert ws.column_dimensions[column_letter(cols[P("2027-01")])].fill.fgColor.rgb in (None, "00000000")
    spans = [k for k in cols if isinstance(k, str)]
    assert spans == ["Q1 FY27", "Q2 FY27", "Q3 FY27", "Q4 FY27", "Q1 FY28", "FY27", "FY28 (3 of 12 mo)"]


def test_numbers_equal_the_financials(book: Path) -> None:
    fin, _ = OpenpyxlBook(book).read_table("Financials")
    ws = openpyxl.load_workbook(book)[R.FINANCIAL_REVIEW]
    rows, cols = rows_of(ws), columns_of(ws)
    month = fin[(fin["horizon"] == "Month") & (fin["level"] == "Family")]
    assert len(month) == len(ACTUALS + PLAN)
    for row in month.itertuples(index=False):
        c = cols[row.period]
        assert ws.cell(rows[(row.family, R.PLAN_REVENUE)], c).value == pytest.approx(row.revenue)
        assert ws.cell(rows[(row.family, R.MARGIN)], c).value == pytest.approx(row.margin)
        budget = ws.cell(rows[(row.family, R.BUDGET_REVENUE)], c).value
        variance = ws.cell(rows[(row.family, R.VARIANCE)], c).value
        if pd.isna(row.budget_revenue):
            assert budget is None and variance is None  # no budget, no variance
        else:
            L = column_letter(c)
            assert budget == pytest.approx(row.budget_revenue)
            assert variance == f"={L}{rows[('F', R.PLAN_REVENUE)]}-{L}{rows[('F', R.BUDGET_REVENUE)]}"
    # last year by hand: 2026's History (A 10 units at 10, B 20 at 5 a month), none before 2026
    for m in ACTUALS:
        assert ws.cell(rows[("F", R.LAST_YEAR)], cols[m]).value is None
    for m in PLAN:
        assert ws.cell(rows[("F", R.LAST_YEAR)], cols[m]).value == pytest.approx(10 * 10 + 20 * 5)
    # the Total and every span are formulas
    c = cols[P("2027-02")]
    assert ws.cell(rows[("Total", R.VARIANCE)], c).value == f"={column_letter(c)}{rows[('F', R.VARIANCE)]}"
    assert ws.cell(rows[("F", R.PLAN_REVENUE)], cols["FY27"]).value == \
        f"=SUM(C{rows[('F', R.PLAN_REVENUE)]}:{column_letter(cols[P('2027-03')])}{rows[('F', R.PLAN_REVENUE)]})"


def test_variance_is_coloured(book: Path) -> None:
    ws = openpyxl.load_workbook(book)[R.FINANCIAL_REVIEW]
    rows = rows_of(ws)
    found = [(str(cf.sqref), cf.rules) for cf in ws.conditional_formatting]
    assert len(found) == 1
    ref, rules = found[0]
    assert ref.split() == [f"C{rows[(n, R.VARIANCE)]}:{column_letter(ws.max_column)}{rows[(n, R.VARIANCE)]}"
                           for n in ("Total", "F")]
    green, red = rules
    assert (green.operator, green.formula, red.operator, red.formula) == (
        "greaterThan", ["0.5"], "lessThan", ["-0.5"])
    assert green.dxf.fill.fgColor.rgb.endswith("C6EFCE") and red.dxf.fill.fgColor.rgb.endswith("FFC7CE")


def test_libreoffice_recalculates_the_outlook(book: Path, tmp_path: Path) -> None:
    """Recomputed by LibreOffice: the cycle's fiscal-year column is the Financials' Outlook, the Total its sum."""
    if recalc.unavailable():
        pytest.skip(recalc.unavailable())
    fin, _ = OpenpyxlBook(book).read_table("Financials")
    ws = openpyxl.load_workbook(book)[R.FINANCIAL_REVIEW]
    rows, cols = rows_of(ws), columns_of(ws)
    values = {R.FINANCIAL_REVIEW: recalc.recalc(book, tmp_path / "lo")[R.FINANCIAL_REVIEW]}

    def at(key: tuple[str, str], col: object) -> float:
        return recalc.value_at(values, R.FINANCIAL_REVIEW, f"{column_letter(cols[col])}{rows[key]}")

    outlook = fin[(fin["horizon"] == "Outlook") & (fin["level"] == "Family")].iloc[0]
    for name in ("F", "Total"):
        assert at((name, R.PLAN_REVENUE), "FY27") == pytest.approx(outlook["revenue"])
        assert at((name, R.BUDGET_REVENUE), "FY27") == pytest.approx(outlook["budget_revenue"])
        assert at((name, R.VARIANCE), "FY27") == pytest.approx(outlook["revenue_variance"])
        assert at((name, R.MARGIN), "FY27") == pytest.approx(outlook["margin"])
    total = fin[(fin["horizon"] == "Month") & (fin["level"] == "Total")].set_index("period")
    for m in PLAN:
        assert at(("Total", R.VARIANCE), m) == pytest.approx(total.loc[m, "revenue_variance"])
    assert at(("F", R.PLAN_REVENUE), "FY28 (3 of 12 mo)") == pytest.approx(
        total.loc[[P("2027-04"), P("2027-05"), P("2027-06")], "revenue"].sum())


def test_next_fiscal_year_shown_when_the_horizon_ends_before_it(tmp_path: Path) -> None:
    frames = small_frames()
    frames["Budget"] = frames["Budget"].iloc[:2]
    frames["Capacity"] = frames["Capacity"].iloc[:2]
    path = make_book(tmp_path / "short.xlsx", frames, {"fiscal_year_start": 4, "horizon": 2})
    assert main(["run", str(path), "--steps", "demand", "supply", "reconcile", "review"]) == 0
    ws = openpyxl.load_workbook(path)[R.FINANCIAL_REVIEW]
    spans = [k for k in columns_of(ws) if isinstance(k, str)]
    assert spans[-2:] == ["FY27 (11 of 12 mo)", "FY28 (0 of 12 mo)"]  # April to February, then nothing
    assert all(ws.cell(r, ws.max_column).value is None for r in range(R.FIRST_ROW, ws.max_row + 1))


def test_live_excel_writer_gives_the_same_cells(book: Path) -> None:
    inputs = load_inputs(OpenpyxlBook(book))
    fin, _ = OpenpyxlBook(book).read_table("Financials")
    grid = grids.review_grids(inputs, {"Financials": fin}, {"Financials"})[0]
    assert grid.sheet == R.FINANCIAL_REVIEW
    fake, ws = live_grid_like_headless(book, grid)
    api = mock.MagicMock()
    xlwings_book._excel_highlights(api, grid)
    adds = api.Range.return_value.FormatConditions.Add.call_args_list
    assert adds == [mock.call(Type=1, Operator=5, Formula1="=0.5"), mock.call(Type=1, Operator=6,
                                                                              Formula1="=-0.5")]
    rule = api.Range.return_value.FormatConditions.Add.return_value
    assert rule.Interior.Color == 0xCEC7FF  # the last one set: red (Excel's BGR of FFC7CE)
