"""The Demand review: a planning grid (Total, families, items down the rows; months across) whose consensus, family
and total rows are formulas, whose contributor rows planners type into, and whose typed numbers the next run takes
into the plan exactly as Overrides rows (precedence: contributors in order; a typed number beats an Overrides row
of the same contributor, item and month)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from snop_xl import archive
from snop_xl.build import recalc
from snop_xl.cli import main
from snop_xl.contract import review as R
from snop_xl.errors import ValidationError
from snop_xl.inputs import load_inputs
from snop_xl.io import OpenpyxlBook, open_book
from snop_xl.contract import column_letter as _letter
from snop_xl.steps import demand, grids
from snop_xl.steps.kpis import owner_steps
from tests.conftest import make_book, small_frames
from tests.test_macros import live_grid_like_headless

P = lambda s: pd.Period(s, "M")  # noqa: E731


def rows_of(path: Path) -> dict[tuple[str, str], int]:
    """(block name, key figure) -> sheet row of the Demand review."""
    ws = openpyxl.load_workbook(path)[R.DEMAND_REVIEW]
    return {(ws.cell(r, R.COL_NAME).value, ws.cell(r, R.COL_FIGURE).value): r
            for r in range(R.FIRST_ROW, ws.max_row + 1)}


def month_column(path: Path, month: str) -> int:
    ws = openpyxl.load_workbook(path)[R.DEMAND_REVIEW]
    for c in range(R.FIRST_MONTH_COL, ws.max_column + 1):
        v = ws.cell(R.HEADER_ROW, c).value
        if hasattr(v, "year") and pd.Period(v, "M") == P(month):
            return c
    raise AssertionError(month)


def type_into(path: Path, cells: dict[tuple[int, int], object]) -> None:
    """A planner typing into the saved book (and saving it), as Excel would store the cells."""
    wb = openpyxl.load_workbook(path)
    ws = wb[R.DEMAND_REVIEW]
    for (r, c), v in cells.items():
        ws.cell(r, c).value = v
    wb.save(path)


@pytest.fixture
def run_book(tmp_path: Path) -> Path:
    frames = small_frames()
    frames["Overrides"] = pd.DataFrame({"item": ["A"], "family": [None], "period": [P("2027-02")], "qty": [40.0],
                                        "owner": ["Sales"], "reason": ["tender"]})
    path = make_book(tmp_path / "book.xlsx", frames, {"contributors": "Sales, Marketing"})
    assert main(["run", str(path), "--steps", "demand"]) == 0
    return path


def test_review_sheet_layout_and_values(run_book: Path) -> None:
    wb = openpyxl.load_workbook(run_book)
    names = wb.sheetnames
    # first among the model's sheets, the review sheets before the data tables, machine-only sheets hidden
    assert names.index(R.DEMAND_REVIEW) == names.index("Decisions") + 1
    assert names.index(R.DEMAND_REVIEW) < names.index("SupplyReview") < names.index("DemandPlan")
    assert wb["ChartData"].sheet_state == "hidden" if "ChartData" in names else True
    ws = wb[R.DEMAND_REVIEW]
    assert ws.freeze_panes == "E4"
    rows = rows_of(run_book)
    # the first screen: Total and the family; item rows folded under their family
    assert ws.row_dimensions[rows[("A", "Actuals")]].hidden and not ws.row_dimensions[rows[("F", "Consensus")]].hidden
    assert ws.row_dimensions[rows[("A", "Actuals")]].outline_level == 2
    plan, _ = OpenpyxlBook(run_book).read_table("DemandPlan")
    c = month_column(run_book, "2027-03")
    stat = plan[(plan["item"] == "B") & (plan["period"] == P("2027-03"))]["statistical"].iloc[0]
    assert ws.cell(rows[("B", "Statistical")], c).value == pytest.approx(stat)
    assert ws.cell(rows[("A", "Actuals")], month_column(run_book, "2026-05")).value == 10  # History
    assert ws.cell(rows[("A", "Sales")], month_column(run_book, "2027-02")).value == 40  # the Overrides row
    consensus = ws.cell(rows[("A", "Consensus")], c).value
    assert consensus.startswith("=IF(ISNUMBER(") and "MAX(0," in consensus
    assert ws.cell(rows[("F", "Consensus")], c).value.startswith("=SUMIF(")
    assert ws.cell(rows[("Total", "Budget")], c).value.startswith("=")
    assert ws.cell(rows[("F", "Budget")], c).value == 30  # small_frames' budget: 30 units a month
    before = month_column(run_book, "2026-05")  # no budget before 2027: the Total blank as its families, not 0
    assert ws.cell(rows[("F", "Budget")], before).value is None and ws.cell(rows[("Total", "Budget")], before).value \
        is None
    headers = [ws.cell(R.HEADER_ROW, k).value for k in range(1, ws.max_column + 1)]
    assert "Q1 FY27" in headers and "FY27 (6 of 12 mo)" in headers  # a six-month plan holds half of FY27


def test_contributor_edit_recalculates_in_libreoffice(run_book: Path, tmp_path: Path) -> None:
    if recalc.unavailable():
        pytest.skip(recalc.unavailable())
    rows, c = rows_of(run_book), month_column(run_book, "2027-03")
    type_into(run_book, {(rows[("B", "Marketing")], c): 55})
    values = recalc.recalc(run_book, tmp_path / "lo")[R.DEMAND_REVIEW]
    # the engine's own computation with that number as an Overrides row
    frames = small_frames()
    frames["Overrides"] = pd.DataFrame({"item": ["A", "B"], "family": [None, None], "period": [P("2027-02"),
                                        P("2027-03")], "qty": [40.0, 55.0], "owner": ["Sales", "Marketing"],
                                        "reason": ["tender", ""]})
    other = make_book(tmp_path / "engine.xlsx", frames, {"contributors": "Sales, Marketing"})
    engine = demand.run(load_inputs(OpenpyxlBook(other)))["DemandPlan"]
    march = engine[engine["period"] == P("2027-03")]
    expect = {("B", "Consensus"): march[march["item"] == "B"]["consensus"].iloc[0],
              ("F", "Consensus"): march[march["level"] == "Family"]["consensus"].iloc[0],
              ("Total", "Consensus"): march[march["level"] == "Total"]["consensus"].iloc[0]}
    assert expect[("B", "Consensus")] == 55
    for key, want in expect.items():
        got = recalc.value_at({R.DEMAND_REVIEW: values}, R.DEMAND_REVIEW, f"{_letter(c)}{rows[key]}")
        assert got == pytest.approx(want), key


def test_grid_edits_flow_into_the_plan_and_stay(run_book: Path) -> None:
    rows = rows_of(run_book)
    mar, apr = month_column(run_book, "2027-03"), month_column(run_book, "2027-04")
    type_into(run_book, {(rows[("B", "Sales")], mar): 70, (rows[("B", "Sales")], R.COL_NOTE): "new listing",
                         (rows[("A", "Marketing")], apr): 0})
    for _ in range(2):  # a second run keeps the edits (they are no longer new, and not lost)
        assert main(["run", str(run_book)]) == 0
        book = OpenpyxlBook(run_book)
        plan, _ = book.read_table("DemandPlan")
        at = lambda i, m: plan[(plan["item"] == i) & (plan["period"] == P(m))].iloc[0]  # noqa: E731
        assert at("B", "2027-03")["consensus"] == 70 and at("A", "2027-04")["consensus"] == 0
        assert "override 70 by Sales: new listing" in at("B", "2027-03")["notes"]
        contributions, _ = book.read_table("Contributions")
        grid = contributions[contributions["source"] == "Grid"]
        assert set(zip(grid["owner"], grid["item"], grid["period"].astype(str))) == {
            ("Sales", "B", "2027-03"), ("Marketing", "A", "2027-04")}
        ws = openpyxl.load_workbook(run_book)[R.DEMAND_REVIEW]
        assert ws.cell(rows[("B", "Sales")], mar).value == 70
        assert ws.cell(rows[("B", "Sales")], R.COL_NOTE).value == "new listing"
    assert main(["publish", str(run_book), "--approver", "Ann"]) == 0
    path = archive.default_path(run_book)
    archived = archive.load(path, "latest")[1]["Overrides"]
    assert {("Sales", "B", 70.0), ("Marketing", "A", 0.0), ("Sales", "A", 40.0)} <= set(
        zip(archived["owner"], archived["item"], archived["qty"]))
    steps = owner_steps(path)  # what FVA per owner is computed from
    march_b = steps[(steps["item"] == "B") & (steps["period"] == P("2027-03")) & (steps["owner"] == "Sales")]
    assert march_b["after"].iloc[0] == 70
    # clearing a typed number removes it
    type_into(run_book, {(rows[("B", "Sales")], mar): None})
    assert main(["run", str(run_book), "--steps", "demand"]) == 0
    plan, _ = OpenpyxlBook(run_book).read_table("DemandPlan")
    b = plan[(plan["item"] == "B") & (plan["period"] == P("2027-03"))].iloc[0]
    assert pd.isna(b["override"]) and b["consensus"] == pytest.approx(b["statistical"])


def test_precedence_between_grid_and_overrides(run_book: Path) -> None:
    """For one contributor a typed number beats its Overrides row; a later contributor beats both."""
    rows, feb = rows_of(run_book), month_column(run_book, "2027-02")
    type_into(run_book, {(rows[("A", "Sales")], feb): 45})  # the Overrides table says 40 for Sales
    assert main(["run", str(run_book), "--steps", "demand"]) == 0
    plan, _ = OpenpyxlBook(run_book).read_table("DemandPlan")
    assert plan[(plan["item"] == "A") & (plan["period"] == P("2027-02"))]["consensus"].iloc[0] == 45
    type_into(run_book, {(rows[("A", "Marketing")], feb): 12})
    assert main(["run", str(run_book), "--steps", "demand"]) == 0
    plan, _ = OpenpyxlBook(run_book).read_table("DemandPlan")
    assert plan[(plan["item"] == "A") & (plan["period"] == P("2027-02"))]["consensus"].iloc[0] == 12


@pytest.mark.parametrize("case", ["text", "negative", "inactive item", "past month"])
def test_an_edit_that_cannot_be_placed_is_refused_at_its_cell(run_book: Path, case: str) -> None:
    rows = rows_of(run_book)
    month = month_column(run_book, "2026-11" if case == "past month" else "2027-03")
    r = rows[("B", "Sales")]
    type_into(run_book, {(r, month): {"text": "lots", "negative": -5}.get(case, 25)})
    if case == "inactive item":
        wb = openpyxl.load_workbook(run_book)
        ws = wb["Items"]
        headers = [c.value for c in ws[1]]
        ws.cell(3, headers.index("Active") + 1).value = False  # B
        wb.save(run_book)
    before = run_book.read_bytes()
    with pytest.raises(ValidationError) as err:
        load_inputs(open_book(run_book))
    where = f"{R.DEMAND_REVIEW}!{_letter(month)}{r}"
    assert [p.location for p in err.value.problems] == [where]
    assert main(["run", str(run_book)]) == 2
    assert run_book.read_bytes() == before


def test_live_excel_writer_gives_the_same_cells(run_book: Path) -> None:
    inputs = load_inputs(OpenpyxlBook(run_book))
    outputs = demand.run(inputs)
    grid = grids.review_grids(inputs, outputs, {"DemandPlan", "Contributions"})[0]
    fake, ws = live_grid_like_headless(run_book, grid)
    fills = [c for c in fake.calls if c[0] == "color"]
    assert any(c[2] == c[4] == rows_of(run_book)[("A", "Sales")] for c in fills)  # contributor cells styled


def test_orders_and_pipeline_rows_recalculate_like_the_engine(tmp_path: Path) -> None:
    """With Orders and Pipeline, every item, family and total Consensus cell LibreOffice computes equals the demand
    step's consensus (orders a floor, the pipeline above the statistical added), and so does a typed number."""
    if recalc.unavailable():
        pytest.skip(recalc.unavailable())
    from snop_xl import contract as C

    frames = small_frames()
    frames["Orders"] = pd.DataFrame([["1", "B", "", P("2027-02"), 70.0], ["2", "A", "", P("2027-01"), 3.0]],
                                    columns=C.ORDERS.keys)
    frames["Pipeline"] = pd.DataFrame([
        ["T1", "A", None, 300.0, pd.Timestamp("2027-03-05"), "Proposal", None, "Kim", "Acme", None],
        ["T2", None, "F", 100.0, pd.Timestamp("2027-01-20"), "Negotiation", 0.5, "Lee", "Beta", None],
    ], columns=C.PIPELINE.keys)
    path = make_book(tmp_path / "book.xlsx", frames, {"contributors": "Sales, Marketing"})
    assert main(["run", str(path), "--steps", "demand"]) == 0
    rows = rows_of(path)
    assert ("A", R.ORDERS) in rows and ("F", R.PIPELINE) in rows and ("Total", R.ORDERS) in rows
    type_into(path, {(rows[("B", "Marketing")], month_column(path, "2027-04")): 12})
    values = recalc.recalc(path, tmp_path / "lo")[R.DEMAND_REVIEW]
    engine, _ = OpenpyxlBook(path).read_table("DemandPlan")  # the run before the edit
    frames["Overrides"] = pd.DataFrame({"item": ["B"], "family": [None], "period": [P("2027-04")], "qty": [12.0],
                                        "owner": ["Marketing"], "reason": [""]})
    other = make_book(tmp_path / "engine.xlsx", frames, {"contributors": "Sales, Marketing"})
    engine = demand.run(load_inputs(OpenpyxlBook(other)))["DemandPlan"]
    checked = 0
    for month in pd.period_range("2027-01", periods=6, freq="M"):
        c = month_column(path, str(month))
        m = engine[engine["period"] == month]
        for (name, level) in (("A", "Item"), ("B", "Item"), ("F", "Family"), ("Total", "Total")):
            want = m[(m["item"] == name) if level == "Item" else (m["level"] == level)]["consensus"].iloc[0]
            got = recalc.value_at({R.DEMAND_REVIEW: values}, R.DEMAND_REVIEW, f"{_letter(c)}{rows[(name, 'Consensus')]}")
            assert got == pytest.approx(want), (name, month)
            checked += 1
    assert checked == 24
    lifted = engine[(engine["item"] == "A") & (engine["period"] == P("2027-03"))].iloc[0]
    assert lifted["statistical"] < 150 and lifted["consensus"] == pytest.approx(300 * 0.5)  # Proposal: 50%
    floor = engine[(engine["item"] == "B") & (engine["period"] == P("2027-02"))].iloc[0]
    assert floor["consensus"] == pytest.approx(70.0)
