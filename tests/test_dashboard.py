"""The Dashboard's first screen: headline tiles in a grid, the charts two a row below them, in both engines; the
exception chart's short labels; Decisions with and without their Due month. (The tiles' figures against the demo's
Financials and the pack: tests/test_pack.py.)"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter, range_boundaries

from snop_xl import contract as C
from snop_xl.contract import charts as CH
from snop_xl.inputs import load_inputs
from snop_xl.io import open_book
from snop_xl.io.xlwings_book import CHARTS_PICTURE, XlwingsBook
from snop_xl.steps import meeting
from tests.conftest import make_book, small_frames
from tests.test_macros import FakeBook
from tests.test_report import _run_book

EMU_PER_CM = 360000


def _tile(ws, k: int) -> tuple[object, object, object]:
    """(label, figure, detail) of tile `k` as written on the sheet."""
    row, col = 2 + len(CH.TILE_ROW_HEIGHTS) * (k // CH.TILES_A_ROW), CH.canvas_column("Dashboard") + 2 * (
        k % CH.TILES_A_ROW)
    return tuple(ws.cell(row + i, col).value for i in range(3))


def test_charts_two_a_row_below_the_tiles_without_overlap(tmp_path: Path) -> None:
    ws = load_workbook(_run_book(tmp_path))["Dashboard"]
    charts = ws._charts
    cells = [(c.anchor._from.row + 1, c.anchor._from.col + 1) for c in charts]
    assert len(charts) >= 4 and cells == [(p.row, p.col) for p in CH.chart_places("Dashboard", len(charts))]
    cols = sorted({col for _, col in cells})
    assert len(cols) == 2 and cols[0] == C.SHEETS["Dashboard"].charts_column  # side by side, right of the tables
    assert cells[0][0] == cells[1][0] and cells[2][0] > cells[0][0]  # a row of two, then the next row
    assert min(r for r, _ in cells) > CH.tile_rows("Dashboard")  # below the tiles
    # the left chart ends before the right one starts, by the widths the engine gave those columns
    left = sum(CH.column_cm(ws.column_dimensions[get_column_letter(c)].width) for c in range(cols[0], cols[1]))
    width = charts[0].anchor.ext.width / EMU_PER_CM
    assert width < left <= width + 1.0
    down = (cells[2][0] - cells[0][0]) * CH.ROW_CM  # ... and above the next row (default row height below tiles)
    assert charts[0].anchor.ext.height / EMU_PER_CM < down
    assert cols[0] == 1 and C.DASHBOARD.first_column > max(cols)  # the sheet opens on the tiles, tables right


def test_exception_chart_labels_are_short_and_the_message_stays_in_the_table(tmp_path: Path) -> None:
    path = _run_book(tmp_path)
    wb = load_workbook(path)
    chart = next(c for c in wb["Dashboard"]._charts if "Top exceptions" in str(c.title.tx.rich.p[0].r[0].t))
    cat = chart.series[0].cat
    sheet, ref = (cat.numRef or cat.strRef).f.split("!")
    assert sheet.strip("'") == CH.LABELS_SHEET and wb[CH.LABELS_SHEET].sheet_state == "hidden"
    c0, r0, _, r1 = range_boundaries(ref.replace("$", ""))
    labels = [wb[CH.LABELS_SHEET].cell(r, c0).value for r in range(r0, r1 + 1)]
    exc, _ = open_book(path).read_table(C.EXCEPTIONS)
    assert r0 == 2 and len(labels) == min(len(exc), 10)  # the table's rows, on the same rows
    for label, (_, e) in zip(labels, exc.iterrows()):
        assert len(label) < 40 and label != e["message"], label
        assert label == f"{e['item'] if pd.notna(e['item']) else e['family']} \u00b7 {e['kind']}"
    assert CH.exception_label({"item": "X" * 60, "family": "F", "kind": "Consensus vs statistical"}).endswith(
        "\u2026 \u00b7 Consensus vs statistical")
    assert len(CH.exception_label({"item": "X" * 60, "kind": "Consensus vs statistical"})) < 40
    assert CH.exception_label({"item": None, "family": float("nan"), "kind": "Plan below budget"}) == \
        "All \u00b7 Plan below budget"


def test_tiles_show_the_dashboard_rows_and_the_plan_version_live(tmp_path: Path) -> None:
    path = _run_book(tmp_path)
    ws = load_workbook(path)["Dashboard"]
    dash, _ = open_book(path).read_table(C.DASHBOARD)
    value = dict(zip(dash["metric"], dash["value"]))
    fin, _ = open_book(path).read_table(C.FINANCIALS)
    months = fin[(fin["horizon"] == "Month") & (fin["level"] == "Total")]  # FY2027 from 2027-01: the plan's months
    label, figure, detail = _tile(ws, 0)
    assert label.startswith("Full-year outlook revenue (") and figure == pytest.approx(months["revenue"].sum())
    assert detail == f"vs budget: {months['revenue_variance'].sum():+,.0f} USD (U)"
    label, figure, detail = _tile(ws, 1)
    assert figure == pytest.approx(months["margin"].sum())
    assert detail == f"margin: {100 * months['margin'].sum() / months['revenue'].sum():.1f}%"
    assert _tile(ws, 3)[:2] == ("Next FY revenue (beyond the plan's horizon)", "-")  # 6 months: no FY2028
    label, figure, detail = _tile(ws, 5)  # formulas: a publish (which draws nothing) shows at once
    version = C.PLAN_VERSION.first_column + C.PLAN_VERSION.keys.index("version")
    assert (label, figure) == ("Plan version", f'={get_column_letter(version)}2&""')
    label, figure, _ = _tile(ws, 6)
    inputs = load_inputs(open_book(path))
    out = {n: open_book(path).read_table(n)[0] for n in ("CapacityPlan", "SupplyPlan", "Exceptions")}
    b = meeting.binding(out["CapacityPlan"], out["SupplyPlan"], inputs.items, inputs.bill_of_resources,
                        out["Exceptions"])
    assert label == "Binding resource money at stake (Line)" and figure == pytest.approx(b["at_stake"].iloc[0])
    assert _tile(ws, 8)[1] == pytest.approx(out["Exceptions"]["value"].sum())
    assert _tile(ws, 9)[1:] == ("-", "no published cycle measured yet")
    assert _tile(ws, 11)[1] == pytest.approx(value["Plan revenue"])
    assert ws.cell(3, CH.canvas_column("Dashboard")).number_format == '#,##0 "USD"'


def test_live_excel_writes_the_same_tiles_and_puts_the_picture_where_the_charts_go(tmp_path: Path) -> None:
    path = _run_book(tmp_path)
    ws = load_workbook(path)["Dashboard"]
    fake = FakeBook.copy_of(path)
    live = XlwingsBook(fake)
    live.currency = "USD"
    live.draw_charts()
    live.draw_charts()  # replaced, not stacked
    sheet = fake.sheets["Dashboard"]
    for cell in CH.canvas_cells({}):  # every cell of the title and tiles
        want, got = ws.cell(cell.row, cell.col).value, sheet.cells.get((cell.row, cell.col))
        assert got == pytest.approx(want) if isinstance(want, (int, float)) else got == want, (cell, got, want)
    n = len(ws._charts)
    first = CH.chart_places("Dashboard", n)[0]
    assert list(sheet.pictures) == [CHARTS_PICTURE]
    assert {c for c in fake.calls if c[0] == "picture" and c[1] == "Dashboard"} == {
        ("picture", "Dashboard", CHARTS_PICTURE, first.row, first.col)}
    picture = sheet.pictures[CHARTS_PICTURE]
    block = CH.charts_block("Dashboard", n)
    assert (picture.width, picture.height) == pytest.approx((block.width / 2.54 * 72, block.height / 2.54 * 72))
    titles = [ax.get_title(loc="left") for ax in picture.axes if ax.get_title(loc="left")]
    assert titles == [str(c.title.tx.rich.p[0].r[0].t) for c in ws._charts]  # the native charts, in their order
    exceptions = next(ax for ax in picture.axes if ax.get_title(loc="left").startswith("Top exceptions"))
    assert all(len(t.get_text()) < 40 and "\u00b7" in t.get_text() for t in exceptions.get_yticklabels())
    assert {sheet.widths[c] for c in CH.canvas_widths("Dashboard")} == {CH.TILE_WIDTH, CH.GAP_WIDTH}


def test_a_book_without_the_due_column_still_loads(tmp_path: Path) -> None:
    frames = small_frames()
    frames["Decisions"] = pd.DataFrame({"date": [pd.Timestamp("2026-12-01")], "decision": ["Add a shift"],
                                        "owner": ["Ops"], "due": [pd.Period("2027-03", "M")]})
    path = make_book(tmp_path / "old.xlsx", frames)
    decisions = load_inputs(open_book(path)).decisions
    assert str(decisions["due"].iloc[0]) == "2027-03"
    wb = load_workbook(path)  # an older book: its Decisions table has no Due column
    ws = wb[C.DECISIONS.sheet]
    table = ws.tables[C.DECISIONS.list_object]
    c0, r0, c1, r1 = range_boundaries(table.ref)
    col = c0 + C.DECISIONS.keys.index("due")
    ws.delete_cols(col)
    table.ref = f"{get_column_letter(c0)}{r0}:{get_column_letter(c1 - 1)}{r1}"
    table.tableColumns = [tc for tc in table.tableColumns if tc.name != "Due"]
    wb.save(path)
    decisions = load_inputs(open_book(path)).decisions
    log = meeting.decision_log(decisions)
    assert list(log.columns) == ["date", "decision", "owner", "due", "scenario", "note"]
    assert log["owner"].tolist() == ["Ops"] and log["due"].isna().all()
