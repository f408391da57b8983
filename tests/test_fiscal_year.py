"""Financials over the whole fiscal year: actuals vs budget for past months, year to date, full-year outlook.

The hand-made book: cycle month 2027-04, fiscal year = calendar year, horizon April to December 2027.
Items A (family F, price 10, cost 6), B (F, price 5, cost 2), C (G, price 50, cost 30).
Actuals (History) January to March 2027: A 8, 9, 10; B 22, 24, 20; C 5, 6, 3.
Plan April to December: A sells 12 a month, B 25, C 4 (in December one of C's 4 is short, so 3 are sold);
A closes every month with 3 units in stock, B and C with none.
Budget for every month of 2027: A 10 units for 100, B 20 units for 110 (item level), G 5 units for 240 (family).
Every expected number below is worked out here by hand, not by snop_xl.calc.finance.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snop_xl import contract as C
from snop_xl.calc import finance
from snop_xl.steps import review
from snop_xl.commands.import_budget import import_budget
from snop_xl.cli import main as cli
from snop_xl.errors import ValidationError
from snop_xl.inputs import load_inputs
from snop_xl.io import OpenpyxlBook, open_book
from tests.conftest import make_book
from tests.test_budget_import import digest, write_csv

P = lambda s: pd.Period(s, "M")  # noqa: E731
ROOT = Path(__file__).resolve().parents[1]
PRICE = {"A": 10.0, "B": 5.0, "C": 50.0}
COST = {"A": 6.0, "B": 2.0, "C": 30.0}
FAMILY = {"A": "F", "B": "F", "C": "G"}
ACTUAL = {"A": [8, 9, 10], "B": [22, 24, 20], "C": [5, 6, 3]}
PLAN_MONTHS = pd.period_range("2027-04", "2027-12", freq="M")
YEAR = pd.period_range("2027-01", "2027-12", freq="M")
BUDGET = {("F", "A"): (10.0, 100.0), ("F", "B"): (20.0, 110.0), ("G", None): (5.0, 240.0)}


def sold(item: str, month: pd.Period) -> float:
    """Units sold by hand: actuals before April, the plan's demand met from April."""
    if month < P("2027-04"):
        return float(ACTUAL[item][month.month - 1])
    return {"A": 12.0, "B": 25.0, "C": 3.0 if month == P("2027-12") else 4.0}[item]


def pvm(lines: list[tuple[float, float, float, float]]) -> tuple[float, float, float]:
    """Price, volume, mix of (actual qty, actual price, budget qty, budget price) lines, as docs/finance.md says."""
    bq = sum(line[2] for line in lines)
    bap = sum(line[2] * line[3] for line in lines) / bq
    aq = sum(line[0] for line in lines)
    price = sum(q * (ap - bp) for q, ap, _, bp in lines)
    return price, (aq - bq) * bap, sum(q * bp for q, _, _, bp in lines) - aq * bap


def family_lines(family: str, month: pd.Period) -> list[tuple[float, float, float, float]]:
    """The mix lines of a family in a month: items where the budget is by item, else the family as one line."""
    if family == "F":
        return [(sold(i, month), PRICE[i], BUDGET[("F", i)][0], BUDGET[("F", i)][1] / BUDGET[("F", i)][0])
                for i in ("A", "B")]
    return [(sold("C", month), PRICE["C"], 5.0, 48.0)]


def family_money(family: str, month: pd.Period) -> dict[str, float]:
    items = [i for i in FAMILY if FAMILY[i] == family]
    units = sum(sold(i, month) for i in items)
    revenue = sum(sold(i, month) * PRICE[i] for i in items)
    cogs = sum(sold(i, month) * COST[i] for i in items)
    budget_units = 30.0 if family == "F" else 5.0
    budget_revenue = 210.0 if family == "F" else 240.0
    return {"plan_units": units, "revenue": revenue, "cogs": cogs, "margin": revenue - cogs,
            "budget_units": budget_units, "budget_revenue": budget_revenue}


def hand_row(family: str, months) -> dict[str, float]:
    """Sums over `months` for a family (or Total); effects summed month by month."""
    out: dict[str, float] = {}
    for m in months:
        fams = ("F", "G") if family == "Total" else (family,)
        money = [family_money(f, m) for f in fams]
        for k in money[0]:
            out[k] = out.get(k, 0.0) + sum(x[k] for x in money)
        if family == "Total":  # the families are the lines of the month's mix
            lines = [(x["plan_units"], x["revenue"] / x["plan_units"], x["budget_units"],
                      x["budget_revenue"] / x["budget_units"]) for x in money]
        else:
            lines = family_lines(family, m)
        for k, v in zip(("price_effect", "volume_effect", "mix_effect"), pvm(lines)):
            out[k] = out.get(k, 0.0) + v
    out["units_variance"] = out["plan_units"] - out["budget_units"]
    out["revenue_variance"] = out["revenue"] - out["budget_revenue"]
    v = out["revenue_variance"]
    out["favourable"] = "F" if v > 1e-9 else "U" if v < -1e-9 else ""
    return out


def frames() -> dict[str, pd.DataFrame]:
    hist = [(i, m, 10.0) for i in FAMILY for m in pd.period_range("2026-01", "2026-12", freq="M")]
    hist += [(i, P(f"2027-0{k + 1}"), float(q)) for i, qs in ACTUAL.items() for k, q in enumerate(qs)]
    budget = [(f, i, m, u, r) for (f, i), (u, r) in BUDGET.items() for m in YEAR]
    return {
        "Items": pd.DataFrame({"item": list(FAMILY), "description": "", "family": list(FAMILY.values()),
                               "unit_price": list(PRICE.values()), "unit_cost": list(COST.values()),
                               "lead_time": 0, "min_lot": 0.0, "active": True}),
        "History": pd.DataFrame(hist, columns=["item", "period", "qty"]),
        "Inventory": pd.DataFrame({"item": list(FAMILY), "on_hand": 0.0, "ss_policy": "fixed", "ss_value": 0.0}),
        "Capacity": pd.DataFrame({"resource": "Line", "period": PLAN_MONTHS, "available_hours": 1000.0,
                                  "overtime_hours": 0.0, "regular_cost": 0.0, "overtime_cost": 0.0}),
        "BillOfResources": pd.DataFrame({"item": [None], "family": ["F"], "resource": ["Line"],
                                         "hours_per_unit": [1.0]}),
        "Budget": pd.DataFrame(budget, columns=["family", "item", "period", "units", "revenue"]),
    }


SETTINGS = {"cycle_month": P("2027-04"), "horizon": 9, "fiscal_year_start": 1}


def plan_frames() -> dict[str, pd.DataFrame]:
    supply, demand = [], []
    for m in PLAN_MONTHS:
        for i in FAMILY:
            d = 4.0 if i == "C" else sold(i, m)
            supply.append({"item": i, "family": FAMILY[i], "period": m, "demand": d, "opening": 0.0,
                           "supply": d, "closing": 3.0 if i == "A" else 0.0, "safety_stock": 0.0,
                           "shortage": d - sold(i, m), "days_of_supply": np.nan})
            demand.append({"level": "Item", "family": FAMILY[i], "item": i, "period": m, "statistical": d,
                           "consensus": d})
    return {"SupplyPlan": pd.DataFrame(supply), "DemandPlan": pd.DataFrame(demand)}


@pytest.fixture
def book(tmp_path: Path) -> Path:
    return make_book(tmp_path / "fy.xlsx", frames(), SETTINGS)


def test_fiscal_year_and_budget_months() -> None:
    assert list(finance.fiscal_year(P("2027-04"))) == list(YEAR)
    assert finance.fiscal_year(P("2027-02"), 4)[0] == P("2026-04")  # April-to-March year, cycle in February
    assert finance.fiscal_year(P("2027-04"), 4)[[0, -1]].tolist() == [P("2027-04"), P("2028-03")]
    assert finance.fiscal_year(P("2027-12"), 12)[0] == P("2027-12")


def test_whole_fiscal_year_budget_is_valid_and_months_outside_are_refused(book: Path) -> None:
    inputs = load_inputs(open_book(book))  # January to March are before the cycle month: accepted now
    assert inputs.settings.budget_months[[0, -1]].tolist() == [P("2027-01"), P("2027-12")]
    ob = open_book(book)
    ws = ob.wb["Budget"]
    ws["C2"], ws["C3"] = pd.Timestamp("2026-12-01").to_pydatetime(), pd.Timestamp("2028-01-01").to_pydatetime()
    ob.save()
    with pytest.raises(ValidationError) as err:
        load_inputs(open_book(book))
    got = {p.location: p for p in err.value.problems}
    assert set(got) == {"Budget!C2", "Budget!C3"}, got
    assert "outside the fiscal year and plan horizon" in got["Budget!C2"].message
    assert got["Budget!C2"].value == "2026-12" and "from 2027-01" in got["Budget!C2"].expected


def test_fiscal_year_starting_in_april_moves_the_window(tmp_path: Path) -> None:
    f = frames()
    f["Budget"] = f["Budget"][f["Budget"]["period"] >= P("2027-04")]  # April is the year's first month
    ok = make_book(tmp_path / "apr.xlsx", f, {**SETTINGS, "fiscal_year_start": 4})
    assert load_inputs(open_book(ok)).settings.budget_months[0] == P("2027-04")
    bad = make_book(tmp_path / "bad.xlsx", frames(), {**SETTINGS, "fiscal_year_start": 4})
    with pytest.raises(ValidationError) as err:
        load_inputs(open_book(bad))
    assert {p.value for p in err.value.problems} == {"2027-01", "2027-02", "2027-03"}


def test_budgeted_past_months_need_history_columns(tmp_path: Path) -> None:
    """A budgeted month before the cycle month without a History column would count 0 actuals in YTD and the
    outlook: refused, at the History header cell where its column belongs, naming the Budget cell that needs it."""
    f = frames()
    f["History"] = f["History"][f["History"]["period"] != P("2027-03")]  # History not updated for March
    with pytest.raises(ValidationError) as err:
        load_inputs(open_book(make_book(tmp_path / "no_march.xlsx", f, SETTINGS)))
    (p,) = err.value.problems
    # Item in A, 2026-01 to 2027-02 in B to O: March goes in P
    assert p.location == "History!P1" and "2027-03" in p.message
    assert "headed 2027-03" in p.expected and "Budget!C4" in p.expected  # Budget rows: A Jan, A Feb, A Mar, ...
    f = frames()
    f["History"] = f["History"][f["History"]["period"] != P("2027-02")]  # a month missing in the middle
    with pytest.raises(ValidationError) as err:
        load_inputs(open_book(make_book(tmp_path / "no_feb.xlsx", f, SETTINGS)))
    assert [(p.location, "2027-02" in p.message) for p in err.value.problems] == [("History!O1", True)]  # March's
    f["Budget"] = f["Budget"][f["Budget"]["period"] != P("2027-02")]  # no budget for February: nothing to compare
    load_inputs(open_book(make_book(tmp_path / "no_feb_budget.xlsx", f, SETTINGS)))


def test_a_blank_history_month_is_zero_actuals(book: Path) -> None:
    """March's column is there but blank for every item: valid, and March's actuals are 0 units sold."""
    ob = open_book(book)
    ws = ob.wb["History"]
    assert ws["P1"].value in ("2027-03", P("2027-03").to_timestamp().to_pydatetime())
    for row in (2, 3, 4):
        ws[f"P{row}"] = None
    ob.save()
    fin = review.run(load_inputs(open_book(book)), plan_frames())["Financials"]
    ytd = fin[(fin.horizon == "YTD") & (fin.family == "F")].iloc[0]
    assert ytd["plan_units"] == 93 - 30 and ytd["revenue"] == 600 - 200  # March's A 10 and B 20 gone
    march = fin[(fin.horizon == "Month") & (fin.family == "F") & (fin.period == P("2027-03"))].iloc[0]
    assert march["revenue_variance"] == -210 and march["budget_revenue"] == 210


def _fin(book: Path) -> tuple[pd.DataFrame, pd.Series]:
    out = review.run(load_inputs(open_book(book)), plan_frames())
    assert list(out["Financials"].columns) == C.FINANCIALS.keys
    return out["Financials"], out["Dashboard"].set_index("metric")["value"]


def _check(row: pd.Series, want: dict[str, float]) -> None:
    for k, v in want.items():
        if k == "favourable":
            assert row[k] == v, (k, row[k], v)
        else:
            assert row[k] == pytest.approx(v, abs=1e-9), (k, row[k], v)


def test_actual_months_against_budget_by_hand(book: Path) -> None:
    fin, _ = _fin(book)
    months = fin[fin.horizon == "Month"]
    assert sorted(months.loc[months.basis == "Actual", "period"].unique()) == list(YEAR[:3])
    assert sorted(months.loc[months.basis == "Plan", "period"].unique()) == list(PLAN_MONTHS)
    for m in YEAR:
        for family in ("F", "G", "Total"):
            row = months[(months.family == family) & (months.period == m)].iloc[0]
            _check(row, hand_row(family, [m]))
            if m < P("2027-04"):
                assert pd.isna(row["inventory_value"])  # stock of past months is not in the book
    # January F by hand: A 8 @ 10 + B 22 @ 5 = 190 for 30 units vs budget 30 units for 210 (A 10 @ 10, B 20 @ 5.5)
    jan = months[(months.family == "F") & (months.period == P("2027-01"))].iloc[0]
    assert (jan["revenue"], jan["cogs"], jan["revenue_variance"]) == (190, 8 * 6 + 22 * 2, -20)
    assert (jan["price_effect"], jan["volume_effect"], jan["mix_effect"]) == pytest.approx((-11, 0, -9))


def test_ytd_outlook_and_horizon_by_hand(book: Path) -> None:
    fin, dash = _fin(book)
    spans = {"YTD": (YEAR[:3], "Actual"), "Outlook": (YEAR, "Actual + plan"), "Horizon": (PLAN_MONTHS, "Plan")}
    for label, (months, basis) in spans.items():
        for family in ("F", "G", "Total"):
            row = fin[(fin.horizon == label) & (fin.family == family)].iloc[0]
            assert row["basis"] == basis and row["period"] == months[-1]
            _check(row, hand_row(family, months))
            assert row["price_effect"] + row["volume_effect"] + row["mix_effect"] == pytest.approx(
                row["revenue_variance"])
            stock = np.nan if label == "YTD" else (18.0 if family != "G" else 0.0)  # A's 3 units at cost 6
            assert row["inventory_value"] == pytest.approx(stock, nan_ok=True)
    # the outlook in plain numbers: F 93 + 9 x 37 units, 600 + 9 x 245 revenue vs 12 x (30 units, 210)
    f = fin[(fin.horizon == "Outlook") & (fin.family == "F")].iloc[0]
    assert (f["plan_units"], f["revenue"], f["budget_units"], f["budget_revenue"]) == (426, 2805, 360, 2520)
    assert (f["units_variance"], f["revenue_variance"], f["favourable"]) == (66, 285, "F")
    t = fin[(fin.horizon == "Outlook") & (fin.family == "Total")].iloc[0]
    assert (t["plan_units"], t["revenue"], t["budget_revenue"], t["favourable"]) == (475, 5255, 5400, "U")
    # the Dashboard headline repeats the Total's outlook
    assert dash["Full-year outlook revenue (2027-01 to 2027-12)"] == 5255
    assert dash["Full-year budget revenue"] == 5400 and dash["Outlook vs budget revenue"] == -145
    assert dash["Full-year outlook units (2027-01 to 2027-12)"] == 475
    assert dash["Full-year budget units"] == 420 and dash["Outlook vs budget units"] == 55
    # plan-only figures keep their meaning: the horizon's revenue is the plan's
    assert dash["Plan revenue"] == sum(sold(i, m) * PRICE[i] for i in FAMILY for m in PLAN_MONTHS)


def test_docs_worked_example_matches_hand_and_engine(book: Path) -> None:
    """docs/finance.md's worked example table is this book's Outlook rows."""
    text = (ROOT / "docs" / "finance.md").read_text()
    table = text[text.index("<!-- worked-example -->"):text.index("<!-- /worked-example -->")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()
            if line.startswith("|") and not set(line) <= set("|- ")]
    header, body = rows[0], rows[1:]
    fin, _ = _fin(book)
    keys = {"Units": "plan_units", "Revenue": "revenue", "Budget units": "budget_units",
            "Budget revenue": "budget_revenue", "Variance": "revenue_variance", "Price": "price_effect",
            "Volume": "volume_effect", "Mix": "mix_effect", "F/U": "favourable"}
    assert len(body) == 9
    for cells in body:
        label, family = cells[0].split()
        hand = hand_row(family, {"YTD": YEAR[:3], "Outlook": YEAR, "Horizon": PLAN_MONTHS}[label])
        row = fin[(fin.horizon == label) & (fin.family == family)].iloc[0]
        for name, cell in zip(header[1:], cells[1:]):
            k = keys[name]
            if k == "favourable":
                assert cell == hand[k] == row[k]
                continue
            value = float(re.sub(r"[,+]", "", cell))
            assert value == pytest.approx(hand[k], abs=0.01) and value == pytest.approx(row[k], abs=0.01), \
                (label, family, name)


# ---- exceptions: the full-year outlook below budget -------------------------------------------------------------
def test_outlook_below_budget_exception_by_hand(book: Path, tmp_path: Path) -> None:
    """G's outlook is 430 below its fiscal-year budget (YTD -20 + plan -410), F's above: one Outlook below budget
    exception, for G, beside G's Plan below budget (410, April to December only), linked to its Financials cell."""
    from openpyxl import load_workbook

    from snop_xl.steps import reconcile

    inputs = load_inputs(open_book(book))
    exc = reconcile.exceptions(inputs, plan_frames())
    budget = exc[exc["kind"].isin(["Plan below budget", "Outlook below budget"])].set_index("kind")
    assert list(budget["family"]) == ["G", "G"]  # F is above budget in both
    out = budget.loc["Outlook below budget"]
    hand = hand_row("G", YEAR)
    assert (hand["revenue_variance"], hand["units_variance"]) == (-430, -11)
    assert (out["value"], out["units"], out["period"], out["months"]) == (430, -11, P("2027-01"), 12)
    assert out["message"] == ("G: full-year outlook revenue (2027-01 to 2027-12, actual + plan) USD 430 below budget "
                              "(-14.9%), -11 units; price +98, volume -528, mix +0")  # as docs/finance.md's table
    plan = budget.loc["Plan below budget"]
    assert (plan["value"], plan["units"]) == (410, -10) and pd.isna(plan["period"])
    assert out["rank"] < plan["rank"]  # ranked by money: 430 before 410
    # the links go to the Revenue Variance cells of the Financials rows as written (actual months included)
    fin = review.run(inputs, plan_frames())["Financials"]
    ob = open_book(book)
    ob.write_table(C.FINANCIALS, fin)
    ob.save()
    ws = load_workbook(book)["Financials"]
    for kind, rows in (("Outlook below budget", "Outlook"), ("Plan below budget", "Horizon")):
        sheet, cell = budget.loc[kind, "link"].split("!")
        assert sheet == "'Financials'" and ws[cell].value == -budget.loc[kind, "value"]
        row = {ws.cell(1, c).value: ws.cell(ws[cell].row, c).value for c in range(1, ws.max_column + 1)}
        assert (row["Rows"], row["Family"], row["Level"]) == (rows, "G", "Family")


def test_outlook_covering_the_horizon_is_not_counted_twice(tmp_path: Path) -> None:
    """A fiscal year from April: the budget's months (April to December) are the outlook's and the horizon's alike,
    so G's shortfall is one Plan below budget exception, not two."""
    from snop_xl.steps import reconcile

    f = frames()
    f["Budget"] = f["Budget"][f["Budget"]["period"] >= P("2027-04")]
    book = make_book(tmp_path / "apr.xlsx", f, {**SETTINGS, "fiscal_year_start": 4})
    exc = reconcile.exceptions(load_inputs(open_book(book)), plan_frames())
    budget = exc[exc["kind"].str.contains("budget")]
    assert list(budget["kind"]) == ["Plan below budget"] and list(budget["value"]) == [410]
    # a calendar fiscal year budgeted from April only: the actuals carry no budget, the same months again
    f = frames()
    f["Budget"] = f["Budget"][f["Budget"]["period"] >= P("2027-04")]
    inputs = load_inputs(open_book(make_book(tmp_path / "cal.xlsx", f, SETTINGS)))
    exc = reconcile.exceptions(inputs, plan_frames())
    (link,) = exc.loc[exc["kind"].str.contains("budget"), "link"]
    assert list(exc.loc[exc["kind"].str.contains("budget"), "kind"]) == ["Plan below budget"]
    # its link is G's Horizon row of the Financials as written, January to March actuals above it (it used to be
    # a position in Financials computed without them: 12 rows too high)
    fin = review.run(inputs, plan_frames())["Financials"]
    pos = fin.index[(fin.horizon == "Horizon") & (fin.family == "G")][0]
    assert link == reconcile.cell_address("Financials", "revenue_variance", pos) == "'Financials'!N45"


# ---- the budget import takes the whole fiscal year --------------------------------------------------------------
def _paste(path: Path, months) -> Path:
    rows = [["Family", "Measure", *[str(m) for m in months]],
            ["F", "units", *[30] * len(months)], ["F", "revenue", *[210] * len(months)],
            ["G", "units", *[5] * len(months)], ["G", "revenue", *[240] * len(months)]]
    return write_csv(path, rows)


def test_import_accepts_the_fiscal_year_and_refuses_before_it(book: Path, tmp_path: Path) -> None:
    summary = import_budget(OpenpyxlBook(book), _paste(tmp_path / "fy.csv", YEAR))
    assert summary.months == list(YEAR) and "2027-01 to 2027-12" in str(summary)
    with pytest.raises(ValidationError) as err:
        import_budget(OpenpyxlBook(book), _paste(tmp_path / "early.csv", pd.period_range("2026-12", "2027-12",
                                                                                            freq="M")))
    p = err.value.problems[0]
    assert p.cell == "C1" and p.value == "2026-12" and "fiscal year" in p.message
    with pytest.raises(ValidationError, match="2027-03 is missing"):  # a gap is still refused
        import_budget(OpenpyxlBook(book), _paste(tmp_path / "gap.csv", [m for m in YEAR if m != P("2027-03")]))


def test_import_budget_without_terminal_needs_yes(book: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    src = _paste(tmp_path / "fy.csv", YEAR)
    before = digest(book)
    assert cli(["import-budget", str(book), str(src)]) == 1  # pytest's stdin is no terminal
    out = capsys.readouterr()
    assert "Budget from" in out.out and "--yes" in out.err and "nothing changed" in out.out
    assert digest(book) == before
    assert cli(["import-budget", str(book), str(src), "--yes"]) == 0
    assert digest(book) != before


def test_outlook_stops_where_the_horizon_does(tmp_path: Path) -> None:
    """A horizon ending in September: the outlook covers January to September and says so."""
    f = frames()
    f["Budget"] = f["Budget"][f["Budget"]["period"] <= P("2027-09")]
    f["Capacity"] = f["Capacity"][f["Capacity"]["period"] <= P("2027-09")]
    book = make_book(tmp_path / "short.xlsx", f, {**SETTINGS, "horizon": 6})
    plans = {k: v[v["period"] <= P("2027-09")] for k, v in plan_frames().items()}
    out = review.run(load_inputs(open_book(book)), plans)
    fin, dash = out["Financials"], out["Dashboard"].set_index("metric")["value"]
    row = fin[(fin.horizon == "Outlook") & (fin.family == "Total")].iloc[0]
    assert row["period"] == P("2027-09")
    _check(row, hand_row("Total", YEAR[:9]))
    assert dash["Full-year outlook revenue (2027-01 to 2027-09)"] == row["revenue"]


def test_meeting_pack_marks_the_outlook_variances() -> None:
    from snop_xl.commands import report

    assert report._headline("Outlook vs budget revenue", -145.0, "USD") == "-145 USD (U)"
    assert report._headline("Outlook vs budget units", 55.0, "units") == "55 units (F)"
