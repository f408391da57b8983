"""An output is a pure function of the inputs: the cycle run twice, in fresh processes with different string hash
seeds (set and dict orders of names differ between them), writes identical tables, cell by cell. The book has what
makes a plan fragile: minimum lots and lot multiples (the lot MILP), capacity below the peak (binding resources,
shadow prices, lost sales), a supplier, and scenarios (solved in parallel processes)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from snop_xl import contract as C
from snop_xl.io import open_book
from tests.conftest import ROOT, make_book

MONTHS = pd.period_range("2027-01", periods=9, freq="M")


def fragile_frames() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(11)
    names = [f"{f}-{n}" for f in ("P", "Q") for n in range(1, 5)]
    history = pd.period_range("2024-01", "2026-12", freq="M")
    hist = [(i, p, float(max(0, round(60 + 25 * np.cos(2 * np.pi * (p.month - 3 - k) / 12) + rng.normal(0, 8)))))
            for k, i in enumerate(names) for p in history]
    items = pd.DataFrame({"item": names, "description": "", "family": [n[0] for n in names],
                          "unit_price": [20.0, 35.5, 12.25, 50.0, 18.0, 27.0, 9.5, 44.0],
                          "unit_cost": [11.0, 20.1, 7.3, 31.0, 9.9, 15.0, 5.1, 25.0],
                          "lead_time": [0, 1, 0, 0, 1, 0, 0, 0],
                          "min_lot": [50.0, 0.0, 40.0, 0.0, 30.0, 0.0, 25.0, 0.0],
                          "lot_multiple": [10.0, 12.0, None, 7.0, None, 6.0, 5.0, None], "active": True})
    hours = [0.9, 1.3, 0.6, 1.7, 0.8, 1.1, 0.5, 1.6]
    bor = pd.DataFrame({"item": names * 2, "family": None, "resource": ["Line"] * 8 + ["Pack"] * 8,
                        "hours_per_unit": hours + [0.2] * 8})
    line = float(round(sum(hours) * 60 * 0.85))  # below the average load: the peak months lose sales
    capacity = pd.DataFrame([{"resource": r, "period": p, "available_hours": h, "overtime_hours": round(h * 0.05),
                              "regular_cost": 30.0, "overtime_cost": 45.0}
                             for r, h in (("Line", line), ("Pack", 110.0)) for p in MONTHS])
    return {
        "Items": items, "History": pd.DataFrame(hist, columns=["item", "period", "qty"]),
        "Inventory": pd.DataFrame({"item": names, "on_hand": [80.0, 0, 35, 120, 10, 0, 60, 5],
                                   "ss_policy": "service", "ss_value": None}),
        "Capacity": capacity, "BillOfResources": bor,
        "Suppliers": pd.DataFrame([{"item": "Q-2", "supplier": "S", "lead_time": 2, "fill_rate": 0.9,
                                    "max_per_period": 40.0}]),
        "Budget": pd.DataFrame({"family": "P", "item": None, "period": MONTHS, "units": 250.0,
                                "revenue": 7000.0}),
        "Scenarios": pd.DataFrame([
            {"scenario": "Up", "scope": "", "start": None, "end": None, "demand_factor": 1.15, "capacity_factor": 1.0,
             "supply_factor": 1.0, "price_factor": 1.0, "cost_factor": 1.0, "note": ""},
            {"scenario": "Outage", "scope": "Line", "start": MONTHS[2], "end": MONTHS[3], "demand_factor": 1.0,
             "capacity_factor": 0.4, "supply_factor": 1.0, "price_factor": 1.0, "cost_factor": 1.0, "note": ""},
            {"scenario": "Supplier", "scope": "S", "start": MONTHS[1], "end": MONTHS[4], "demand_factor": 1.0,
             "capacity_factor": 1.0, "supply_factor": 0.5, "price_factor": 1.0, "cost_factor": 1.0, "note": ""}]),
    }


def _run_fresh(book: Path, workdir: Path, seed: str) -> dict[str, pd.DataFrame]:
    """The CLI's `run` in a new process (string hash seed `seed`) on a copy of `book` at the same path each time."""
    workdir.mkdir(exist_ok=True)
    target = workdir / "book.xlsx"
    shutil.copy(book, target)
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "snop_xl.cli", "run", str(target)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    out = open_book(target)
    tables = {}
    for spec in C.TABLES.values():
        if spec.role is C.Role.OUTPUT and spec.name != "Log":
            frame, problems = out.read_table(spec)
            assert problems == [], problems
            tables[spec.name] = frame
    return tables


def test_cycle_twice_in_fresh_processes_writes_identical_tables(tmp_path: Path) -> None:
    book = make_book(tmp_path / "fragile.xlsx", fragile_frames(), {"horizon": len(MONTHS)})
    first = _run_fresh(book, tmp_path / "run", "1")
    supply = first["SupplyPlan"]
    # the book does what it is meant to: lots, a binding line, lost sales, purchases, every scenario solved
    assert (supply["shortage"] > 0).any() and (supply["purchases"] > 0).any()
    assert (first["CapacityPlan"]["binding"].notna()).any()
    assert len(first["ScenarioComparison"]) == 4
    p1 = supply.loc[supply["item"] == "P-1", "supply"]
    assert ((p1 == 0) | ((p1 >= 50) & (p1 % 10 == 0))).all()
    second = _run_fresh(book, tmp_path / "run", "2")
    for name, frame in first.items():
        pd.testing.assert_frame_equal(frame, second[name], check_exact=True, obj=name)
