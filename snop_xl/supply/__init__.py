"""Step 2 of S&OP, supply planning: inventory projection, safety stock, rough-cut capacity, a constrained supply LP
and the family aggregate production plan, all on HiGHS."""

from .aggregate import AggregatePlan, AggregatePlanError, aggregate_plan, aggregate_plans
from .explain import binding_resources, capacity_lines
from .inventory import (balance, days_of_supply, forward_demand, periods_of_cover, project_inventory,
                        safety_stock, safety_stock_from_sigma)
from .step import run, supply_plan

__all__ = ["AggregatePlan", "AggregatePlanError", "aggregate_plan", "aggregate_plans", "balance", "binding_resources",
           "capacity_lines", "days_of_supply", "forward_demand", "periods_of_cover", "project_inventory",
           "safety_stock", "safety_stock_from_sigma", "run", "supply_plan"]
