"""SNOP_* worksheet functions: numbers against hand-worked and SciPy values, bad cells as messages, VBA wrappers."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats

import udfs.functions as F
from snop_xl.build.template import SOURCES
from snop_xl.build.vba import UDF_VBA_NAME, udf_vba

HIST = [112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118,
        115, 126, 141, 135, 125, 149, 170, 170, 158, 133, 114, 140]
ROW = [HIST]
COL = [[v] for v in HIST]
A, FC = [120, 135, 150, 128, 110, 142], [118, 140, 141, 131, 119, 138]


def test_forecast_keeps_orientation_and_naive_values() -> None:
    assert F.SNOP_FORECAST(COL, 3, "naive") == [[140.0], [140.0], [140.0]]
    assert F.SNOP_FORECAST(ROW, 12, "seasonal_naive") == [[float(v) for v in HIST[12:]]]
    auto = F.SNOP_FORECAST(ROW, 6)
    assert len(auto) == 1 and len(auto[0]) == 6 and all(v >= 0 for v in auto[0])


def test_forecast_drops_leading_blanks_like_history_before_launch() -> None:
    assert F.SNOP_FORECAST([[None, None, 5, 6, 7]], 2, "naive") == [[7.0, 7.0]]


def test_accuracy_against_hand_formulas() -> None:
    a, f = np.array(A, float), np.array(FC, float)
    wape = np.abs(a - f).sum() / a.sum()
    assert F.SNOP_ACCURACY([A], [FC]) == pytest.approx(wape)
    assert F.SNOP_ACCURACY([A], [FC], "accuracy") == pytest.approx(1 - wape)
    assert F.SNOP_ACCURACY([A], [FC], "MAPE") == pytest.approx(np.mean(np.abs(a - f) / a))
    naive_mae = np.mean(np.abs(np.diff(HIST)))
    assert F.SNOP_ACCURACY([A], [FC], "MASE", ROW) == pytest.approx(np.mean(np.abs(a - f)) / naive_mae)
    assert F.SNOP_ACCURACY([A], [FC], "MASE").startswith("#SNOP! MASE needs the history")


def test_safety_stock_matches_textbook_formula() -> None:
    expected = stats.norm.ppf(0.95) * np.std(HIST, ddof=1) * np.sqrt(2 + 1)
    assert F.SNOP_SAFETY_STOCK(COL, 2, 0.95) == pytest.approx(expected)
    assert F.SNOP_SAFETY_STOCK(COL, 2, "95%") == pytest.approx(expected)


def test_inventory_and_days_of_supply() -> None:
    supply = [100, 150, 150, 100, 100, 150]
    expected = 300 + np.cumsum(np.array(supply) - np.array(A))
    assert F.SNOP_INVENTORY(300, [supply], [A]) == [list(map(float, expected))]
    # 150 at the end of month 1, then 100 a month: 1.5 months = 45 days
    assert F.SNOP_DAYS_OF_SUPPLY([[150, 50]], [[100, 100]], 30)[0][0] == pytest.approx(45.0)


def test_balance_chase_by_hand() -> None:
    # demand 100/month, capacity 80, opening 50, no safety stock: make 50, then 80, 80 (short 20 each time)
    out = F.SNOP_BALANCE([[100, 100, 100]], 80, 50)
    assert out == [[50.0, 80.0, 80.0], [0.0, 0.0, 0.0], [0.0, 20.0, 20.0]]
    column = F.SNOP_BALANCE([[100], [100], [100]], [[80], [80], [80]], 50)
    assert column == [[50.0, 0.0, 0.0], [80.0, 0.0, 20.0], [80.0, 0.0, 20.0]]


PARAMS = [["start_inventory", 300], ["min_end_inventory", 100], ["start_workforce", 3], ["hours_per_unit", 4],
          ["regular_hours_per_worker", 160], ["max_overtime_hours_per_worker", 20], ["cost_material", 10],
          ["cost_holding", 2], ["cost_backlog", 5], ["cost_hire", 300], ["cost_layoff", 500],
          ["cost_regular_hour", 4], ["cost_overtime_hour", 6], ["cost_subcontract", 30], [None, None]]


def test_aggplan_table_is_consistent() -> None:
    rows = F.SNOP_AGGPLAN([A], PARAMS, "level")
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert header[:2] == ["period", "demand"] and len(body) == len(A) and total[0] == "total_cost"
    col = {h: i for i, h in enumerate(header)}
    inventory, backlog = 300.0, 0.0
    for r in body:  # every period balances: stock + production - demand = next stock - backlog
        net = inventory - backlog + r[col["production"]] - r[col["demand"]]
        assert net == pytest.approx(r[col["inventory"]] - r[col["backlog"]], abs=1e-6)
        inventory, backlog = r[col["inventory"]], r[col["backlog"]]
    assert body[-1][col["inventory"]] >= 100 - 1e-6
    assert F.SNOP_AGGPLAN([A], PARAMS, "optimal")[-1][1] <= total[1] + 1e-6
    assert F.SNOP_AGGPLAN([A], PARAMS[:3]).startswith("#SNOP! parameters: missing")
    assert "unknown name 'colour'" in F.SNOP_AGGPLAN([A], PARAMS + [["colour", 1]])


def test_variance_and_pvm() -> None:
    assert F.SNOP_VARIANCE([A], [FC]) == [[float(a - f) for a, f in zip(A, FC)]]
    assert F.SNOP_VARIANCE([A], [FC], "label")[0][:2] == ["F", "U"]
    aq, ap, bq, bp = [100, 80, 40], [10.5, 20, 31], [90, 100, 30], [10, 21, 30]
    header, values = F.SNOP_PVM([aq], [ap], [bq], [bp])
    effects = dict(zip(header, values))
    total = np.dot(aq, ap) - np.dot(bq, bp)
    assert effects["total"] == pytest.approx(total)
    assert effects["price"] == pytest.approx(np.dot(aq, np.subtract(ap, bp)))  # 100*0.5 - 80*1 + 40*1 = 10
    assert effects["price"] + effects["volume"] + effects["mix"] == pytest.approx(total)


BAD = st.sampled_from([None, "", "abc", "#N/A", "#DIV/0!", True])


def _calls(bad_range: list) -> list:
    good = [1.0] * len(bad_range[0])
    return [lambda: F.SNOP_FORECAST(bad_range, 3), lambda: F.SNOP_ACCURACY(bad_range, [good]),
            lambda: F.SNOP_SAFETY_STOCK(bad_range, 1, 0.9), lambda: F.SNOP_INVENTORY(0, bad_range, [good]),
            lambda: F.SNOP_BALANCE(bad_range, 10, 0), lambda: F.SNOP_AGGPLAN(bad_range, PARAMS),
            lambda: F.SNOP_VARIANCE([good], bad_range), lambda: F.SNOP_PVM(bad_range, [good], [good], [good]),
            lambda: F.SNOP_DAYS_OF_SUPPLY([good], bad_range)]


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 8), position=st.integers(1, 7), bad=BAD)
def test_bad_cells_give_a_message_never_an_exception(n: int, position: int, bad: object) -> None:
    values = [float(i + 1) for i in range(n)]
    values[min(position, n - 1)] = bad  # position 0 stays a number: leading blanks are legal in a history
    for call in _calls([values]):
        out = call()
        assert isinstance(out, str) and out.startswith("#SNOP! ") and "Traceback" not in out
        assert f"of {n}" in out or "ranges differ" in out or "value" in out


def test_scalar_arguments_are_checked() -> None:
    assert F.SNOP_FORECAST(ROW, 0) == "#SNOP! horizon is 0; expected at least 1"
    assert "expected one of auto" in F.SNOP_FORECAST(ROW, 3, "magic")
    assert "expected at least 0.5" in F.SNOP_SAFETY_STOCK(ROW, 1, 0.2)
    assert "one row or one column" in F.SNOP_INVENTORY(0, [[1, 2], [3, 4]], [[1, 2], [3, 4]])
    assert "ranges differ in length: supply 2, demand 3" in F.SNOP_INVENTORY(0, [[1, 2]], [[1, 2, 3]])


# ---- VBA wrappers ---------------------------------------------------------------------------------------------
def test_generated_vba_matches_committed_and_signatures() -> None:
    vba = udf_vba()
    committed = (SOURCES / "vba" / f"{UDF_VBA_NAME}.bas").read_bytes().decode("ascii")
    assert vba == committed, "run `snop-xl build-template` after changing udfs/functions.py"
    for func in F.FUNCTIONS:
        params = inspect.signature(func).parameters.values()
        args = ", ".join(("Optional " if p.default is not p.empty else "") + p.name for p in params)
        assert f"Function {func.__name__}({args})\r\n" in vba
        assert f'Application.MacroOptions Macro:="{func.__name__}"' in vba
    assert set(re.findall(r"^Function (SNOP_\w+)", vba, re.M)) == {f.__name__ for f in F.FUNCTIONS}


def test_decorator_mistake_is_caught_by_generation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from snop_xl.build import vba

    broken = tmp_path / "broken_udfs.py"
    broken.write_text("import xlwings as xw\n\n@xw.func\n@xw.arg('histroy', ndim=2)\n"
                      "def SNOP_X(history):\n    return 1\n\nFUNCTIONS = (SNOP_X,)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(vba, "UDF_MODULE", "broken_udfs")
    with pytest.raises(Exception, match="Invalid argument name 'histroy'"):
        vba.udf_vba()
