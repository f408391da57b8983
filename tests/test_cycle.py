"""The five steps end to end, on a hand-made book whose answers are computed here, and on the demo book."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snop_xl.steps import kpis as kpi_step
from snop_xl import contract as C
from snop_xl.cli import main
from snop_xl.cycle import STEPS, run_book
from snop_xl.inputs import load_inputs
from snop_xl.io import open_book


def _read(path: Path, name: str) -> pd.DataFrame:
    frame, problems = open_book(path).read_table(name)
    assert problems == [], problems
    return frame.reset_index(drop=True)


def _input_cells(path: Path) -> dict[str, list]:
    wb = open_book(path).wb
    return {s: [[c.value for c in row] for row in wb[s].iter_rows()] for s in C.INPUT_SHEETS if s in wb.sheetnames}


def test_small_book_numbers_match_hand_computation(small_book: Path) -> None:
    """Flat history of 10 and 20 units, 15 in stock, ample capacity: every figure can be worked out by hand."""
    run_book(open_book(small_book))
    plan = _read(small_book, "DemandPlan")
    items = plan[plan["level"] == "Item"].set_index(["item", "period"])["consensus"]
    assert np.allclose(items.xs("A", level="item"), 10.0, atol=0.5)
    assert np.allclose(items.xs("B", level="item"), 20.0, atol=0.5)

    supply = _read(small_book, "SupplyPlan")
    assert supply["shortage"].fillna(0).sum() == pytest.approx(0, abs=1e-6)
    by_item = supply.groupby("item")[["supply", "demand"]].sum()
    # what must be supplied = demand over the horizon - opening stock + what is left at the end
    closing = supply.sort_values("period").groupby("item")["closing"].last()
    for item, opening in (("A", 15.0), ("B", 0.0)):
        assert by_item.loc[item, "supply"] == pytest.approx(by_item.loc[item, "demand"] - opening + closing[item],
                                                           abs=1e-6)

    capacity = _read(small_book, "CapacityPlan")
    assert capacity["required_hours"].sum() == pytest.approx(supply["supply"].sum(), rel=1e-9)  # 1 hour per unit

    fin = _read(small_book, "Financials")
    fin = fin[(fin["horizon"] == "Month") & (fin["level"] == "Family")]  # not the Total/YTD/Horizon rows
    sold = supply.assign(met=supply["demand"] - supply["shortage"].fillna(0))
    price = {"A": 10.0, "B": 5.0}
    cost = {"A": 6.0, "B": 2.0}
    assert fin["revenue"].sum() == pytest.approx(sum(sold["met"] * sold["item"].map(price)), rel=1e-9)
    assert fin["cogs"].sum() == pytest.approx(sum(sold["met"] * sold["item"].map(cost)), rel=1e-9)
    assert fin["budget_revenue"].sum() == pytest.approx(1200.0)
    assert fin["revenue_variance"].sum() == pytest.approx(fin["revenue"].sum() - 1200.0, rel=1e-9)
    # money in the currency of Settings (USD here), shown after each amount; quantities and percentages without it
    from openpyxl import load_workbook
    ws = load_workbook(small_book)["Financials"]
    formats = {ws.cell(1, c).value: ws.cell(2, c).number_format for c in range(1, ws.max_column + 1)}
    assert formats["Revenue"] == C.FINANCIALS.column("revenue").number_format + ' "USD"' and formats["Plan Units"] == C.FINANCIALS.column(
        "plan_units").number_format and formats["Revenue Variance %"] == "0.0%"

    version = _read(small_book, "PlanVersion")
    assert len(version) == 1 and str(version["version"].iloc[0]).startswith("2027-01")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory, demo_book: Path) -> tuple[Path, dict, dict]:
    path = tmp_path_factory.mktemp("run") / "demo.xlsx"
    shutil.copy(demo_book, path)
    before = _input_cells(path)
    results = run_book(open_book(path))
    return path, before, results


def test_demo_inputs_untouched_and_outputs_readable(demo_run: tuple[Path, dict, dict]) -> None:
    path, before, results = demo_run
    assert _input_cells(path) == before
    for name in (t for step in STEPS for t in step.produces):
        assert len(_read(path, name)) == max(len(results[name]), 0), name
    assert len(_read(path, "Log")) == 5  # one line per step


def test_demo_plan_is_coherent(demo_run: tuple[Path, dict, dict]) -> None:
    path, _, results = demo_run
    inputs = load_inputs(open_book(path))
    plan = results["DemandPlan"]
    items = plan[plan["level"] == "Item"]
    assert items["item"].nunique() == int(inputs.active_items["item"].nunique())
    assert (items["consensus"] >= 0).all()
    fam = items.groupby(["family", "period"])["consensus"].sum()
    fam_rows = plan[plan["level"] == "Family"].set_index(["family", "period"])["consensus"]
    pd.testing.assert_series_equal(fam.sort_index(), fam_rows.sort_index(), check_names=False, check_index_type=False)
    total_rows = plan[plan["level"] == "Total"].set_index("period")["consensus"]
    np.testing.assert_allclose(items.groupby("period")["consensus"].sum().sort_index(), total_rows.sort_index())

    supply = results["SupplyPlan"]
    met = supply["demand"] - supply["shortage"].fillna(0)
    np.testing.assert_allclose(supply["closing"], supply["opening"] + supply["supply"] - met, atol=1e-6)
    assert (supply["closing"] >= -1e-6).all()
    assert set(results["ScenarioComparison"]["scenario"]) >= {"Best case", "Worst case", "Supplier disruption"}


def test_running_twice_gives_identical_outputs(demo_run: tuple[Path, dict, dict]) -> None:
    path, _, results = demo_run
    again = run_book(open_book(path))
    for name, frame in results.items():
        if name in C.TABLES and name != "Log":
            pd.testing.assert_frame_equal(frame.reset_index(drop=True), again[name].reset_index(drop=True),
                                          obj=name)


def test_steps_can_run_alone_from_earlier_outputs(demo_run: tuple[Path, dict, dict], tmp_path: Path) -> None:
    path, _, results = demo_run
    copy = tmp_path / "copy.xlsx"
    shutil.copy(path, copy)
    again = run_book(open_book(copy), steps=["supply"])
    assert set(again) >= {"SupplyPlan", "CapacityPlan"}
    # step 2 alone plans against the DemandPlan read back from the sheet (its demand rounded to a millionth of a
    # unit, as in the full run): the same plan, exactly
    for name in ("SupplyPlan", "CapacityPlan", "AggregateCosts"):
        pd.testing.assert_frame_equal(again[name].reset_index(drop=True), results[name].reset_index(drop=True),
                                      check_exact=True, obj=name)


def test_cli_demo_writes_book_and_prints_path(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "cli_demo.xlsx"
    assert main(["demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out.resolve()) in printed and "demand:" in printed
    assert main(["run", str(out), "-o", str(tmp_path / "second.xlsx"), "--steps", "1"]) == 0
    assert (tmp_path / "second.xlsx").exists()


def test_demo_kpis_show_fva_per_owner_from_its_published_past_cycles(demo_book: Path) -> None:
    """The demo publishes six earlier cycles (demo.publish_past_cycles): the KPIs measure them against History."""
    from snop_xl import archive
    from snop_xl.commands.demo import PAST_CYCLES

    db = archive.default_path(demo_book)
    assert [v.cycle_month for v in archive.versions(db)] == list(pd.period_range(end="2026-11", periods=PAST_CYCLES,
                                                                                  freq="M"))
    kpis = kpi_step.published_kpis(load_inputs(open_book(demo_book)), db)
    fva = kpis[(kpis["basis"] == "published") & (kpis["metric"] == "FVA") & kpis["cycle"].isna()]
    steps = set(fva["step"])
    assert {"statistical", "events", "owner: Sales North", "owner: Marketing", "consensus"} <= steps

    def gain(step: str, level: str, name: str, lag: int) -> float:
        row = fva[(fva["step"] == step) & (fva["level"] == level) & (fva["name"] == name) & (fva["lag"] == lag)]
        assert len(row) == 1
        return float(row["value"].iloc[0])

    # Sales North knew its key accounts' orders (within 4%): it adds accuracy; Marketing's early Garden season did not
    assert gain("owner: Sales North", "Total", "Total", 1) > 0
    assert gain("owner: Marketing", "Family", "Garden", 2) < 0
    assert len(kpi_step.kpi_trend(kpis)) > 0
