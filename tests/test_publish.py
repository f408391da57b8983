"""Step 5: publish to the archive, KPIs of published plans against later actuals (by hand), plan diff, CLI."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from snop_xl import archive, publish
from snop_xl import contract as C
from snop_xl.cli import main
from snop_xl.errors import SnopError
from snop_xl.inputs import load_inputs
from snop_xl.io import open_book

from .conftest import make_book, small_frames

P = lambda s: pd.Period(s, "M")  # noqa: E731


def _outputs(periods: pd.PeriodIndex, a_stat: float, a_cons: float, opening: dict[str, float]) -> dict:
    """Hand-made step 1-4 outputs: A has an override (a_cons), B is planned flat at 20."""
    demand, supply, fin = [], [], []
    for p in periods:
        for item, stat, cons in (("A", a_stat, a_cons), ("B", 20.0, 20.0)):
            demand.append(dict(level="Item", family="F", item=item, period=p, statistical=stat, events=0.0,
                               override=cons if cons != stat else None, consensus=cons, method="naive"))
            supply.append(dict(item=item, family="F", period=p, demand=cons, opening=opening[item] if p == periods[0]
                               else 0.0, supply=cons, closing=0.0, safety_stock=0.0, shortage=0.0,
                               days_of_supply=0.0))
        fin.append(dict(horizon="Month", level="Family", family="F", period=p, plan_units=a_cons + 20, revenue=10 * a_cons + 100, cogs=0.0,
                        margin=4 * a_cons + 60, inventory_value=0.0, budget_units=None, budget_revenue=None,
                        units_variance=None, revenue_variance=None, revenue_variance_pct=None))
    return {"DemandPlan": pd.DataFrame(demand), "SupplyPlan": pd.DataFrame(supply), "Financials": pd.DataFrame(fin)}


def _ran_book(path: Path, frames: dict, settings: dict, a_stat: float, a_cons: float) -> Path:
    """A book whose cycle has 'run': inputs, step 1-4 outputs and step 5's draft PlanVersion/KPIs written."""
    make_book(path, frames, settings)
    book = open_book(path)
    inputs = load_inputs(book)
    outs = _outputs(inputs.settings.periods, a_stat, a_cons, inputs.inventory.set_index("item")["on_hand"])
    outs.update(publish.run(inputs, outs))
    for name, frame in outs.items():
        book.write_table(C.table(name), frame)
    book.save()
    return path


def _second_cycle_frames() -> dict:
    """Two months later: January and February 2027 actuals are in History, stock was counted again."""
    frames = small_frames()
    extra = [("A", P("2027-01"), 11.0), ("A", P("2027-02"), 14.0), ("B", P("2027-01"), 20.0), ("B", P("2027-02"), 18.0)]
    frames["History"] = pd.concat([frames["History"], pd.DataFrame(extra, columns=["item", "period", "qty"])],
                                  ignore_index=True)
    frames["Inventory"] = frames["Inventory"].assign(on_hand=[20.0, 5.0])
    frames["Capacity"] = frames["Capacity"].assign(period=pd.period_range("2027-03", periods=6, freq="M"))
    frames["Budget"] = frames["Budget"].assign(period=pd.period_range("2027-03", periods=6, freq="M"))
    return frames


def _kpi(kpis: pd.DataFrame, **where) -> float:
    rows = kpis
    for k, v in where.items():
        rows = rows[rows[k].isna()] if v is None else rows[rows[k] == v]
    assert len(rows) == 1, (where, rows)
    return float(rows["value"].iloc[0])


@pytest.fixture(scope="module")
def cycles(tmp_path_factory):
    """Cycle 2027-01 published twice, then cycle 2027-03 run against the same archive (tests only add to it)."""
    tmp_path = tmp_path_factory.mktemp("cycles")
    db = tmp_path / "plans.sqlite"
    frames = small_frames()
    frames["Overrides"] = pd.DataFrame({
        "item": ["A", "A", "A"], "family": [None] * 3, "period": [P("2027-01"), P("2027-02"), P("2027-02")],
        "qty": [12.0, 12.0, 13.0], "owner": ["Sales", "Sales", "Marketing"], "reason": [""] * 3})
    first = _ran_book(tmp_path / "jan.xlsx", frames, {"archive_path": str(db), "approver": "Ann"},
                      a_stat=10.0, a_cons=12.0)
    v1 = publish.publish_book(first)
    v2 = publish.publish_book(first, approver="Bob")
    second = _ran_book(tmp_path / "mar.xlsx", _second_cycle_frames(),
                       {"cycle_month": P("2027-03"), "archive_path": str(db)}, a_stat=15.0, a_cons=15.0)
    return db, first, second, v1, v2


def test_publish_twice_gives_revisions_and_stamps_the_book(cycles):
    db, first, _, v1, v2 = cycles
    assert (v1.version, v2.version) == ("2027-01-r1", "2027-01-r2")
    assert (v1.approver, v2.approver) == ("Ann", "Bob")
    assert v1.content_hash == v2.content_hash == load_inputs(open_book(first)).content_hash()
    _, frames = archive.load(db, v2.version)
    assert {"DemandPlan", "SupplyPlan", "Financials", "Overrides", "Decisions", "Inventory"} <= set(frames)
    assert frames["DemandPlan"]["consensus"].sum() == pytest.approx((12 + 20) * 6)
    version, problems = open_book(first).read_table(C.PLAN_VERSION)
    assert not problems
    assert version[["version", "status", "approver"]].iloc[0].tolist() == ["2027-01-r2", "Published", "Bob"]
    wb = openpyxl.load_workbook(first)
    assert wb["DemandPlan"].protection.sheet and "2027-01-r2" in wb["DemandPlan"].oddHeader.center.text
    assert not wb["Items"].protection.sheet  # input sheets stay the planners'


def test_plain_run_never_writes_the_archive(cycles):
    db, first, _, _, v2 = cycles
    inputs = load_inputs(open_book(first))
    before = len(archive.versions(db))
    out = publish.run(inputs, _outputs(inputs.settings.periods, 10.0, 12.0, {"A": 15.0, "B": 0.0}))
    assert len(archive.versions(db)) == before
    assert out["PlanVersion"][["version", "status"]].iloc[0].tolist() == [v2.version, "Published"]  # same inputs
    changed = inputs.replace(settings=inputs.settings.__class__(**{**inputs.settings.__dict__, "horizon": 5}))
    draft = publish.run(changed, {})["PlanVersion"].iloc[0]
    assert draft["status"] == "Draft" and draft["version"] == f"2027-01-draft-{changed.content_hash()[:8]}"


def test_published_accuracy_fva_and_adherence_by_hand(cycles):
    db, _, second, _, _ = cycles
    kpis, problems = open_book(second).read_table(C.KPIS)
    assert not problems
    pub = kpis[(kpis["basis"] == "published") & kpis["cycle"].isna()]
    # lag 1 = January 2027: A 11 sold vs consensus 12, B 20 vs 20
    assert _kpi(pub, level="Total", metric="ACCURACY", step="consensus", lag=1) == pytest.approx(1 - 1 / 31)
    assert _kpi(pub, level="Total", metric="BIAS", step="consensus", lag=1) == pytest.approx(1 / 31)
    assert _kpi(pub, level="Item", name="A", metric="MAPE", step="consensus", lag=2) == pytest.approx(2 / 14)
    assert _kpi(pub, level="Total", metric="WAPE", step="statistical", lag=2) == pytest.approx(6 / 32)
    # FVA at lag 2: statistical misses 4 + 2 units, consensus 2 + 2, on 32 sold; events add nothing
    assert _kpi(pub, level="Total", metric="FVA", step="consensus", lag=2) == pytest.approx(2 / 32)
    assert _kpi(pub, level="Total", metric="FVA", step="events", lag=2) == pytest.approx(0)
    # seasonal naive for Feb 2027 = Feb 2026 actuals (10, 20) = the statistical forecast here
    assert _kpi(pub, level="Total", metric="FVA", step="statistical", lag=2) == pytest.approx(0)
    # per owner, replayed with demand.apply_overrides: Feb A goes 10 -> 12 (Sales) -> 13 (Marketing); actual 14
    assert _kpi(pub, level="Total", metric="FVA", step="owner: Sales", lag=2) == pytest.approx(2 / 32)
    assert _kpi(pub, level="Total", metric="FVA", step="owner: Marketing", lag=2) == pytest.approx(1 / 32)
    assert _kpi(pub, level="Total", metric="FVA", step="owner: Sales", lag=1) == pytest.approx(0)  # 10 -> 12 vs 11
    trend = kpis[(kpis["basis"] == "published") & (kpis["cycle"] == P("2027-01"))]
    assert _kpi(trend, level="Total", metric="ACCURACY", step="consensus", lag=1) == pytest.approx(30 / 31)
    # supply arrived Jan-Feb = stock Mar - stock Jan + sold: A 20 - 15 + 25 = 30, B 5 - 0 + 38 = 43 vs plan 24, 40
    assert _kpi(kpis, level="Total", metric="PLAN_ADHERENCE", cycle=None) == pytest.approx(1 - 9 / 64)
    assert _kpi(kpis, level="Item", name="A", metric="PLAN_ADHERENCE", cycle=None) == pytest.approx(1 - 6 / 24)


def test_current_plan_kpis_by_hand(cycles):
    _, first, _, _, _ = cycles
    kpis, _ = open_book(first).read_table(C.KPIS)
    plan = kpis[kpis["basis"] == "plan"]
    assert _kpi(plan, level="Total", metric="FILL_RATE") == pytest.approx(1.0)
    # A: 15 on hand vs 12 a month -> 30 days + 3/12 of a month; B none; total 15 vs 32 a month
    assert _kpi(plan, level="Item", name="A", metric="DAYS_OF_SUPPLY") == pytest.approx(30 + 30 * 3 / 12)
    assert _kpi(plan, level="Total", metric="DAYS_OF_SUPPLY") == pytest.approx(30 * 15 / 32)
    back = kpis[kpis["basis"] == "backtest"]
    assert _kpi(back, level="Total", metric="ACCURACY", step="naive", lag=1) == pytest.approx(1.0)  # flat history


def test_plan_diff_between_cycles(cycles):
    db, _, second, v1, v2 = cycles
    v3 = publish.publish_book(second, approver="Cy")
    diff = publish.diff_versions(db, v2.version, v3.version)
    demand = diff[diff["measure"] == "demand"].set_index("family")
    # months both plan: March-June 2027; A goes 12 -> 15 a month
    assert demand.loc["F", ["from_value", "to_value", "change"]].tolist() == [128.0, 140.0, 12.0]
    assert demand.loc["Total", "rank"] == 0 and demand.loc["F", "rank"] == 1
    revenue = diff[diff["measure"] == "revenue"].set_index("family")
    assert revenue.loc["F", "change"] == pytest.approx(4 * 10 * 3)
    assert publish.diff_versions(db, v1.version, v2.version)["change"].abs().sum() == 0


def test_publish_refuses_stale_or_unapproved_plans(tmp_path):
    path = make_book(tmp_path / "b.xlsx", small_frames())
    with pytest.raises(SnopError, match="DemandPlan is empty"):
        publish.publish_book(path)
    _ran_book(path, small_frames(), {"currency": "EUR"}, 10.0, 10.0)  # outputs of other inputs
    book = open_book(path)
    book.write_table(C.PLAN_VERSION, publish.plan_version_frame(load_inputs(book), "x" * 64, None, None))
    book.save()
    with pytest.raises(SnopError, match="inputs changed"):
        publish.publish_book(path)
    _ran_book(path, small_frames(), {}, 10.0, 10.0)
    with pytest.raises(SnopError, match="Approver"):
        publish.publish_book(path)
    assert not (tmp_path / "b.snop.sqlite").exists()


def test_cli_publish_kpis_diff(tmp_path, capsys):
    path = _ran_book(tmp_path / "c.xlsx", small_frames(), {"approver": "Dee"}, 10.0, 12.0)
    assert main(["publish", str(path)]) == 0
    assert main(["publish", str(path), "--approver", "Eve"]) == 0
    assert (tmp_path / "c.snop.sqlite").exists()
    out = capsys.readouterr().out
    assert "published 2027-01-r1" in out and "published 2027-01-r2" in out
    assert main(["kpis", str(path), "--versions"]) == 0
    assert "2027-01-r2" in capsys.readouterr().out
    assert main(["kpis", str(path), "--level", "Total", "--metric", "FILL_RATE"]) == 0
    assert "FILL_RATE" in capsys.readouterr().out
    assert main(["diff", str(path), "--from", "2027-01-r1", "--sheet"]) == 0
    diff, problems = open_book(path).read_table(C.PLAN_DIFF)
    assert not problems and set(diff["to_version"]) == {"2027-01-r2"}
    assert main(["diff", str(path), "--from", "nope"]) == 1
