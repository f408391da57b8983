"""Writing the review sheets (Demand, Supply, Financial, KPI) for N items x 18 months, as a ratio to writing the
long tables they show (DemandPlan, SupplyPlan, Financials, KPIs) in the same run (target: under 2x), headless
(openpyxl), each timed through save.

    .venv/bin/python benchmarks/review_bench.py [--items 2000] [--families 20]

The outputs come from the cycle's own steps (seasonal-naive forecasts, so the forecast is not what is timed) on a
synthetic book with 36 months of history, an override per family and no resources (the supply review's resource
blocks are a few rows per resource: the item blocks are what grows with the book).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from snop_xl.inputs import load_inputs, write_inputs
from snop_xl.io import OpenpyxlBook
from snop_xl.cycle import compute
from snop_xl.steps import grids


def synthetic_book(path: Path, n_items: int, n_families: int) -> Path:
    rng = np.random.default_rng(7)
    items = [f"SKU-{k:05d}" for k in range(n_items)]
    fams = [f"Family {k % n_families:02d}" for k in range(n_items)]
    months = pd.period_range("2023-12", periods=36, freq="M")
    hist = pd.DataFrame([(i, m, float(rng.poisson(100))) for i in items for m in months],
                        columns=["item", "period", "qty"])
    frames = {
        "Items": pd.DataFrame({"item": items, "description": [f"Item {i}" for i in items], "family": fams,
                               "unit_price": 10.0, "unit_cost": 6.0, "lead_time": 0, "min_lot": 0.0, "active": True}),
        "History": hist,
        "Overrides": pd.DataFrame({"item": items[:n_families], "family": None, "period": pd.Period("2027-02", "M"),
                                   "qty": 500.0, "owner": "Sales", "reason": "bench"}),
    }
    book = OpenpyxlBook.new(path)
    write_inputs(book, frames, {"cycle_month": pd.Period("2026-12", "M"), "horizon": 18,
                                "default_method": "seasonal_naive", "contributors": "Sales, Marketing"})
    return book.save()


def timed(path: Path, write) -> float:
    book = OpenpyxlBook(path)
    started = time.perf_counter()
    write(book)
    book.save()
    return time.perf_counter() - started


#: each review sheet and the long table it shows
SHOWS = {"DemandReview": "DemandPlan", "SupplyReview": "SupplyPlan", "FinancialReview": "Financials",
         "KPIReview": "KPIs"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--families", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = synthetic_book(Path(tmp) / "bench.xlsx", args.items, args.families)
        inputs = load_inputs(OpenpyxlBook(path))
        out = compute(inputs)
        made = {g.sheet: g for g in grids.review_grids(inputs, out, set(out))}
        floor = timed(path, lambda b: None)  # load + save of the book as it is: the openpyxl floor
        rows = []
        for sheet, table in SHOWS.items():
            long = timed(path, lambda b: b.write_table(table, out[table]))
            review = timed(path, lambda b: b.write_grid(made[sheet]))
            rows.append((sheet, len(made[sheet].rows), review, table, len(out[table]), long))
        everything_long = timed(path, lambda b: [b.write_table(t, out[t]) for t in SHOWS.values()])
        everything_review = timed(path, lambda b: [b.write_grid(g) for g in made.values()])
    print(f"{args.items} items x 18 months, each written + saved (save floor {floor:.1f}s):")
    for sheet, n_grid, review, table, n_table, long in rows:
        print(f"  {sheet:<16} {n_grid:>7,} rows {review:6.1f}s   {table:<11} {n_table:>7,} rows {long:6.1f}s   "
              f"ratio {review / long:.2f}x")
    print(f"all four review sheets {everything_review:.1f}s / their long tables {everything_long:.1f}s = "
          f"{everything_review / everything_long:.2f}x (target < 2x); above the floor: "
          f"{(everything_review - floor) / max(everything_long - floor, 1e-9):.2f}x")


if __name__ == "__main__":
    main()
