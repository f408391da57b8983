"""Supply numerics: inventory projection, safety stock, rough-cut capacity, the constrained supply LP and the family
aggregate production plan, all on HiGHS. The supply step (`snop_xl.steps.supply`) puts them together."""

from snop_xl.calc.supply.aggregate import (
                        AggregatePlan,
                        AggregatePlanError,
                        aggregate_plan,
                        aggregate_plans,
)
from snop_xl.calc.supply.explain import binding_resources, capacity_lines, hours_beyond
from snop_xl.calc.supply.inventory import (
                        balance,
                        days_of_supply,
                        forward_demand,
                        periods_of_cover,
                        project_inventory,
                        safety_stock,
                        safety_stock_from_sigma,
)

__all__ = ["AggregatePlan", "AggregatePlanError", "aggregate_plan", "aggregate_plans", "balance", "binding_resources",
           "capacity_lines", "days_of_supply", "forward_demand", "hours_beyond", "periods_of_cover",
           "project_inventory", "safety_stock", "safety_stock_from_sigma"]
