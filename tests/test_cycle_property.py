"""The whole cycle as a new user drives it (`run` -> `publish` -> `kpis` -> `report` -> `export`) over books where
every optional input table is independently empty, tiny or large: never a traceback, exit 0 or 2, every refusal
naming its sheet and cell, and a refused command leaves the book byte for byte as it was (issue 12)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snop_xl.cli import main
from snop_xl.io import open_book
from tests.conftest import make_book

SIZES = ("empty", "tiny", "large")
OPTIONAL = ("Inventory", "Capacity", "Budget", "Events", "Overrides", "Orders", "Pipeline", "Suppliers",
            "AggregateParams", "Scenarios", "Decisions")
CYCLE = pd.Period("2027-01", "M")
HORIZON = 6
#: a refusal names where: Sheet!A1 (a quoted sheet name allowed) or a file's line
LOCATED = re.compile(r"(\b[A-Za-z]\w*!\$?[A-Z]{1,3}\$?\d+\b)|('[^']+'!\$?[A-Z]{1,3}\$?\d+)|(line \d+)")


def frames_for(sizes: dict[str, str], n_items: int, seed: int) -> dict[str, pd.DataFrame]:
    """Items and History always (a book needs them), each optional table at its size: empty (left out), tiny
    (one row) or large (a row per item and month where the table has months)."""
    rng = np.random.default_rng(seed)
    items = [f"I{k:03d}" for k in range(n_items)]
    fams = [f"Fam {k % 3}" for k in range(n_items)]
    months = pd.period_range(CYCLE - 24, CYCLE - 1, freq="M")
    plan = pd.period_range(CYCLE, periods=HORIZON, freq="M")
    hist = pd.DataFrame([(i, m, float(rng.poisson(40 + 10 * (k % 5)))) for k, i in enumerate(items)
                         for m in months], columns=["item", "period", "qty"])
    frames: dict[str, pd.DataFrame] = {
        "Items": pd.DataFrame({"item": items, "description": [f"Item {i}" for i in items], "family": fams,
                               "unit_price": rng.uniform(5, 50, n_items).round(2), "unit_cost": 3.0,
                               "lead_time": 0, "min_lot": 0.0, "active": True}),
        "History": hist,
    }
    pick = {"tiny": items[:1], "large": items}
    cycle_day = CYCLE.to_timestamp()

    def rows(name: str, size: str) -> pd.DataFrame | None:
        if size == "empty":
            return None
        its, ms = pick[size], (plan[:1] if size == "tiny" else plan)
        fam_list = sorted(set(fams)) if size == "large" else fams[:1]
        if name == "Inventory":
            return pd.DataFrame({"item": its, "on_hand": 50.0, "ss_policy": "cover", "ss_value": 1.0})
        if name == "Capacity":
            return pd.DataFrame([("Line", m, 40.0 * n_items, 10.0 * n_items, 20.0, 30.0) for m in ms],
                                columns=["resource", "period", "available_hours", "overtime_hours", "regular_cost",
                                         "overtime_cost"])
        if name == "Budget":
            return pd.DataFrame([(f, None, m, 100.0, 2000.0) for f in fam_list for m in ms],
                                columns=["family", "item", "period", "units", "revenue"])
        if name == "Events":
            return pd.DataFrame({"item": its, "family": None, "start": plan[1], "end": plan[2], "uplift_pct": 0.2,
                                 "uplift_qty": None, "owner": "Marketing", "note": "=> promo"})
        if name == "Overrides":
            return pd.DataFrame({"item": its, "family": None, "period": plan[0], "qty": 77.0, "owner": "Sales",
                                 "reason": "customer call"})
        if name == "Orders":
            return pd.DataFrame({"order_id": [f"SO{k}" for k in range(len(its))], "item": its, "customer": "ACME",
                                 "period": plan[0], "qty": 5.0})
        if name == "Pipeline":
            return pd.DataFrame({"opportunity": [f"OPP{k}" for k in range(len(its))], "item": its, "family": None,
                                 "qty": 30.0, "close_date": cycle_day + pd.Timedelta(days=40), "stage": "Proposal",
                                 "probability": 0.5, "owner": "Kim", "account": "ACME", "amount": None})
        if name == "Suppliers":
            return pd.DataFrame({"item": its, "supplier": "S1", "lead_time": 1, "fill_rate": 0.95,
                                 "max_per_period": None})
        if name == "AggregateParams":
            return pd.DataFrame({"family": fam_list, "start_workforce": 5.0, "hours_per_unit": 0.5,
                                 "regular_hours_per_worker": 160.0, "max_overtime_hours_per_worker": 20.0,
                                 "hire_cost": 500.0, "layoff_cost": 800.0, "regular_hour_cost": 20.0,
                                 "overtime_hour_cost": 30.0, "subcontract_cost": 40.0, "max_subcontract": None,
                                 "min_end_inventory": 0.0, "strategy": "optimal", "integer": True})
        if name == "Scenarios":
            n = 1 if size == "tiny" else 3
            return pd.DataFrame({"scenario": [f"Case {k}" for k in range(n)], "scope": None, "start": None,
                                 "end": None, "demand_factor": [1.1, 0.9, 1.0][:n], "capacity_factor": None,
                                 "supply_factor": None, "price_factor": None, "cost_factor": None, "note": None})
        if name == "Decisions":
            return pd.DataFrame({"date": [cycle_day], "decision": ["Add a shift"], "owner": ["COO"],
                                 "scenario": [None], "note": [None]})
        raise AssertionError(name)

    for name in OPTIONAL:
        frame = rows(name, sizes[name])
        if frame is not None:
            frames[name] = frame
    if "Capacity" in frames:  # the load of every item on the one resource
        frames["BillOfResources"] = pd.DataFrame({"item": [None] * len(set(fams)), "family": sorted(set(fams)),
                                                  "resource": "Line", "hours_per_unit": 0.5})
    return frames


def _command(args: list[str], book: Path, capsys: pytest.CaptureFixture) -> int:
    """One CLI command: exit 0 or 2 (a traceback fails the test by itself); a refusal leaves the book's bytes
    as they were and names a cell (or a file's line)."""
    before = book.read_bytes()
    code = main(args)
    said = capsys.readouterr()
    assert code in (0, 2), (args, code, said.err)
    if code == 2:
        assert book.read_bytes() == before, f"{args[0]} refused but changed the book"
        assert LOCATED.search(said.err) or "refus" in said.err or "stale" in said.err.lower(), said.err
    return code


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.fixed_dictionaries({name: st.sampled_from(SIZES) for name in OPTIONAL}),
       n_items=st.sampled_from([1, 4, 25]), seed=st.integers(0, 10))
def test_the_whole_cycle_never_crashes(tmp_path: Path, capsys: pytest.CaptureFixture, sizes: dict[str, str],
                                       n_items: int, seed: int) -> None:
    case = Path(tempfile.mkdtemp(dir=tmp_path))  # one folder per example (the fixture's is shared)
    book = make_book(case / "book.xlsx", frames_for(sizes, n_items, seed), {"horizon": HORIZON})
    ran = _command(["run", str(book)], book, capsys)
    if ran == 0:
        outputs = open_book(book)
        for table in ("DemandPlan", "SupplyPlan", "Financials", "Exceptions"):
            frame, problems = outputs.read_table(table)
            assert problems == [], (table, problems)
        demand, _ = outputs.read_table("DemandPlan")
        items = demand[demand["level"] == "Item"]
        assert set(items["item"]) == {f"I{k:03d}" for k in range(n_items)}
        assert (demand["consensus"] >= 0).all()
    _command(["publish", str(book), "--approver", "Ann"], book, capsys)
    _command(["kpis", str(book)], book, capsys)
    _command(["report", str(book), "-o", str(case / "pack.pdf")], book, capsys)
    _command(["export", str(book), "DemandPlan", "-o", str(case / "demand.csv")], book, capsys)
