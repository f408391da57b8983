"""A realistic demo workbook: three families, 36 items with seasonal, trending and intermittent demand, 36 months of
history, three resources, suppliers, a budget that disagrees with the forecast, events, overrides and scenarios.

The data is generated from a seed, so the same seed always gives the same book.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from snop_xl import archive
from snop_xl.commands.new import blank_book
from snop_xl.inputs import load_inputs, write_inputs
from snop_xl.io import open_book
from snop_xl.steps import demand

CYCLE_MONTH = pd.Period("2026-12", "M")
HISTORY_MONTHS = 36
HORIZON = 18

#: family -> (code prefix, price range, cost share, seasonal amplitude, peak month, yearly trend)
FAMILIES = {
    "Hand Tools": ("HT", (18.0, 45.0), 0.55, 0.10, 11, 0.02),
    "Power Tools": ("PT", (89.0, 249.0), 0.62, 0.25, 11, 0.12),
    "Garden": ("GD", (24.0, 79.0), 0.50, 0.60, 5, 0.04),
}
RESOURCES = {"Assembly": 0.30, "Machining": 0.22, "Packing": 0.06}  # mean hours per unit
#: Hours per unit of a family on a resource = RESOURCES x this weight: power tools need more machining, garden tools
#: less machining and bulkier packing, so each resource has its own load profile (and peaks) through the year.
WEIGHTS = {"Hand Tools": {"Assembly": 0.6, "Machining": 0.6, "Packing": 0.6},
           "Power Tools": {"Assembly": 1.6, "Machining": 2.2, "Packing": 1.2},
           "Garden": {"Assembly": 0.9, "Machining": 0.4, "Packing": 1.8}}


def hours_per_unit(family: str, resource: str) -> float:
    """The demo's bill of resources: hours of `resource` one unit of `family` needs."""
    return round(RESOURCES[resource] * WEIGHTS[family][resource], 3)


def demo_frames(seed: int = 7) -> dict[str, pd.DataFrame]:
    """Every input table of the demo as contract frames (History long)."""
    rng = np.random.default_rng(seed)
    history_periods = pd.period_range(end=CYCLE_MONTH - 1, periods=HISTORY_MONTHS, freq="M")
    plan_periods = pd.period_range(CYCLE_MONTH, periods=HORIZON, freq="M")
    items, history = [], []
    for family, (prefix, (lo, hi), cost_share, amplitude, peak, trend) in FAMILIES.items():
        for n in range(1, 13):
            item = f"{prefix}-{n:03d}"
            price = round(float(rng.uniform(lo, hi)), 2)
            intermittent = n in (11, 12)  # spare parts and slow movers
            new_item = family == "Power Tools" and n == 10  # launched 14 months ago
            level = rng.uniform(3, 8) if intermittent else rng.uniform(60, 400) * (40 / price) ** 0.5 * 3
            t = np.arange(HISTORY_MONTHS)
            months = np.array([p.month for p in history_periods])
            season = 1 + amplitude * np.cos(2 * np.pi * (months - peak) / 12)
            growth = (1 + trend + rng.normal(0, 0.03)) ** (t / 12)
            mean = level * season * growth
            if intermittent:
                qty = np.where(rng.random(HISTORY_MONTHS) < 0.35, rng.poisson(level, HISTORY_MONTHS), 0)
            else:
                qty = np.maximum(0, np.round(rng.normal(mean, 0.12 * mean)))
            if new_item:
                qty[: HISTORY_MONTHS - 14] = np.nan
            items.append({"item": item, "description": f"{family} item {n}", "family": family, "unit_price": price,
                          "unit_cost": round(price * cost_share * rng.uniform(0.9, 1.1), 2),
                          "lead_time": int(rng.integers(0, 3)), "min_lot": float(rng.choice([0, 50, 100])),
                          "active": not (family == "Hand Tools" and n == 9)})
            history += [{"item": item, "period": p, "qty": float(q)} for p, q in zip(history_periods, qty)
                        if not np.isnan(q)]
    items_df = pd.DataFrame(items)
    history_df = pd.DataFrame(history)

    recent = history_df[history_df["period"] > CYCLE_MONTH - 13].groupby("item")["qty"].mean()
    inventory = pd.DataFrame({
        "item": items_df["item"],
        "on_hand": [float(round(recent.get(i, 0) * rng.uniform(0.4, 2.2))) for i in items_df["item"]],
        "ss_policy": ["fixed" if i.endswith(("011", "012")) else "service" for i in items_df["item"]],
        "ss_value": [5.0 if i.endswith(("011", "012")) else None for i in items_df["item"]],
    })

    # family rows, except Hand Tools: HT-001..006 are bought from Acme Forge (no load), the rest are made
    bor = pd.DataFrame([{"item": None, "family": f, "resource": r, "hours_per_unit": hours_per_unit(f, r)}
                        for f in FAMILIES if f != "Hand Tools" for r in RESOURCES] +
                       [{"item": f"HT-{n:03d}", "family": None, "resource": r,
                         "hours_per_unit": hours_per_unit("Hand Tools", r)}
                        for n in range(7, 13) for r in RESOURCES])
    # capacity sized on average load so that seasonal peaks overload it
    hist_month = history_df.merge(items_df[["item", "family"]]).groupby("family")["qty"].sum() / HISTORY_MONTHS
    capacity = []
    for resource in RESOURCES:
        load = sum(hist_month[f] * hours_per_unit(f, resource) for f in FAMILIES)
        for p in plan_periods:
            capacity.append({"resource": resource, "period": p, "available_hours": float(round(load * 0.9, -1)),
                             "overtime_hours": float(round(load * 0.08, -1)), "regular_cost": 38.0,
                             "overtime_cost": 57.0})

    suppliers = pd.DataFrame([
        {"item": f"HT-{n:03d}", "supplier": "Acme Forge", "lead_time": 2, "fill_rate": 0.92,
         "max_per_period": 3000.0} for n in range(1, 7)] + [
        {"item": f"GD-{n:03d}", "supplier": "GreenSupply", "lead_time": 1, "fill_rate": 0.97,
         "max_per_period": None} for n in range(1, 5)])

    # finance budgeted last year's volume +8% at list price, flat through the year: it disagrees with seasonality
    fam_hist = history_df.merge(items_df[["item", "family", "unit_price"]])
    last_year = fam_hist[fam_hist["period"] > CYCLE_MONTH - 13]
    budget = []
    for family, rows in last_year.groupby("family"):
        units = rows["qty"].sum() * 1.08 / 12
        price = (rows["qty"] * rows["unit_price"]).sum() / max(rows["qty"].sum(), 1) * 1.03
        for p in pd.period_range(f"{CYCLE_MONTH.year}-01", plan_periods[12], freq="M"):  # the whole fiscal year
            budget.append({"family": family, "item": None, "period": p, "units": float(round(units)),
                           "revenue": float(round(units * price, -2))})

    events = pd.DataFrame([
        {"item": None, "family": "Garden", "start": pd.Period("2027-03", "M"), "end": pd.Period("2027-04", "M"),
         "uplift_pct": 0.20, "uplift_qty": None, "owner": "Marketing", "note": "Spring catalogue promotion"},
        {"item": None, "family": "Power Tools", "start": pd.Period("2027-11", "M"),
         "end": pd.Period("2027-11", "M"), "uplift_pct": None, "uplift_qty": 400.0, "owner": "Marketing",
         "note": "Black Friday"},
        {"item": "HT-003", "family": None, "start": pd.Period("2027-02", "M"), "end": pd.Period("2027-06", "M"),
         "uplift_pct": None, "uplift_qty": 60.0, "owner": "Sales North", "note": "New DIY chain listing"},
    ])
    overrides = pd.DataFrame([
        {"item": "PT-001", "family": None, "period": pd.Period("2027-01", "M"), "qty": 420.0,
         "owner": "Sales North", "reason": "Key account order confirmed"},
        {"item": "PT-001", "family": None, "period": pd.Period("2027-02", "M"), "qty": 380.0,
         "owner": "Sales North", "reason": "Key account order confirmed"},
        {"item": "GD-002", "family": None, "period": pd.Period("2027-04", "M"), "qty": 900.0,
         "owner": "Sales South", "reason": "Retailer planogram reset"},
        {"item": None, "family": "Hand Tools", "period": pd.Period("2027-01", "M"), "qty": 7400.0,
         "owner": "Marketing", "reason": "Post-holiday slowdown"},
    ])
    scenarios = pd.DataFrame([
        {"scenario": "Best case", "scope": "", "start": None, "end": None, "demand_factor": 1.10,
         "capacity_factor": 1.0, "supply_factor": 1.0, "price_factor": 1.02, "cost_factor": 1.0,
         "note": "Strong season, price increase holds"},
        {"scenario": "Worst case", "scope": "", "start": None, "end": None, "demand_factor": 0.85,
         "capacity_factor": 1.0, "supply_factor": 1.0, "price_factor": 0.97, "cost_factor": 1.03,
         "note": "Weak market, discounting"},
        {"scenario": "Worst case", "scope": "Machining", "start": pd.Period("2027-03", "M"),
         "end": pd.Period("2027-04", "M"), "demand_factor": 1.0, "capacity_factor": 0.5, "supply_factor": 1.0,
         "price_factor": 1.0, "cost_factor": 1.0, "note": "Machining line overhaul"},
        {"scenario": "Supplier disruption", "scope": "Acme Forge", "start": pd.Period("2027-02", "M"),
         "end": pd.Period("2027-05", "M"), "demand_factor": 1.0, "capacity_factor": 1.0, "supply_factor": 0.3,
         "price_factor": 1.0, "cost_factor": 1.05, "note": "Port strike at the supplier"},
    ])
    decisions = pd.DataFrame([
        {"date": pd.Timestamp("2026-11-20"), "decision": "Approve overtime on Assembly for the spring peak",
         "owner": "VP Operations", "due": pd.Period("2027-03", "M"), "scenario": "",
         "note": "Revisit after March actuals"},
    ])
    # the family aggregate plans (workforce, overtime, subcontracting) of the two families made in-house; labour hours
    # per unit are the families' bill of resources summed over the resources
    labour = {f: round(sum(hours_per_unit(f, r) for r in RESOURCES), 3) for f in FAMILIES}
    aggregate = pd.DataFrame([
        {"family": "Power Tools", "start_workforce": 30.0, "hours_per_unit": labour["Power Tools"],
         "regular_hours_per_worker": 160.0,
         "max_overtime_hours_per_worker": 20.0, "hire_cost": 2500.0, "layoff_cost": 4000.0,
         "regular_hour_cost": 38.0, "overtime_hour_cost": 57.0, "subcontract_cost": 150.0, "max_subcontract": 500.0,
         "min_end_inventory": 1000.0, "strategy": "optimal", "integer": True},
        {"family": "Garden", "start_workforce": 14.0, "hours_per_unit": labour["Garden"],
         "regular_hours_per_worker": 160.0,
         "max_overtime_hours_per_worker": 20.0, "hire_cost": 2000.0, "layoff_cost": 3000.0,
         "regular_hour_cost": 38.0, "overtime_hour_cost": 57.0, "subcontract_cost": 45.0, "max_subcontract": 1500.0,
         "min_end_inventory": 500.0, "strategy": "level", "integer": True},
    ])
    orders, pipeline = demo_signals(history_df)
    return {"Items": items_df, "History": history_df, "Inventory": inventory, "Capacity": pd.DataFrame(capacity),
            "BillOfResources": bor, "Suppliers": suppliers, "Budget": pd.DataFrame(budget), "Events": events,
            "Overrides": overrides, "Scenarios": scenarios, "Decisions": decisions, "AggregateParams": aggregate,
            "Orders": orders, "Pipeline": pipeline}


def demo_signals(history: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small order book and sales pipeline (docs/pipeline.md), sized on each item's last three months of sales:
    orders covering part of the next months (one above its forecast: the floor), a large likely tender, a family
    deal, a deal with no probability (its stage's), a lost one and a stale one."""
    recent = history[history["period"] >= CYCLE_MONTH - 3].groupby("item")["qty"].mean()
    m = lambda k: CYCLE_MONTH + k  # noqa: E731
    day = lambda k, d: m(k).start_time + pd.Timedelta(days=d - 1)  # noqa: E731
    order_lines = [("SO-50311", "HT-001", "Baumarkt Nord", m(0), 0.6), ("SO-50311", "HT-002", "Baumarkt Nord", m(0), 0.4),
                   ("SO-50342", "PT-001", "ProBuild Supply", m(0), 0.7), ("SO-50342", "PT-001", "ProBuild Supply",
                                                                          m(1), 0.3),
                   ("SO-50377", "PT-004", "Rental Depot", m(1), 1.6),  # above the forecast: the floor
                   ("SO-50290", "GD-003", "GreenHome", m(-1), 0.2),  # past due: counts in the cycle month
                   ("SO-50390", "GD-001", "GreenHome", m(2), 0.5)]
    orders = pd.DataFrame([(o, i, c, p, float(round(recent[i] * share))) for o, i, c, p, share in order_lines],
                          columns=["order_id", "item", "customer", "period", "qty"]).astype({"period": "period[M]"})
    deals = [("OPP-1042 City fleet tender", "PT-003", None, 4.0, day(1, 14), "Negotiation", 0.7, "Kim Weber",
              "City of Lyon"),
             ("OPP-1051 Spring garden range", None, "Garden", 1.5, day(2, 1), "Proposal", None, "Lee Park",
              "GreenHome"),
             ("OPP-1063 Workshop refit", "HT-005", None, 0.5, day(0, 20), "Commit", 0.9, "Ana Silva",
              "Baumarkt Nord"),
             ("OPP-0988 Distributor launch", "PT-002", None, 3.0, day(1, 5), "Closed Lost", 0.0, "Kim Weber",
              "ToolNet"),
             ("OPP-0970 School kits", "HT-003", None, 2.0, day(-2, 28), "Qualification", 0.2, "Pat Moreau",
              "Region Ouest")]  # stale: its close date passed, nobody updated it
    rows = []
    for opp, item, family, months_of_sales, close, stage, prob, owner, account in deals:
        base = recent[item] if item else recent[[i for i in recent.index if i.startswith("GD-")]].mean()
        rows.append((opp, item, family, float(round(base * months_of_sales)), close, stage, prob, owner, account,
                     None))
    pipeline = pd.DataFrame(rows, columns=["opportunity", "item", "family", "qty", "close_date", "stage",
                                           "probability", "owner", "account", "amount"])
    return orders, pipeline


def demo_settings() -> dict[str, object]:
    return {"cycle_month": CYCLE_MONTH, "horizon": HORIZON, "currency": "USD", "service_level": 0.95,
            "approver": "S&OP Lead"}




#: Months before the cycle month whose demand plans the demo publishes to its archive, so the KPIs sheet shows
#: accuracy and forecast value added per step and per override owner against the actuals since.
PAST_CYCLES = 6


def past_overrides(history: pd.DataFrame, items: pd.DataFrame, cycle: pd.Period, seed: int) -> pd.DataFrame:
    """What the owners overrode in a past cycle: Sales North knew its key accounts' orders for the first two months
    (the actual within a few percent), Marketing expected Garden's season early (its family 25% up in month 2)."""
    rng = np.random.default_rng([seed, cycle.ordinal])
    sold = history.set_index(["item", "period"])["qty"]
    rows = []
    for item in ("PT-001", "PT-002", "HT-001"):
        for month in (cycle, cycle + 1):
            if (item, month) in sold.index:
                rows.append({"item": item, "family": None, "period": month,
                             "qty": round(float(sold[(item, month)]) * rng.uniform(0.96, 1.04)),
                             "owner": "Sales North", "reason": "Key account orders"})
    garden = items.loc[items["family"] == "Garden", "item"]
    last_year = sold[sold.index.get_level_values("item").isin(garden)].xs(cycle + 1 - 12, level="period").sum()
    rows.append({"item": None, "family": "Garden", "period": cycle + 1, "qty": round(1.25 * float(last_year)),
                 "owner": "Marketing", "reason": "Early season expected"})
    return pd.DataFrame(rows)


def publish_past_cycles(book_path: Path, cycles: int = PAST_CYCLES, seed: int = 7) -> Path:
    """Publish the demand plans of the `cycles` months before the demo's cycle month to the book's archive (a new
    archive: an earlier demo's is replaced): each forecast from the History before its month, with that month's
    `past_overrides`, by the demand step itself, as `snop-xl publish` would have stored it."""

    inputs = load_inputs(open_book(book_path))
    path = archive.default_path(book_path, inputs.settings.archive_path)
    path.unlink(missing_ok=True)
    history = inputs.history.dropna(subset=["qty"])
    no_events = inputs.events.iloc[:0]
    for k in range(cycles, 0, -1):
        cycle = inputs.settings.cycle_month - k
        overrides = past_overrides(history, inputs.items, cycle, seed).reindex(columns=inputs.overrides.columns)
        past = inputs.replace(settings=dataclasses.replace(inputs.settings, cycle_month=cycle),
                              history=inputs.history[inputs.history["period"] < cycle], events=no_events,
                              overrides=overrides)
        plan = demand.run(past)["DemandPlan"]
        archive.publish(path, cycle, f"demo-{cycle}", {"DemandPlan": plan, "Overrides": overrides,
                                                       "Events": no_events},
                        approver=inputs.settings.approver, book=book_path.name,
                        published_at=dt.datetime(cycle.year, cycle.month, 3, tzinfo=dt.timezone.utc))
    return path


def write_demo_book(path: str | Path = "out/SNOP_Demo.xlsm", seed: int = 7, past_cycles: int = PAST_CYCLES) -> Path:
    """Write the demo inputs to a new workbook at `path` (outputs empty until the cycle runs); .xlsm starts from
    the macro template, so the demo opens in Excel with the S&OP ribbon and functions. `past_cycles` earlier plans
    are published to the archive beside it (`publish_past_cycles`)."""

    book = blank_book(path)
    book.wb.properties.created = dt.datetime(2026, 11, 1)
    write_inputs(book, demo_frames(seed), demo_settings())
    saved = book.save()
    if past_cycles:
        publish_past_cycles(Path(saved), past_cycles, seed)
    return saved
