"""The SNOP_* worksheet functions: thin xlwings UDFs over the snop_xl engine (reference: docs/functions.md).

Each function declares how Excel hands it cells (``@xw.arg``), checks and reshapes them with `udfs.cells`, calls
the one engine function that does the work, and lays the answer out like its input. Bad cells and engine refusals
come back as one line of text starting with ``#SNOP!``, never a traceback.

Names and argument order are the product's public interface. The template embeds the VBA wrappers generated from
these decorators (see `snop_xl.build.vba.udf_vba`); a test regenerates them, which is what catches a decorator
mistake on a machine without Excel. Engine modules are imported inside each function so that a missing or broken
engine never stops the others from loading.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import xlwings as xw

from snop_xl.calc import finance, kpi
from snop_xl.calc import supply as supply_calc
from snop_xl.calc import forecast as forecasting
from snop_xl.contract import BOOL, FORECAST_METHODS
from snop_xl.io.parse import CellError, coerce

from .cells import (
    CellProblem,
    choice,
    guarded,
    is_row,
    pairs,
    same_length,
    scalar,
    shaped,
    table,
    vector,
)

CATEGORY = "S&OP"
BALANCE_STRATEGIES = ("chase", "level")
AGGPLAN_STRATEGIES = ("optimal", "level", "chase")
VARIANCE_KINDS = ("abs", "pct", "label")
_RANGE = dict(ndim=2, err_to_str=True)  # every range argument: list of rows, error cells as "#N/A" text


@xw.func(category=CATEGORY)
@xw.arg("history", doc="Past quantities of one series, oldest first: one row or one column.", **_RANGE)
@xw.arg("horizon", doc="How many periods to forecast.")
@xw.arg("method", doc="auto (default), naive, seasonal_naive, ses, holt, holt_winters, theta or croston.")
@xw.arg("season_length", doc="Periods in one season (default 12).")
@guarded
def SNOP_FORECAST(history, horizon, method="auto", season_length=12):
    """Forecast of one series for the next `horizon` periods, laid out like `history` (row or column)."""
    values = vector(history, "history", allow_leading_blanks=True)
    h = scalar(horizon, "horizon", integer=True, low=1, high=120)
    m = choice(method, "method", FORECAST_METHODS, "auto")
    season = scalar(season_length, "season_length", 12, integer=True, low=1, high=52)
    long = pd.DataFrame({"item": "series", "period": pd.period_range("2000-01", periods=len(values), freq="M"),
                         "qty": values})
    result = forecasting.forecast(long, h, season_length=season, method=m)
    return shaped(result.sort_values("period")["forecast"].tolist(), history)


@xw.func(category=CATEGORY)
@xw.arg("actual", doc="Actual quantities.", **_RANGE)
@xw.arg("forecast", doc="Forecast quantities for the same periods.", **_RANGE)
@xw.arg("metric", doc="WAPE (default), ACCURACY (1-WAPE), MAPE, BIAS, MASE or TRACKING_SIGNAL.")
@xw.arg("history", doc="MASE only: the history before the forecast, which scales the errors.", **_RANGE)
@xw.arg("season_length", doc="MASE only: season of the naive forecast that scales the errors (default 1).")
@guarded
def SNOP_ACCURACY(actual, forecast, metric="WAPE", history=None, season_length=1):
    """Forecast accuracy metric of `forecast` against `actual`."""
    a, f = vector(actual, "actual"), vector(forecast, "forecast")
    same_length(actual=a, forecast=f)
    name = choice(metric, "metric", kpi.METRICS, "WAPE")
    season = scalar(season_length, "season_length", 1, integer=True, low=1, high=52)
    insample = None
    if name == "MASE":
        if history is None:
            raise CellProblem("MASE needs the history argument (the series before the forecast)")
        insample = vector(history, "history", allow_leading_blanks=True, min_length=season + 1)
    return float(kpi.accuracy(a, f, name, insample=insample, season_length=season))


@xw.func(category=CATEGORY)
@xw.arg("demand_history", doc="Past demand per period (at least 2 values).", **_RANGE)
@xw.arg("lead_time", doc="Replenishment lead time in periods.")
@xw.arg("service_level", doc="Target cycle service level, e.g. 95% or 0.95.")
@guarded
def SNOP_SAFETY_STOCK(demand_history, lead_time, service_level):
    """Safety stock in units covering demand variability over the lead time at the service level."""
    demand = vector(demand_history, "demand_history", min_length=2)
    lt = scalar(lead_time, "lead_time", low=0)
    sl = scalar(service_level, "service_level", low=0.5, high=0.9999)
    return float(supply_calc.safety_stock(demand, lt, sl))


@xw.func(category=CATEGORY)
@xw.arg("opening", doc="Inventory at the start of the first period.")
@xw.arg("supply", doc="Supply arriving in each period.", **_RANGE)
@xw.arg("demand", doc="Demand in each period.", **_RANGE)
@guarded
def SNOP_INVENTORY(opening, supply, demand):
    """Projected closing inventory per period (negative = backlog), laid out like `demand`."""
    start = scalar(opening, "opening")
    s, d = vector(supply, "supply"), vector(demand, "demand")
    same_length(supply=s, demand=d)
    return shaped(list(supply_calc.project_inventory(start, s, d)), demand)


@xw.func(category=CATEGORY)
@xw.arg("demand", doc="Demand per period.", **_RANGE)
@xw.arg("capacity", doc="Most that can be produced per period (one value or one per period).", **_RANGE)
@xw.arg("opening_inventory", doc="Inventory at the start.")
@xw.arg("safety_stock", doc="Inventory to keep at every period end (default 0).")
@xw.arg("strategy", doc="chase (default: produce what is needed) or level (constant production).")
@guarded
def SNOP_BALANCE(demand, capacity, opening_inventory, safety_stock=0, strategy="chase"):
    """Three rows (or columns, like `demand`): production, inventory and shortage per period."""
    d = vector(demand, "demand")
    cap = vector(capacity, "capacity")
    if len(cap) == 1:
        cap = cap.repeat(len(d))
    same_length(demand=d, capacity=cap)
    start = scalar(opening_inventory, "opening_inventory")
    ss = scalar(safety_stock, "safety_stock", 0.0, low=0)
    how = choice(strategy, "strategy", BALANCE_STRATEGIES, "chase")
    result = supply_calc.balance(d, cap, start, safety_stock=ss, strategy=how)
    lines = [[float(v) for v in result[k]] for k in ("production", "inventory", "shortage")]
    return lines if is_row(demand) else [list(col) for col in zip(*lines)]


#: SNOP_AGGPLAN parameter names that go into aggregate_plan's `costs` mapping (given as `cost_<name>` or `<name>`).
AGGPLAN_COSTS = ("material", "holding", "backlog", "hire", "layoff", "regular_hour", "overtime_hour", "subcontract")
AGGPLAN_NUMBERS = ("start_inventory", "min_end_inventory", "start_workforce", "hours_per_unit",
                   "regular_hours_per_worker", "max_overtime_hours_per_worker", "start_backlog", "max_subcontract")
AGGPLAN_FLAGS = ("allow_end_backlog", "integer")


@xw.func(category=CATEGORY)
@xw.arg("demand", doc="Demand per period of one family.", **_RANGE)
@xw.arg("parameters", doc="Two columns: parameter name and value (see docs/functions.md).", **_RANGE)
@xw.arg("strategy", doc="optimal (default, linear program), level or chase.")
@guarded
def SNOP_AGGPLAN(demand, parameters, strategy="optimal"):
    """The aggregate production plan as a table with a header row, one row per period, and a total cost row."""
    d = vector(demand, "demand")
    given = pairs(parameters, "parameters")
    kwargs: dict[str, Any] = {}
    costs: dict[str, float] = {}
    for key, value in given.items():
        bare = key.removeprefix("cost_")
        if bare in AGGPLAN_COSTS:
            costs[bare] = scalar(value, f"parameters {key}", low=0)
        elif key in AGGPLAN_NUMBERS:
            kwargs[key] = scalar(value, f"parameters {key}", low=0)
        elif key in AGGPLAN_FLAGS:
            try:  # TRUE/FALSE as every sheet of the workbook reads them
                kwargs[key] = coerce(value, BOOL)
            except CellError as exc:
                raise CellProblem(f"parameters {key}: expected {exc}, found {value!r}") from None
        else:
            raise CellProblem(f"parameters: unknown name {key!r}; expected one of "
                              + ", ".join(AGGPLAN_NUMBERS + AGGPLAN_FLAGS + tuple(f"cost_{c}" for c in AGGPLAN_COSTS)))
    missing = [k for k in AGGPLAN_NUMBERS[:6] if k not in kwargs]
    if missing:
        raise CellProblem("parameters: missing " + ", ".join(missing))
    how = choice(strategy, "strategy", AGGPLAN_STRATEGIES, "optimal")
    plan = supply_calc.aggregate_plan(d, costs=costs, strategy=how, **kwargs)
    rows = table(plan.plan.reset_index(drop=plan.plan.index.name is None))
    rows.append(["total_cost", float(plan.total_cost)] + [None] * (len(rows[0]) - 2))
    return rows


@xw.func(category=CATEGORY)
@xw.arg("actual", doc="Actual values.", **_RANGE)
@xw.arg("plan", doc="Plan or budget values for the same periods.", **_RANGE)
@xw.arg("kind", doc="abs (default: actual - plan), pct ((actual - plan) / |plan|) or label (F favourable, U not).")
@guarded
def SNOP_VARIANCE(actual, plan, kind="abs"):
    """Variance of `actual` against `plan`, per cell, laid out like `actual`."""
    a, p = vector(actual, "actual"), vector(plan, "plan")
    same_length(actual=a, plan=p)
    how = choice(kind, "kind", VARIANCE_KINDS, "abs")
    return shaped(list(finance.variance(a, p, kind=how)), actual)


@xw.func(category=CATEGORY)
@xw.arg("actual_qty", doc="Actual units per product.", **_RANGE)
@xw.arg("actual_price", doc="Actual price per product.", **_RANGE)
@xw.arg("budget_qty", doc="Budget units per product.", **_RANGE)
@xw.arg("budget_price", doc="Budget price per product.", **_RANGE)
@guarded
def SNOP_PVM(actual_qty, actual_price, budget_qty, budget_price):
    """Price, volume, mix and total revenue variance: a 2 x 4 table with a header row."""
    aq, ap = vector(actual_qty, "actual_qty"), vector(actual_price, "actual_price")
    bq, bp = vector(budget_qty, "budget_qty"), vector(budget_price, "budget_price")
    same_length(actual_qty=aq, actual_price=ap, budget_qty=bq, budget_price=bp)
    effects = finance.price_volume_mix(aq, ap, bq, bp)
    names = ("price", "volume", "mix", "total")
    return [list(names), [float(effects[n]) for n in names]]


@xw.func(category=CATEGORY)
@xw.arg("inventory", doc="Inventory at each period end.", **_RANGE)
@xw.arg("demand", doc="Demand per period (the periods after each inventory value are used).", **_RANGE)
@xw.arg("days_per_period", doc="Days in one period (default 30).")
@guarded
def SNOP_DAYS_OF_SUPPLY(inventory, demand, days_per_period=30):
    """Days of future demand each period-end inventory covers, laid out like `inventory`."""
    inv, d = vector(inventory, "inventory"), vector(demand, "demand")
    same_length(inventory=inv, demand=d)
    days = scalar(days_per_period, "days_per_period", 30, low=1, high=31)
    return shaped(list(supply_calc.days_of_supply(inv, d, days_per_period=days)), inventory)


#: Every worksheet function of the module, in documentation order.
FUNCTIONS = (SNOP_FORECAST, SNOP_ACCURACY, SNOP_SAFETY_STOCK, SNOP_INVENTORY, SNOP_BALANCE, SNOP_AGGPLAN,
             SNOP_VARIANCE, SNOP_PVM, SNOP_DAYS_OF_SUPPLY)
