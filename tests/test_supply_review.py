"""The Supply review: step 2's plan as a grid (Total, families, items down the rows; months, quarters and years
across; a capacity block per resource) whose numbers are the SupplyPlan and CapacityPlan tables', whose sums and
utilisation are formulas, and whose shortages, stock below safety stock and overloads are highlighted."""

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
from snop_xl.io import OpenpyxlBook
from snop_xl.io import xlwings_book
from snop_xl.steps import grids
from tests.conftest import make_book, small_frames
from tests.test_macros import live_grid_like_headless

P = lambda s: pd.Period(s, "M")  # noqa: E731
MONTHS = [P(f"2027-{m:02d}") for m in range(1, 7)]


def short_book(path: Path) -> Path:
    """small_frames with 20 hours a month for 30 units of demand (B runs short) and a safety stock of 5 for A (which
    ends below it); fiscal years from April, so the cycle (January) is in the fiscal year's last quarter."""
    frames = small_frames()
    frames["Capacity"]["available_hours"] = 20.0
    frames["Inventory"]["ss_value"] = [5.0, 0.0]
    path = make_book(path, frames, {"fiscal_year_start": 4})
    assert main(["run", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return short_book(tmp_path_factory.mktemp("supply_review") / "book.xlsx")


def rows_of(ws) -> dict[tuple[str, str], int]:
    """(block name, key figure) -> sheet row."""
    return {(ws.cell(r, R.COL_NAME).value, ws.cell(r, R.COL_FIGURE).value): r
            for r in range(R.FIRST_ROW, ws.max_row + 1)}


def columns_of(ws) -> dict[object, int]:
    """Header -> column: months as Periods, quarters and years by their text."""
    out = {}
    for c in range(R.FIRST_MONTH_COL, ws.max_column + 1):
        v = ws.cell(R.HEADER_ROW, c).value
        out[pd.Period(v, "M") if hasattr(v, "year") else v] = c
    return out


def cover_days(closing: list[float], demand: list[float], days: float = 30) -> list[float]:
    """Days of supply by hand: the stock at a month's end eats the following months' demand in order, the last
    month pro rata, then the average demand (an independent statement of SupplyPlan's rule)."""
    average = sum(demand) / len(demand)
    out = []
    for t, stock in enumerate(closing):
        months, left = 0.0, stock
        for d in demand[t + 1:] + [average] * 1000:
            if left <= 0 or d <= 0 and average <= 0:
                break
            if left <= d:
                months += left / d
                left = 0
            else:
                months, left = months + 1, left - d
        out.append(months * days)
    return out


def test_layout(book: Path) -> None:
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames.index(R.SUPPLY_REVIEW) < wb.sheetnames.index("DemandPlan")  # review sheets before the data
    ws = wb[R.SUPPLY_REVIEW]
    assert ws.freeze_panes == "E4"
    rows, cols = rows_of(ws), columns_of(ws)
    assert [ws.cell(r, R.COL_FIGURE).value for r in range(R.FIRST_ROW, R.FIRST_ROW + 6)] == list(R.SUPPLY_FIGURES)
    assert ws.cell(R.FIRST_ROW, R.COL_NAME).value == "Total"
    # Total, then the family, then its items folded under it, then the resource
    assert rows[("Total", R.DEMAND)] < rows[("F", R.DEMAND)] < rows[("A", R.DEMAND)] < rows[("B", R.DEMAND)] < \
        rows[("Line", R.LOAD)]
    assert ws.row_dimensions[rows[("A", R.DEMAND)]].outline_level == 2
    assert ws.row_dimensions[rows[("A", R.DEMAND)]].hidden
    assert ws.row_dimensions[rows[("F", R.SHORTAGE)]].outline_level == 1
    assert not ws.row_dimensions[rows[("F", R.SHORTAGE)]].hidden
    assert not ws.row_dimensions[rows[("Line", R.UTILISATION)]].hidden
    assert [ws.cell(rows[("Line", f)], R.COL_FIGURE).value for f in R.CAPACITY_FIGURES] == list(R.CAPACITY_FIGURES)
    assert ws.cell(rows[("Line", R.LOAD)], R.COL_DESCRIPTION).value == R.RESOURCE
    assert ws.cell(rows[("A", R.DAYS_OF_SUPPLY)], R.COL_UNIT).value == "days"
    assert all(m in cols for m in MONTHS)
    assert {"Q4 FY27", "Q1 FY28", "FY27 (3 of 12 mo)", "FY28 (3 of 12 mo)"} <= set(cols)
    assert ws.cell(rows[("Line", R.UTILISATION)], cols[P("2027-02")]).number_format == "0%"
    assert ws.cell(rows[("F", R.DEMAND)], cols[P("2027-02")]).number_format == "#,##0"


def test_numbers_equal_the_tables(book: Path) -> None:
    """Item and resource cells hold the tables' numbers; family and total sums are formulas over the item rows;
    days of supply follow the cover rule, for a family on its summed stock and demand."""
    reader = OpenpyxlBook(book)
    plan, _ = reader.read_table("SupplyPlan")
    capacity, _ = reader.read_table("CapacityPlan")
    ws = openpyxl.load_workbook(book)[R.SUPPLY_REVIEW]
    rows, cols = rows_of(ws), columns_of(ws)
    figures = {R.DEMAND: "demand", R.SUPPLY: "supply", R.INVENTORY: "closing", R.SAFETY_STOCK: "safety_stock",
               R.SHORTAGE: "shortage", R.DAYS_OF_SUPPLY: "days_of_supply"}
    for row in plan.itertuples(index=False):
        for figure, column in figures.items():
            assert ws.cell(rows[(row.item, figure)], cols[row.period]).value == pytest.approx(
                getattr(row, column)), (row.item, figure, row.period)
    for row in capacity.itertuples(index=False):
        assert ws.cell(rows[(row.resource, R.LOAD)], cols[row.period]).value == pytest.approx(row.required_hours)
        assert ws.cell(rows[(row.resource, R.CAPACITY)], cols[row.period]).value == pytest.approx(
            row.available_hours)
        assert ws.cell(rows[(row.resource, R.UTILISATION)], cols[row.period]).value.startswith("=IF(")
    c = cols[P("2027-03")]
    L, first, last = column_letter(c), rows[("A", R.DEMAND)], rows[("B", R.DAYS_OF_SUPPLY)]
    assert ws.cell(rows[("F", R.SHORTAGE)], c).value == f'=SUMIF($C${first}:$C${last},"Shortage",{L}${first}:{L}${last})'
    assert ws.cell(rows[("Total", R.SHORTAGE)], c).value == f"={L}{rows[('F', R.SHORTAGE)]}"
    family = plan.groupby("period")[["closing", "demand"]].sum().reindex(MONTHS)
    want = cover_days(list(family["closing"]), list(family["demand"]))
    assert want[0] == pytest.approx(5.0)  # 5 units in stock for 30 a month: 5 days
    for m, days in zip(MONTHS, want):
        assert ws.cell(rows[("F", R.DAYS_OF_SUPPLY)], cols[m]).value == pytest.approx(days)
        assert ws.cell(rows[("Total", R.DAYS_OF_SUPPLY)], cols[m]).value == pytest.approx(days)
    # a quarter sums the flows and shows the stocks of its last month
    q = cols["Q1 FY28"]  # April to June 2027
    assert ws.cell(rows[("A", R.DEMAND)], q).value == f"=SUM({column_letter(cols[P('2027-04')])}"\
        f"{rows[('A', R.DEMAND)]}:{column_letter(cols[P('2027-06')])}{rows[('A', R.DEMAND)]})"
    assert ws.cell(rows[("A", R.INVENTORY)], q).value == f"={column_letter(cols[P('2027-06')])}" \
        f"{rows[('A', R.INVENTORY)]}"


def test_highlights(book: Path) -> None:
    """Shortages and stock below safety stock red; utilisation a three-colour scale, red at 100%."""
    ws = openpyxl.load_workbook(book)[R.SUPPLY_REVIEW]
    rows, cols = rows_of(ws), columns_of(ws)
    rules = {str(cf.sqref): cf.rules for cf in ws.conditional_formatting}

    def rule_on(row: int, kind: str):
        found = [(ref, rule) for ref, rs in rules.items() for rule in rs if rule.type == kind and any(
            f"{column_letter(R.FIRST_MONTH_COL)}{row}:" in part for part in ref.split())]
        assert found, (row, kind)
        return found[0]

    for name in ("Total", "F", "B"):
        _, rule = rule_on(rows[(name, R.SHORTAGE)], "cellIs")
        assert rule.operator == "greaterThan" and rule.formula == ["0.5"]
    ref, rule = rule_on(rows[("A", R.INVENTORY)], "expression")
    top = rows[("Total", R.INVENTORY)]
    assert rule.formula == [f"ROUND(E{top},0)<ROUND(E{top + 1},0)"]  # inventory against the row below it
    assert all(rows_of(ws)[(n, R.SAFETY_STOCK)] == rows[(n, R.INVENTORY)] + 1 for n in ("Total", "F", "A", "B"))
    _, scale = rule_on(rows[("Line", R.UTILISATION)], "colorScale")
    assert [float(v.val) for v in scale.colorScale.cfvo] == [0, 0.85, 1]
    assert scale.colorScale.color[-1].rgb.endswith("F8696B")  # red at 100% and over
    # the plan has what the rules catch: B short from February, A below its safety stock in June
    assert ws.cell(rows[("B", R.SHORTAGE)], cols[P("2027-02")]).value == pytest.approx(10)
    assert ws.cell(rows[("A", R.INVENTORY)], cols[P("2027-06")]).value < \
        ws.cell(rows[("A", R.SAFETY_STOCK)], cols[P("2027-06")]).value


def test_libreoffice_recalculates_the_sums(book: Path, tmp_path: Path) -> None:
    """Recomputed by LibreOffice, the formula cells equal the engine's numbers."""
    if recalc.unavailable():
        pytest.skip(recalc.unavailable())
    reader = OpenpyxlBook(book)
    plan, _ = reader.read_table("SupplyPlan")
    capacity, _ = reader.read_table("CapacityPlan")
    ws = openpyxl.load_workbook(book)[R.SUPPLY_REVIEW]
    rows, cols = rows_of(ws), columns_of(ws)
    values = {R.SUPPLY_REVIEW: recalc.recalc(book, tmp_path / "lo")[R.SUPPLY_REVIEW]}

    def at(key: tuple[str, str], col: object) -> float:
        return recalc.value_at(values, R.SUPPLY_REVIEW, f"{column_letter(cols[col])}{rows[key]}")

    by_month = plan.groupby("period")[["demand", "supply", "closing", "shortage"]].sum()
    for m in MONTHS:
        assert at(("Total", R.SHORTAGE), m) == pytest.approx(by_month.loc[m, "shortage"])
        assert at(("F", R.INVENTORY), m) == pytest.approx(by_month.loc[m, "closing"])
        util = capacity[(capacity["period"] == m) & (capacity["resource"] == "Line")]["utilisation"].iloc[0]
        assert at(("Line", R.UTILISATION), m) == pytest.approx(util)
    q = [m for m in MONTHS if m >= P("2027-04")]
    assert at(("Total", R.SUPPLY), "Q1 FY28") == pytest.approx(by_month.loc[q, "supply"].sum())
    assert at(("F", R.INVENTORY), "Q1 FY28") == pytest.approx(by_month.loc[P("2027-06"), "closing"])


def test_live_excel_writer_gives_the_same_cells(book: Path) -> None:
    inputs = load_inputs(OpenpyxlBook(book))
    reader = OpenpyxlBook(book)
    outputs = {name: reader.read_table(name)[0] for name in ("SupplyPlan", "CapacityPlan")}
    grid = grids.review_grids(inputs, outputs, {"SupplyPlan", "CapacityPlan"})[0]
    assert grid.sheet == R.SUPPLY_REVIEW
    fake, ws = live_grid_like_headless(book, grid)
    util = rows_of(ws)[("Line", R.UTILISATION)]
    assert ("number_format", R.SUPPLY_REVIEW, util, R.FIRST_MONTH_COL, "0%") in fake.calls  # a row's own format


def test_live_excel_adds_the_conditional_formats(book: Path) -> None:
    """Through Excel's object model: a cell-value rule for shortages, an expression (moved to each part's first
    cell) for stock below safety stock, a three-colour scale for utilisation."""
    inputs = load_inputs(OpenpyxlBook(book))
    reader = OpenpyxlBook(book)
    outputs = {name: reader.read_table(name)[0] for name in ("SupplyPlan", "CapacityPlan")}
    grid = grids.review_grids(inputs, outputs, {"SupplyPlan", "CapacityPlan"})[0]
    api = mock.MagicMock()
    xlwings_book._excel_highlights(api, grid)
    ranges = [c.args[0] for c in api.Range.call_args_list]
    shortage, below, heat = grid.highlights
    assert ",".join(shortage.ref.split()) in ranges and heat.ref in ranges
    adds = api.Range.return_value.FormatConditions.Add.call_args_list
    assert mock.call(Type=1, Operator=5, Formula1="=0.5") in adds  # xlCellValue, xlGreater
    assert mock.call(Type=2, Formula1="=" + below.formula) in adds  # xlExpression, from the first cell
    api.Range.return_value.FormatConditions.AddColorScale.assert_called_with(ColorScaleType=3)
    # a long list of areas is split within Excel's 255-character address limit, each part's formula moved
    areas = [f"E{r}:P{r}" for r in range(10, 400, 7)]
    parts = xlwings_book._address_parts(areas)
    assert len(parts) > 1 and all(len(p) <= 250 for p in parts) and ",".join(parts) == ",".join(areas)
    api = mock.MagicMock()
    xlwings_book._excel_highlights(api, grid.__class__(**{**grid.__dict__, "highlights": [
        below.__class__(" ".join(areas), "below", "ROUND(E10,0)<ROUND(E11,0)")]}))
    second = parts[1].split(":")[0]  # e.g. E157
    adds = api.Range.return_value.FormatConditions.Add.call_args_list
    assert mock.call(Type=2, Formula1=f"=ROUND({second},0)<ROUND(E{int(second[1:]) + 1},0)") in adds
    assert mock.call(second) in api.Range.call_args_list  # selected while its condition is added
