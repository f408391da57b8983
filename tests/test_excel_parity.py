"""SNOP_* worksheet functions give the same numbers in a real spreadsheet engine as the Python engine.

The template's Examples sheet is recalculated by LibreOffice headless (snop_xl.build.recalc: its SNOP_* names resolve to
Basic wrappers that call udfs.functions through the Python script provider) and every result cell is compared with
the engine called directly here on the inputs read from the sheet. A second book checks the messages bad cells get
and cross-checks a few results against plain spreadsheet formulas computed by LibreOffice itself.
Skipped when LibreOffice or its Python script provider is not installed (Debian: libreoffice-calc-nogui
libreoffice-script-provider-python python3-uno).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.worksheet.formula import ArrayFormula
from scipy.stats import norm

import udfs.functions as udf
from snop_xl.calc import finance, kpi, supply
from snop_xl.cli import main
from snop_xl.calc.forecast import forecast
from snop_xl.build.recalc import MISSING, call_udf, recalc, unavailable, value_at
from snop_xl.build.template import TEMPLATE

needs_libreoffice = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))
SHEET = "Examples"


# ---- the template's Examples sheet ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[list[Any]]]:
    return recalc(TEMPLATE, tmp_path_factory.mktemp("examples"))


def _grid(values: dict, ref: str, sheet: str = SHEET) -> list[list[Any]]:
    c1, r1, c2, r2 = range_boundaries(ref)
    return [[values[sheet][r - 1][c - 1] if r <= len(values[sheet]) and c <= len(values[sheet][r - 1]) else None
             for c in range(c1, c2 + 1)] for r in range(r1, r2 + 1)]


def _vector(values: dict, ref: str, sheet: str = SHEET) -> np.ndarray:
    return np.array([v for row in _grid(values, ref, sheet) for v in row], dtype=float)


def _snop_formulas() -> list[tuple[str, str, str]]:
    """(anchor cell, result range, formula) of every SNOP_* formula on the Examples sheet of the template."""
    ws = load_workbook(TEMPLATE)[SHEET]
    found = []
    for row in ws.iter_rows():
        for cell in row:
            if cell.data_type == "f" and "SNOP_" in str(getattr(cell.value, "text", cell.value)):
                ref = cell.value.ref if isinstance(cell.value, ArrayFormula) else cell.coordinate
                found.append((cell.coordinate, ref, getattr(cell.value, "text", cell.value)))
    return found


def _arguments(text: str) -> list[str]:
    """Top-level arguments of a formula call (commas inside quotes kept)."""
    return [a.strip() for a in re.findall(r'(?:"[^"]*"|[^,])+', text)]


def _evaluate(argument: str, values: dict, sheet: str = SHEET) -> Any:
    """One formula argument as xlwings would hand it to the UDF: a range as a list of rows, else the value."""
    if argument.startswith('"'):
        return argument.strip('"')
    if re.fullmatch(r"[A-Z]+\d+:[A-Z]+\d+", argument):
        return _grid(values, argument, sheet)
    if re.fullmatch(r"[A-Z]+\d+", argument):
        return value_at(values, sheet, argument)
    return float(argument)


def _as_rows(result: Any) -> list[list[Any]]:
    return result if isinstance(result, list) else [[result]]


def _same(shown: Any, expected: Any) -> bool:
    if isinstance(expected, float) and not isinstance(shown, str) and shown is not None:
        return math.isclose(float(shown), expected, rel_tol=1e-10, abs_tol=1e-9)
    return shown == expected or (expected is None and shown in (None, ""))


@needs_libreoffice
def test_examples_sheet_has_every_function() -> None:
    names = {re.match(r"=(SNOP_\w+)\(", f).group(1) for _, _, f in _snop_formulas()}
    assert names == {f.__name__ for f in udf.FUNCTIONS}


@needs_libreoffice
@pytest.mark.parametrize("anchor, ref, formula", _snop_formulas())
def test_every_snop_cell_equals_python(examples: dict, anchor: str, ref: str, formula: str) -> None:
    """Each cell of each SNOP_* result, as LibreOffice computed it, equals the UDF called in-process on the same
    cells: the bridge carries arguments and answers without loss, array formulas included."""
    name, inner = re.fullmatch(r"=(SNOP_\w+)\((.*)\)", formula).groups()
    expected = _as_rows(getattr(udf, name)(*[_evaluate(a, examples) for a in _arguments(inner)]))
    shown = _grid(examples, ref)
    assert len(expected) == len(shown) and all(len(e) <= len(s) for e, s in zip(expected, shown)), (shown, expected)
    for r, (want_row, got_row) in enumerate(zip(expected, shown)):
        for c, want in enumerate(want_row):
            assert not (isinstance(got_row[c], str) and got_row[c].startswith("#")), f"{anchor}: {got_row[c]}"
            assert _same(got_row[c], want), f"{SHEET}!{ref} row {r + 1} col {c + 1}: {got_row[c]!r} != {want!r}"


@needs_libreoffice
def test_examples_equal_the_engine(examples: dict) -> None:
    """The numbers the sheet shows are the engine's, called directly (not through udfs), plus hand checks."""
    v = lambda ref: _vector(examples, ref)  # noqa: E731
    cell = lambda ref: value_at(examples, SHEET, ref)  # noqa: E731
    hist, actual, fc = v("B4:Y4"), v("B8:G8"), v("B9:G9")
    supply_, demand = v("B19:G19"), v("B20:G20")

    long = pd.DataFrame({"item": "s", "period": pd.period_range("2000-01", periods=len(hist), freq="M"),
                         "qty": hist})
    engine_fc = forecast(long, 6, season_length=12, method="auto").sort_values("period")["forecast"].to_numpy()
    np.testing.assert_allclose(v("B5:G5"), engine_fc, rtol=1e-10)

    wape = np.abs(actual - fc).sum() / actual.sum()  # by hand
    assert cell("B10") == pytest.approx(wape, rel=1e-12)
    assert cell("B10") == pytest.approx(kpi.accuracy(actual, fc, "WAPE"), rel=1e-12)
    assert cell("B12") == pytest.approx((fc.sum() - actual.sum()) / actual.sum(), rel=1e-10)
    assert cell("B12") == pytest.approx(kpi.accuracy(actual, fc, "BIAS"), rel=1e-12)

    lead_time, service = cell("B14"), cell("B15")
    by_hand = norm.ppf(service) * np.std(hist, ddof=1) * math.sqrt(lead_time + 1)
    assert cell("B16") == pytest.approx(by_hand, rel=1e-10)
    assert cell("B16") == pytest.approx(supply.safety_stock(hist, lead_time, service), rel=1e-12)

    opening = cell("B18")
    np.testing.assert_allclose(v("B21:G21"), opening + np.cumsum(supply_ - demand))
    np.testing.assert_allclose(v("B21:G21"), supply.project_inventory(opening, supply_, demand))
    np.testing.assert_allclose(v("B23:G23"), supply.days_of_supply(v("B21:G21"), demand, days_per_period=30),
                               rtol=1e-10)

    balance = supply.balance(demand, np.repeat(cell("B25"), 6), opening, safety_stock=50, strategy="chase")
    for row, key in zip(("B26:G26", "B27:G27", "B28:G28"), ("production", "inventory", "shortage")):
        np.testing.assert_allclose(v(row), balance[key].to_numpy(dtype=float), atol=1e-9)

    params = {r[0]: r[1] for r in _grid(examples, "A32:B45")}
    costs = {k.removeprefix("cost_"): float(x) for k, x in params.items() if k.startswith("cost_")}
    numbers = {k: float(x) for k, x in params.items() if not k.startswith("cost_")}
    plan = supply.aggregate_plan(demand, costs=costs, strategy="optimal", **numbers)
    frame = plan.plan if hasattr(plan, "plan") else plan.periods
    frame = frame.reset_index(drop=frame.index.name is None)
    header = _grid(examples, "B48:M48")[0]
    assert header == list(map(str, frame.columns))
    body = np.array(_grid(examples, "B49:M54"), dtype=float)
    np.testing.assert_allclose(body, frame.to_numpy(dtype=float), rtol=1e-9, atol=1e-7)
    assert _grid(examples, "B55:C55")[0] == ["total_cost", pytest.approx(plan.total_cost, rel=1e-10)]
    # the plan balances: inventory(t) = inventory(t-1) + production(t) - demand(t) (backlog 0 here)
    inventory = np.concatenate([[numbers["start_inventory"]], frame["inventory"].to_numpy(dtype=float)])
    np.testing.assert_allclose(np.diff(inventory) - frame["production"].to_numpy(dtype=float) + demand, 0, atol=1e-6)

    pvm = finance.price_volume_mix(v("B58:D58"), v("B59:D59"), v("B60:D60"), v("B61:D61"))
    assert _grid(examples, "B62:E62")[0] == ["price", "volume", "mix", "total"]
    np.testing.assert_allclose(v("B63:E63"), [pvm[k] for k in ("price", "volume", "mix", "total")], atol=1e-9)
    revenue = lambda q, p: float(np.dot(v(q), v(p)))  # noqa: E731
    assert cell("E63") == pytest.approx(revenue("B58:D58", "B59:D59") - revenue("B60:D60", "B61:D61"))

    np.testing.assert_allclose(v("B65:G65"), (actual - fc) / np.abs(fc), rtol=1e-10)
    np.testing.assert_allclose(v("B65:G65"), finance.variance(actual, fc, kind="pct"), rtol=1e-12)


# ---- bad cells, optional arguments, plain formulas -----------------------------------------------------------------

_SAVED: dict[Path, bytes] = {}
ROW = [112.0, 118.0, 132.0, 129.0, 121.0, 135.0, 148.0, 148.0]

#: cell -> (formula, text the message must contain); None: a number, equal to the in-process UDF.
CHECKS = {
    "A6": ("=SNOP_FORECAST(A2:H2,3)", "history: value 3 of 8 is blank; expected a number"),
    "A7": ("=SNOP_SAFETY_STOCK(A3:H3,2,0.95)", "demand_history: value 4 of 8 is the text 'n/a'; expected a number"),
    "A8": ("=SNOP_SAFETY_STOCK(A1:H1,J1,0.95)", "lead_time is blank; expected a number"),
    "A9": ('=SNOP_ACCURACY(A1:H1,A1:H1,"FOO")', "metric is 'FOO'; expected one of WAPE, ACCURACY"),
    "A10": ("=SNOP_INVENTORY(100,A1:H1,A1:G1)", "ranges differ in length: supply 8, demand 7"),
    "A11": ('=SNOP_SAFETY_STOCK(A1:H1,"two",0.95)', "lead_time is the text 'two'; expected a number"),
    "A12": ('=SNOP_ACCURACY(A1:H1,A1:H1,"MASE")', "MASE needs the history argument"),
    "A13": ("=SNOP_FORECAST(A1:H1,3)", None),  # optional method and season_length left out: defaults
    "A14": ('=SNOP_SAFETY_STOCK(A1:H1,2,"95%")', None),
    "A15": ("=SNOP_ACCURACY(A1:H1,B1:I1)", None),
}


@pytest.fixture(scope="module")
def checks_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("checks")
    wb = Workbook()
    ws = wb.active
    ws.title = "Checks"
    for r in range(1, 5):
        for j, x in enumerate(ROW, start=1):
            ws.cell(r, j, x)
    ws["I1"] = 150.0
    ws["C2"] = None  # a blank inside a range
    ws["D3"] = "n/a"  # text inside a range
    ws["E4"] = "=1/0"  # an error value inside a range
    for cell, (formula, _) in CHECKS.items():
        ws[cell] = formula
    ws["A16"] = "=SNOP_INVENTORY(100,A1:H1,A4:H4)"
    # plain spreadsheet formulas: LibreOffice's own arithmetic next to the engine's
    ws["A18"] = "=SUM(A1:H1)"
    ws["A19"] = "=SNOP_SAFETY_STOCK(A1:H1,2,0.95)"
    ws["B19"] = "=NORMSINV(0.95)*STDEV(A1:H1)*SQRT(2+1)"
    ws["A20"] = "=SNOP_ACCURACY(A1:H1,B1:I1,\"WAPE\")"
    ws["B20"] = "=SUMPRODUCT(ABS(A1:H1-B1:I1))/SUM(A1:H1)"
    ws["A21"] = ArrayFormula("A21:H21", "=SNOP_INVENTORY(100,B1:I1,A1:H1)")
    for j in range(1, 9):  # the same projection as running sums: 100 + supply so far - demand so far
        ws.cell(22, j, f"=100+SUM($B$1:{get_column_letter(j + 1)}1)-SUM($A$1:{get_column_letter(j)}1)")
    path = tmp / "checks.xlsx"
    wb.save(path)
    _SAVED[path] = path.read_bytes()
    return path


@pytest.fixture(scope="module")
def checked(checks_book: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return recalc(checks_book, tmp_path_factory.mktemp("checked"))


@needs_libreoffice
@pytest.mark.parametrize("cell", list(CHECKS))
def test_bad_cells_show_the_message(checked: dict, cell: str) -> None:
    formula, message = CHECKS[cell]
    shown = value_at(checked, "Checks", cell)
    name, inner = re.fullmatch(r"=(SNOP_\w+)\((.*)\)", formula).groups()
    args = [_evaluate(a, checked, "Checks") for a in _arguments(inner)]
    in_process = _as_rows(getattr(udf, name)(*args))[0][0]  # left-out optional arguments: Python's defaults
    if message is None:
        assert isinstance(shown, (int, float)), shown
        assert _same(shown, in_process)
    else:
        assert shown == in_process, (shown, in_process)
        assert shown.startswith("#SNOP! ") and message in shown and "\n" not in shown and "Traceback" not in shown


@needs_libreoffice
def test_error_cells_and_plain_formulas(checked: dict) -> None:
    at = lambda ref: value_at(checked, "Checks", ref)  # noqa: E731
    # LibreOffice hands an error inside a range to no function: the cell shows the error itself (Excel with
    # xlwings shows "#SNOP! demand: value 5 of 8 is the error #DIV/0!; ...", see docs/excel.md)
    assert at("E4") == "#DIV/0!" and at("A16") == "#DIV/0!"
    assert at("A18") == sum(ROW)
    assert at("A19") == pytest.approx(at("B19"), rel=1e-12)  # NORMSINV * STDEV * SQRT(LT + 1), in the sheet
    assert at("A20") == pytest.approx(at("B20"), rel=1e-12)  # WAPE, in the sheet
    np.testing.assert_allclose(_vector(checked, "A21:H21", "Checks"), _vector(checked, "A22:H22", "Checks"))


@needs_libreoffice
def test_recalc_leaves_the_book_alone(checks_book: Path, checked: dict) -> None:
    assert checks_book.read_bytes() == _SAVED[checks_book]  # recalculated a copy elsewhere
    assert [p.name for p in checks_book.parent.iterdir()] == [checks_book.name]


@needs_libreoffice
def test_cli_prints_formula_values(checks_book: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["recalc", str(checks_book), "--sheet", "Checks"]) == 0
    out = capsys.readouterr()
    lines = {line.split("\t")[0]: line.split("\t") for line in out.out.splitlines()}
    assert lines["Checks!A18"][1:] == [f"{sum(ROW):g}", "=SUM(A1:H1)"]
    assert lines["Checks!A6"][1].startswith("#SNOP! history: value 3 of 8 is blank")
    assert lines["Checks!H21"][2] == "{A21:H21}"
    assert "show an error" in out.err
    assert main(["recalc", str(checks_book), "--sheet", "Nope"]) == 1


# ---- the Python side of the bridge, without LibreOffice ------------------------------------------------------------

def test_call_udf_converts_like_xlwings() -> None:
    # a row arrives as a tuple of one row tuple; whole numbers may arrive as int
    assert call_udf("SNOP_INVENTORY", (100, ((100, 150.0),), ((120.0, 135),))) == ((80.0, 95.0),)
    # a column stays a column
    assert call_udf("SNOP_INVENTORY", (100, ((100.0,), (150.0,)), ((120.0,), (135.0,)))) == ((80.0,), (95.0,))
    # left-out optional arguments take the Python defaults
    hist = tuple((float(x),) for x in ROW)
    assert call_udf("SNOP_FORECAST", (hist, 2.0, MISSING, MISSING)) == \
        tuple(tuple(r) for r in udf.SNOP_FORECAST([[x] for x in ROW], 2))
    # a single cell given for a range argument is a one-cell range
    assert call_udf("SNOP_VARIANCE", (110.0, 100.0, MISSING)) == ((10.0,),)


def test_call_udf_never_raises() -> None:
    assert call_udf("SNOP_NOPE", ()) == "#SNOP! SNOP_NOPE is not a snop-xl worksheet function"
    shown = call_udf("SNOP_SAFETY_STOCK", (((1.0, None, 3.0),), 2.0, 0.95))
    assert shown == "#SNOP! demand_history: value 2 of 3 is blank; expected a number"
    assert call_udf("SNOP_INVENTORY", (object(), ((1.0,),), ((1.0,),))).startswith("#SNOP! ")
