"""Every table and sheet of the S&OP workbook, and the Settings: what the readers, writers, validation, template
and docs/workbook.md all derive from."""

from __future__ import annotations

from typing import Any

from snop_xl.contract.schema import (
    ANY,
    BOOL,
    DATE,
    INTEGER,
    NUMBER,
    PERCENT,
    PERIOD,
    SHEETS,
    TEXT,
    Column,
    Role,
    Setting,
    Sheet,
    Table,
)

# ----------------------------------------------------------------------------------------------------------------
# Settings
# ----------------------------------------------------------------------------------------------------------------
#: Forecast models a planner can pick (snop_xl.calc.forecast accepts exactly these; "auto" picks per item).
FORECAST_METHODS = ("auto", "naive", "seasonal_naive", "ses", "holt", "holt_winters", "theta", "optimized_theta",
                    "croston", "sba", "tsb")

#: Stage -> win probability of a deal with no Probability of its own (the Stage probabilities setting's default)
DEFAULT_STAGE_PROBABILITIES = ("Prospecting: 10%; Qualification: 20%; Needs Analysis: 30%; Proposal: 50%; "
                               "Negotiation: 70%; Commit: 90%; Closed Won: 100%; Closed Lost: 0%")

SETTINGS: tuple[Setting, ...] = (
    Setting("cycle_month", "Cycle month", PERIOD, None,
            "First month of the plan. History must end before it; the forecast starts here."),
    Setting("horizon", "Horizon (months)", INTEGER, 18, "Number of months planned from the cycle month.", min=1, max=60),
    Setting("bucket", "Bucket", TEXT, "month", "Planning bucket. Monthly buckets are supported.", choices=("month",)),
    Setting("currency", "Currency", TEXT, "USD", "ISO code shown on money columns."),
    Setting("service_level", "Service level", PERCENT, 0.95,
            "Target cycle service level used for safety stock (0.50-0.999).", min=0.5, max=0.999),
    Setting("default_method", "Forecast method", TEXT, "auto", "Forecast model used for every item.",
            choices=FORECAST_METHODS),
    Setting("season_length", "Season length", INTEGER, 12, "Months in one seasonal cycle.", min=1, max=24),
    Setting("holding_rate", "Holding cost rate (per year)", PERCENT, 0.25,
            "Yearly cost of holding one unit, as a share of its unit cost.", min=0, max=5),
    Setting("backlog_rate", "Backlog cost rate (per month)", PERCENT, 0.10,
            "Cost of one unit of demand not met in its month (lost), as a share of its unit price.", min=0, max=10),
    Setting("days_per_period", "Days per month", INTEGER, 30, "Days used to express inventory as days of supply.",
            min=1, max=31),
    Setting("cleanse_history", "Cleanse past events", BOOL, False,
            "Remove past promotion uplifts from history before forecasting."),
    Setting("approver", "Approver", TEXT, "", "Who approves the plan version when it is published."),
    Setting("archive_path", "Plan archive", TEXT, "", "SQLite file for published versions (blank: beside the book)."),
    Setting("supply_objective", "Supply objective", TEXT, "cost",
            "What the constrained supply plan optimises. cost: least holding + lost-sale penalty (backlog rate) + "
            "overtime, serving all demand capacity allows. margin: most revenue of demand met minus unit costs, "
            "holding and overtime; demand whose price does not cover its cost is left unserved.",
            choices=("cost", "margin")),
    Setting("fiscal_year_start", "Fiscal year starts (month)", INTEGER, 1,
            "Month number the fiscal year starts in (1 = January, 4 = April, ...). The budget may cover the fiscal "
            "year of the cycle month from its start; Financials compares actuals, year-to-date and the full-year "
            "outlook with it.", min=1, max=12),
    Setting("contributors", "Contributors", TEXT, "",
            "Who types demand numbers into the Demand review, comma-separated, in order of precedence: for an item "
            "and month the number of the last contributor listed who gave one is the consensus. Blank: the owners "
            "of Overrides in the order they first appear, else Sales, Marketing."),
    Setting("pipeline_horizon", "Pipeline horizon (months)", INTEGER, 3,
            "Months from the cycle month in which open Orders are a floor on the consensus and the weighted "
            "Pipeline adds what the statistical forecast does not expect (docs/pipeline.md); 0: neither is used.",
            min=0, max=24),
    Setting("pipeline_trust", "Pipeline trust", TEXT, "auto",
            "How much of the weighted pipeline above the statistical forecast the consensus takes. auto: learned "
            "from the published plans against the actuals since (the share that would have made them most "
            "accurate; 100% until 12 item-months are measured). Or a share such as 50%; 0% ignores the pipeline "
            "(open orders still floor the consensus)."),
    Setting("stage_probabilities", "Stage probabilities", TEXT, DEFAULT_STAGE_PROBABILITIES,
            "Win probability of a Pipeline deal whose Probability is blank, by its Stage: 'Stage: 40%' pairs "
            "separated by ';'. A stage naming lost (Closed Lost) carries no demand whatever its probability."),
)
SETTING_BY_KEY = {s.key: s for s in SETTINGS}


# ----------------------------------------------------------------------------------------------------------------
# Input tables
# ----------------------------------------------------------------------------------------------------------------
def _c(key: str, header: str, dtype: str, doc: str = "", **kw: Any) -> Column:
    return Column(key, header, dtype, doc, **kw)


SETTINGS_TABLE = Table("Settings", "Settings", Role.INPUT, (
    _c("setting", "Setting", TEXT, "Name of the setting (see the list below)."),
    _c("value", "Value", ANY, "Its value; typed by the setting.", nullable=True),
    _c("description", "Description", TEXT, "What it means.", required=False, nullable=True),
), "Cycle parameters, one per row.", key=("setting",))

ITEMS = Table("Items", "Items", Role.INPUT, (
    _c("item", "Item", TEXT, "Item code, unique."),
    _c("description", "Description", TEXT, required=False, nullable=True, default=""),
    _c("family", "Family", TEXT, "Product family the item rolls up to."),
    _c("unit_price", "Unit Price", NUMBER, "Selling price per unit.", unit="currency", min=0, fmt="money"),
    _c("unit_cost", "Unit Cost", NUMBER, "Standard cost per unit.", unit="currency", min=0, fmt="money"),
    _c("lead_time", "Lead Time", INTEGER, "Replenishment lead time.", unit="months", min=0, max=24, nullable=True,
       default=0),
    _c("min_lot", "Min Lot", NUMBER, "Smallest quantity produced or bought at once.", unit="units", min=0,
       nullable=True, default=0.0, fmt="qty"),
    _c("lot_multiple", "Lot Multiple", NUMBER, "Production and purchases are whole multiples of it (cases, "
       "pallets, batches; on the quantity ordered); blank = any quantity. Min Lot still applies.", unit="units",
       min=0, required=False, nullable=True, fmt="qty"),
    _c("active", "Active", BOOL, "Inactive items are not planned.", required=False, nullable=True, default=True),
), "Item master.", key=("item",))

HISTORY = Table("History", "History", Role.INPUT, (
    _c("item", "Item", TEXT, "Item code from Items."),
), "Sales history: one row per item, one column per month headed yyyy-mm. Blank before launch.", key=("item",),
    wide_periods=True,
    wide_value=_c("qty", "Qty", NUMBER, "Units sold in the month.", unit="units", min=0, nullable=True, fmt="qty"))

EVENTS = Table("Events", "Events", Role.INPUT, (
    _c("item", "Item", TEXT, "Item concerned (or leave blank and give a family).", nullable=True),
    _c("family", "Family", TEXT, "Family concerned when no item is given.", nullable=True),
    _c("start", "From", PERIOD, "First month of the event."),
    _c("end", "To", PERIOD, "Last month of the event."),
    _c("uplift_pct", "Uplift %", PERCENT, "Relative uplift on the statistical forecast.", nullable=True, min=-1),
    _c("uplift_qty", "Uplift Qty", NUMBER, "Absolute uplift in units per month (spread over the family's items by "
       "forecast share).", unit="units", nullable=True, fmt="qty"),
    _c("owner", "Owner", TEXT, "Who stands behind the event.", nullable=True, default=""),
    _c("note", "Note", TEXT, nullable=True, required=False, default=""),
), "Promotions and market intelligence applied on top of the statistical forecast.")

OVERRIDES = Table("Overrides", "Overrides", Role.INPUT, (
    _c("item", "Item", TEXT, "Item overridden (or blank and a family).", nullable=True),
    _c("family", "Family", TEXT, "Family overridden when no item is given; spread by forecast share.", nullable=True),
    _c("period", "Period", PERIOD, "Month overridden."),
    _c("qty", "Qty", NUMBER, "The quantity the owner expects (replaces the demand).", unit="units", min=0, fmt="qty"),
    _c("owner", "Owner", TEXT, "Who made the override (sales, marketing, ...)."),
    _c("reason", "Reason", TEXT, nullable=True, default=""),
), "Sales and marketing adjustments, grouped by owner in the order of the Contributors setting (owners it does not "
   "list after, in the order they first appear), each owner's rows in table order; the last one for an item and "
   "month wins. Numbers typed into the Demand review are that owner's too, applied after their rows here.")

ORDERS = Table("Orders", "Orders", Role.INPUT, (
    _c("order_id", "Order", TEXT, "Sales order number (several lines may share it)."),
    _c("item", "Item", TEXT, "Item code from Items."),
    _c("customer", "Customer", TEXT, nullable=True, default=""),
    _c("period", "Requested Month", PERIOD, "Month the customer wants it (an order already past due counts in "
       "the cycle month)."),
    _c("qty", "Qty", NUMBER, "Open quantity (ordered, not yet shipped).", unit="units", min=0, fmt="qty"),
), "Open customer orders (optional sheet): within the pipeline horizon an item-month's consensus is at least its "
   "open orders, unless an Override says otherwise (then an exception). Import: snop-xl import BOOK Orders FILE.",
    key=("order_id", "item", "period"))

PIPELINE = Table("Pipeline", "Pipeline", Role.INPUT, (
    _c("opportunity", "Opportunity", TEXT, "Opportunity id or name, unique."),
    _c("item", "Item", TEXT, "Item the deal is for (or blank and a family).", nullable=True),
    _c("family", "Family", TEXT, "Family when no item is given; spread over its items by forecast share.",
       nullable=True),
    _c("qty", "Quantity", NUMBER, "Units the deal would bring, in its close month.", unit="units", min=0,
       fmt="qty"),
    _c("close_date", "Close Date", DATE, "Expected close date; the deal's demand falls in its month."),
    _c("stage", "Stage", TEXT, "Sales stage (a stage naming lost: no demand)."),
    _c("probability", "Probability", PERCENT, "Win probability; blank: from the Stage probabilities setting.",
       nullable=True, min=0, max=1),
    _c("owner", "Owner", TEXT, "Salesperson who owns the deal.", nullable=True, default=""),
    _c("account", "Account", TEXT, nullable=True, default=""),
    _c("amount", "Amount", NUMBER, "Deal value as the CRM gives it (shown, not used).", unit="currency",
       required=False, nullable=True, fmt="money"),
), "Sales opportunities (optional sheet): within the pipeline horizon the weighted pipeline (quantity x "
   "probability) above the statistical forecast is added to the consensus (docs/pipeline.md). Deals lost or with "
   "a close date before the cycle month carry no demand. Import: snop-xl import BOOK Pipeline FILE.",
    key=("opportunity",))

INVENTORY = Table("Inventory", "Inventory", Role.INPUT, (
    _c("item", "Item", TEXT),
    _c("on_hand", "On Hand", NUMBER, "Units in stock at the start of the cycle month.", unit="units", min=0,
       fmt="qty"),
    _c("ss_policy", "Safety Stock Policy", TEXT, "service: from forecast error and service level; fixed: the value in "
       "units; cover: the value in months of demand.", nullable=True, default="service",
       choices=("service", "fixed", "cover")),
    _c("ss_value", "Policy Value", NUMBER, "Units (fixed), months (cover) or service level (service; blank = "
       "Settings).", nullable=True, min=0),
), "Stock on hand and safety stock policy per item.", key=("item",))

CAPACITY = Table("Capacity", "Capacity", Role.INPUT, (
    _c("resource", "Resource", TEXT, "Work centre, line or crew."),
    _c("period", "Period", PERIOD),
    _c("available_hours", "Available Hours", NUMBER, "Regular hours available.", unit="hours", min=0, fmt="hours"),
    _c("overtime_hours", "Overtime Limit", NUMBER, "Extra hours that can be added.", unit="hours", min=0,
       nullable=True, default=0.0, fmt="hours"),
    _c("regular_cost", "Regular Cost/h", NUMBER, unit="currency/hour", min=0, nullable=True, default=0.0,
       fmt="money"),
    _c("overtime_cost", "Overtime Cost/h", NUMBER, unit="currency/hour", min=0, nullable=True, default=0.0,
       fmt="money"),
), "Capacity per resource and month.", key=("resource", "period"))

BILL_OF_RESOURCES = Table("BillOfResources", "BillOfResources", Role.INPUT, (
    _c("item", "Item", TEXT, "Item (or blank and a family: applies to all its items).", nullable=True),
    _c("family", "Family", TEXT, nullable=True),
    _c("resource", "Resource", TEXT, "Resource from Capacity."),
    _c("hours_per_unit", "Hours per Unit", NUMBER, unit="hours/unit", min=0, fmt="ratio"),
), "Hours of each resource one unit needs.")

SUPPLIERS = Table("Suppliers", "Suppliers", Role.INPUT, (
    _c("item", "Item", TEXT),
    _c("supplier", "Supplier", TEXT),
    _c("lead_time", "Lead Time", INTEGER, unit="months", min=0, max=24),
    _c("fill_rate", "Fill Rate", PERCENT, "Share of ordered quantity that arrives (reliability).", min=0, max=1),
    _c("max_per_period", "Max per Period", NUMBER, "Most units the supplier can deliver in a month.", unit="units",
       min=0, nullable=True, fmt="qty"),
), "Bought-in items and their suppliers.", key=("item", "supplier"))

AGGREGATE_PARAMS = Table("AggregateParams", "AggregateParams", Role.INPUT, (
    _c("family", "Family", TEXT, "Family planned at the aggregate level (its demand is the sum of its items')."),
    _c("start_workforce", "Workforce", NUMBER, "Workers at the start of the cycle.", unit="workers", min=0),
    _c("hours_per_unit", "Hours per Unit", NUMBER, unit="hours/unit", min=0.000001, fmt="ratio"),
    _c("regular_hours_per_worker", "Regular Hours/Worker", NUMBER, "Paid regular hours per worker and month.",
       unit="hours", min=0.000001, nullable=True, default=160.0, fmt="hours"),
    _c("max_overtime_hours_per_worker", "Max Overtime/Worker", NUMBER, unit="hours", min=0, nullable=True,
       default=0.0, fmt="hours"),
    _c("hire_cost", "Hire Cost", NUMBER, unit="currency/worker", min=0, nullable=True, default=0.0, fmt="money"),
    _c("layoff_cost", "Layoff Cost", NUMBER, unit="currency/worker", min=0, nullable=True, default=0.0, fmt="money"),
    _c("regular_hour_cost", "Regular Cost/h", NUMBER, unit="currency/hour", min=0, nullable=True, default=0.0,
       fmt="money"),
    _c("overtime_hour_cost", "Overtime Cost/h", NUMBER, unit="currency/hour", min=0, nullable=True, default=0.0,
       fmt="money"),
    _c("subcontract_cost", "Subcontract Cost/Unit", NUMBER, "Blank: no subcontracting.", unit="currency/unit",
       min=0, nullable=True, fmt="money"),
    _c("max_subcontract", "Max Subcontract/Month", NUMBER, "Blank: no limit.", unit="units", min=0, nullable=True,
       fmt="qty"),
    _c("min_end_inventory", "Min End Inventory", NUMBER, unit="units", min=0, nullable=True, default=0.0, fmt="qty"),
    _c("strategy", "Strategy", TEXT, "Plan written to AggregatePlan (all three are costed in AggregateCosts).",
       nullable=True, default="optimal", choices=("optimal", "level", "chase")),
    _c("integer", "Whole Numbers", BOOL, "Whole workers and units (MILP).", nullable=True, default=False),
), "Workforce and cost parameters of the family aggregate production plan (optional sheet). Material, holding and "
   "backlog costs and opening stock come from Items, Inventory and Settings.", key=("family",))

BUDGET = Table("Budget", "Budget", Role.INPUT, (
    _c("family", "Family", TEXT),
    _c("item", "Item", TEXT, "Blank for a family-level budget.", nullable=True),
    _c("period", "Period", PERIOD),
    _c("units", "Units", NUMBER, unit="units", fmt="qty"),
    _c("revenue", "Revenue", NUMBER, unit="currency", fmt="money0"),
), "Finance's budget by family (or item) and month. Filled by Import budget (snop_xl.commands.import_budget) from the "
   "BudgetPaste sheet, a CSV or another workbook; edit by re-importing.", key=("family", "item", "period"))

#: A free-form input sheet with no Excel table: finance pastes a budget here from A1 in whatever shape their model
#: produces (months as columns or rows, title rows, totals); Import budget normalises it into the Budget table.
BUDGET_PASTE_SHEET = "BudgetPaste"

#: The scenario that is the plan itself (never re-run; the comparison's first row).
BASE_SCENARIO = "Base"

SCENARIOS = Table("Scenarios", "Scenarios", Role.INPUT, (
    _c("scenario", "Scenario", TEXT, "Name; several rows may build one scenario."),
    _c("scope", "Applies To", TEXT, "Blank = everything; else a family, item, resource or supplier name.",
       nullable=True, default=""),
    _c("start", "From", PERIOD, "First month affected (blank = plan start).", nullable=True),
    _c("end", "To", PERIOD, "Last month affected (blank = plan end).", nullable=True),
    _c("demand_factor", "Demand Factor", NUMBER, nullable=True, default=1.0, min=0, fmt="ratio"),
    _c("capacity_factor", "Capacity Factor", NUMBER, nullable=True, default=1.0, min=0, fmt="ratio"),
    _c("supply_factor", "Supplier Fill Factor", NUMBER, nullable=True, default=1.0, min=0, fmt="ratio"),
    _c("price_factor", "Price Factor", NUMBER, nullable=True, default=1.0, min=0, fmt="ratio"),
    _c("cost_factor", "Cost Factor", NUMBER, nullable=True, default=1.0, min=0, fmt="ratio"),
    _c("note", "Note", TEXT, nullable=True, required=False, default=""),
), "What-if cases (best, worst, ...) as factors on the base inputs.")

DECISIONS = Table("Decisions", "Decisions", Role.INPUT, (
    _c("date", "Date", DATE),
    _c("decision", "Decision", TEXT),
    _c("owner", "Owner", TEXT),
    _c("due", "Due", PERIOD, "Month the decision is to be carried out by (blank: no date).", required=False,
       nullable=True),
    _c("scenario", "Scenario", TEXT, "Scenario chosen (blank = base).", nullable=True, default=""),
    _c("note", "Note", TEXT, nullable=True, required=False, default=""),
), "Executive decisions recorded with the published plan.")

# ----------------------------------------------------------------------------------------------------------------
# Output tables
# ----------------------------------------------------------------------------------------------------------------
_Q = dict(fmt="qty", unit="units", nullable=True)
_M = dict(fmt="money0", unit="currency", nullable=True)  # totals: whole currency units (prices keep cents)

DEMAND_PLAN = Table("DemandPlan", "DemandPlan", Role.OUTPUT, (
    _c("level", "Level", TEXT, "Item, Family or Total; family and total rows are sums of their items.",
       choices=("Item", "Family", "Total")),
    _c("family", "Family", TEXT, nullable=True),
    _c("item", "Item", TEXT, "Blank on family and total rows.", nullable=True),
    _c("period", "Period", PERIOD),
    _c("statistical", "Statistical", NUMBER, "Statistical forecast (baseline).", **_Q),
    _c("lo_80", "Lo 80", NUMBER, "Lower bound of the 80% prediction interval.", **_Q),
    _c("hi_80", "Hi 80", NUMBER, **_Q),
    _c("lo_95", "Lo 95", NUMBER, **_Q),
    _c("hi_95", "Hi 95", NUMBER, **_Q),
    _c("events", "Events", NUMBER, "Uplift from Events.", **_Q),
    _c("orders", "Orders", NUMBER, "Open orders requested in the month (pipeline horizon only).", required=False,
       **_Q),
    _c("pipeline", "Weighted Pipeline", NUMBER, "Quantity x probability of the open deals closing in the month "
       "(pipeline horizon only; a family deal spread by forecast share).", required=False, **_Q),
    _c("signals", "Orders & Pipeline", NUMBER, "What orders and pipeline add before overrides: max(orders, "
       "max(0, statistical + events) + max(0, weighted pipeline - statistical)) - max(0, statistical + events).",
       required=False, **_Q),
    _c("override", "Override", NUMBER, "Final override quantity, blank if none; on family and total rows the sum "
       "over the overridden items only.", **_Q),
    _c("consensus", "Consensus", NUMBER, "Demand the plan is built on.", **_Q),
    _c("method", "Method", TEXT, "Model used for the item. With Forecast method auto: ets+theta+snaive (median of "
       "log and additive damped Holt-Winters, optimised Theta and seasonal naive; two seasons of history or more), "
       "combination (mean of SES, damped Holt and Theta; less than two seasons of history), imapa+tsb (intermittent "
       "demand: mean of IMAPA, temporal aggregation, and TSB; imapa, tsb, adida or sba where that single model "
       "forecast the item's own last months clearly better; ending \"(relaunched)\": fitted on the months since "
       "its demand restarted, after half a season or more without any, and has run steadily for a season), "
       "mean (short history) (fewer than 4 months), "
       "inactive (no demand for two seasons and three usual intervals: 0, bounds 0; any method), "
       "zero history, no history (new item: 0). Otherwise the method named in Settings (croston, sba, tsb: "
       "intermittent models).", nullable=True),
    _c("notes", "Notes", TEXT, "The Events and Overrides rows behind the month, in table order: what, who, why "
       "(on family rows: those given for the whole family), then the Pipeline deals counted in it.", nullable=True),
), "Demand plan: statistical forecast, events, overrides and consensus per item and month. Family and total rows "
   "are sums of their items, the interval bounds included (a family's own interval would be narrower).")

CONTRIBUTIONS = Table("Contributions", "DemandPlan", Role.OUTPUT, (
    _c("owner", "Contributor", TEXT, "Who gave the number (a contributor row of the Demand review)."),
    _c("item", "Item", TEXT),
    _c("period", "Period", PERIOD),
    _c("qty", "Qty", NUMBER, "The item's demand that month after this contributor's numbers (a family override "
       "spread over its items).", **_Q),
    _c("source", "Source", TEXT, "Grid: typed into the Demand review; Overrides: from the Overrides table.",
       choices=("Grid", "Overrides")),
    _c("reason", "Reason", TEXT, nullable=True),
), "Every contributor number the Demand review shows, as the engine wrote it: the next run compares the review's "
   "cells with it to find what was typed since (an edit), and keeps grid edits run after run.")

SUPPLY_PLAN = Table("SupplyPlan", "SupplyPlan", Role.OUTPUT, (
    _c("item", "Item", TEXT),
    _c("family", "Family", TEXT),
    _c("period", "Period", PERIOD),
    _c("demand", "Demand", NUMBER, "Consensus demand.", **_Q),
    _c("opening", "Opening", NUMBER, "Inventory at the start of the month.", **_Q),
    _c("supply", "Planned Supply", NUMBER, "Production or purchases arriving in the month.", **_Q),
    _c("closing", "Closing", NUMBER, "Projected inventory at month end: opening + supply - (demand - shortage).",
       **_Q),
    _c("safety_stock", "Safety Stock", NUMBER, "Target stock at month end (Inventory policy).", **_Q),
    _c("shortage", "Shortage", NUMBER, "Demand not met in the month; it is lost, not carried to the next month.",
       **_Q),
    _c("days_of_supply", "Days of Supply", NUMBER, "Closing inventory in days of next months' demand.",
       fmt="qty1", unit="days", nullable=True),
    _c("production", "Production", NUMBER, "Part of the supply made on own resources.", required=False, **_Q),
    _c("purchases", "Purchases", NUMBER, "Part of the supply received from suppliers (after fill rate).",
       required=False, **_Q),
), "Projected inventory and planned supply per item and month (constrained plan, HiGHS).")

CAPACITY_PLAN = Table("CapacityPlan", "CapacityPlan", Role.OUTPUT, (
    _c("resource", "Resource", TEXT),
    _c("period", "Period", PERIOD),
    _c("required_hours", "Required Hours", NUMBER, "Load of the planned supply.", fmt="hours", unit="hours"),
    _c("available_hours", "Available Hours", NUMBER, fmt="hours", unit="hours"),
    _c("overtime_hours", "Overtime Used", NUMBER, fmt="hours", unit="hours"),
    _c("unconstrained_hours", "Unconstrained Load", NUMBER, "Load if all demand were produced.", fmt="hours",
       unit="hours"),
    _c("utilisation", "Utilisation", PERCENT, "Required / available regular hours.", nullable=True),
    _c("overloaded", "Overloaded", BOOL, "Unconstrained load exceeds regular + overtime hours."),
    _c("overtime_limit", "Overtime Limit", NUMBER, fmt="hours", unit="hours", required=False, nullable=True),
    _c("binding", "Binding", TEXT, "regular: all regular hours used; overtime: regular and overtime all used.",
       required=False, nullable=True, choices=("regular", "overtime")),
    _c("shadow_price", "Value of 1 More Hour", NUMBER, "Cost the plan saves with one more regular hour here "
       "(LP dual).", unit="currency/hour", fmt="money", required=False, nullable=True),
    _c("overtime_shadow_price", "Value of 1 More OT Hour", NUMBER, "Cost saved with one more overtime hour.",
       unit="currency/hour", fmt="money", required=False, nullable=True),
    _c("note", "Why Required Differs", TEXT, "Hours of the month's demand served from stock, bought in or lost, and "
       "hours built ahead for later months: Required = Unconstrained - these + built ahead. The first months often "
       "read low: opening stock serves demand before anything is made.", required=False, nullable=True),
), "Rough-cut capacity: load per resource and month against what is available, and what binds.")

GAPS = Table("Gaps", "Reconciliation", Role.OUTPUT, (
    _c("level", "Level", TEXT, "Family rows for every month; Item rows only where the item is short.",
       choices=("Item", "Family")),
    _c("family", "Family", TEXT),
    _c("item", "Item", TEXT, "Blank on family rows.", nullable=True),
    _c("period", "Period", PERIOD),
    _c("demand", "Demand", NUMBER, **_Q),
    _c("supply", "Supply", NUMBER, "Planned supply arriving in the month.", **_Q),
    _c("gap", "Gap", NUMBER, "Supply - demand (negative: the month draws on stock or is short).", **_Q),
    _c("shortage", "Shortage", NUMBER, "Demand not met after using stock.", **_Q),
    _c("gap_value", "Gap Value", NUMBER, "Gap at unit price.", **_M),
    _c("shortage_value", "Shortage Value", NUMBER, "Revenue at risk: shortage at unit price.", **_M),
), "Demand vs supply per family and month, and per item where it is short.")

EXCEPTION_KINDS = ("Shortage", "Capacity overload", "Below safety stock", "Excess stock", "Obsolete risk",
                   "Forecast bias", "Consensus vs statistical", "Plan below budget",
                   "Outlook below budget", "Below open orders", "Stale deal", "Large deal")

EXCEPTIONS = Table("Exceptions", "Exceptions", Role.OUTPUT, (
    _c("rank", "Rank", INTEGER, "1 = most money at stake."),
    _c("kind", "Exception", TEXT, choices=EXCEPTION_KINDS),
    _c("family", "Family", TEXT, nullable=True),
    _c("item", "Item", TEXT, "Item, or the resource for a capacity overload.", nullable=True),
    _c("period", "Period", PERIOD, "First month concerned (blank: the whole horizon).", nullable=True),
    _c("months", "Months", INTEGER, "How many months are concerned.", nullable=True),
    _c("units", "Size", NUMBER, "How big, in the unit of measure.", **_Q),
    _c("uom", "Unit of Measure", TEXT, "units or hours.", nullable=True),
    _c("value", "Value", NUMBER, "Money at stake.", **_M),
    _c("message", "Message", TEXT, width=110, wrap=True),
    _c("link", "Go To", TEXT, "Excel hyperlink to the cell the exception is about.", nullable=True),
), "Exceptions for the pre-S&OP meeting, ranked by money at stake.")

SCENARIO_COMPARISON = Table("ScenarioComparison", "ScenarioComparison", Role.OUTPUT, (
    _c("scenario", "Scenario", TEXT, "Base is the plan as computed; the others re-run steps 1-2 with their "
       "factors."),
    _c("demand_units", "Demand Units", NUMBER, **_Q),
    _c("supplied_units", "Supplied Units", NUMBER, "Demand met.", **_Q),
    _c("revenue", "Revenue", NUMBER, **_M),
    _c("cogs", "COGS", NUMBER, **_M),
    _c("margin", "Gross Margin", NUMBER, **_M),
    _c("fill_rate", "Fill Rate", PERCENT, "Supplied / demand units (service level).", nullable=True),
    _c("shortage_units", "Shortage Units", NUMBER, **_Q),
    _c("shortage_value", "Shortage Value", NUMBER, "Shortage at unit price.", **_M),
    _c("inventory_value", "Ending Inventory Value", NUMBER, **_M),
    _c("utilisation", "Capacity Utilisation", PERCENT, "Required / available regular hours, all resources.",
       nullable=True),
    _c("overloaded_months", "Overloaded Resource-Months", INTEGER, nullable=True),
    _c("plan_cost", "Cost of Plan", NUMBER, "Holding + backlog + regular and overtime labour.", **_M),
    _c("aggregate_cost", "Aggregate Plan Cost", NUMBER, "Total cost of the family aggregate plans (AggregateCosts, "
       "the strategy chosen per family, at Items' costs); blank without AggregateParams or when a family's chosen "
       "strategy has no plan.", required=False, **_M),
    _c("margin_vs_base", "Margin vs Base", NUMBER, **_M),
), "Base and every scenario side by side.")

FINANCIALS = Table("Financials", "Financials", Role.OUTPUT, (
    _c("horizon", "Rows", TEXT, "Month rows (the fiscal year's past months, then the plan's), then totals: YTD "
       "(fiscal year to date: months before the cycle month), Outlook (the full fiscal year: YTD actuals + rest-of-"
       "year plan) and Horizon (the plan's months).", choices=("Month", "YTD", "Outlook", "Horizon")),
    _c("basis", "Basis", TEXT, "Actual: History's units at Items' price and cost (months before the cycle month); "
       "Plan: the supply plan; Actual + plan: both (Outlook).", choices=("Actual", "Plan", "Actual + plan"),
       required=False, nullable=True),
    _c("level", "Level", TEXT, "Family, or Total of all families.", choices=("Family", "Total")),
    _c("family", "Family", TEXT),
    _c("period", "Period", PERIOD, "The month (on YTD/Outlook/Horizon rows: the last month covered)."),
    _c("plan_units", "Plan Units", NUMBER, "Units sold: in the plan (demand met), or actual (History) on Actual "
       "rows.", **_Q),
    _c("revenue", "Revenue", NUMBER, **_M),
    _c("cogs", "COGS", NUMBER, **_M),
    _c("margin", "Gross Margin", NUMBER, **_M),
    _c("inventory_value", "Inventory Value", NUMBER, "Closing inventory at unit cost (blank on Actual rows).",
       **_M),
    _c("budget_units", "Budget Units", NUMBER, **_Q),
    _c("budget_revenue", "Budget Revenue", NUMBER, **_M),
    _c("units_variance", "Units Variance", NUMBER, "Plan (or actual) - budget (budgeted months only).", **_Q),
    _c("revenue_variance", "Revenue Variance", NUMBER, "Plan (or actual) - budget = price + volume + mix.", **_M),
    _c("revenue_variance_pct", "Revenue Variance %", PERCENT, nullable=True),
    _c("price_effect", "Price Effect", NUMBER, "Plan units x (plan price - budget price).", **_M),
    _c("volume_effect", "Volume Effect", NUMBER, "Change in units at the budget's average price.", **_M),
    _c("mix_effect", "Mix Effect", NUMBER, "Shift between items (family rows) or families (total rows).", **_M),
    _c("favourable", "F/U", TEXT, "F: favourable, U: unfavourable revenue variance.", nullable=True),
), "The plan in money against finance's budget, per family and month (see docs/finance.md).")

DASHBOARD = Table("Dashboard", "Dashboard", Role.OUTPUT, (
    _c("metric", "Metric", TEXT),
    _c("value", "Value", NUMBER, "Whole numbers; percentages and hours with one decimal.", nullable=True, fmt="qty",
       fmt_by="unit"),
    _c("unit", "Unit", TEXT, "Currency code, units, hours, % or count.", nullable=True),
), "Headline figures of the cycle; the native charts beside it read the ChartData sheet.")

CHART_DEMAND = Table("ChartDemand", "ChartData", Role.OUTPUT, (
    _c("family", "Family", TEXT, "A family, or Total; rows of one family are contiguous (one chart each)."),
    _c("period", "Period", PERIOD),
    _c("history", "History", NUMBER, "Units sold (past months).", **_Q),
    _c("statistical", "Statistical", NUMBER, **_Q),
    _c("consensus", "Consensus", NUMBER, **_Q),
    _c("budget_units", "Budget", NUMBER, **_Q),
    _c("supply", "Supply", NUMBER, "Planned supply.", **_Q),
    _c("shortage", "Shortage", NUMBER, **_Q),
), "Series behind the Dashboard's demand and supply charts.")

CHART_CAPACITY = Table("ChartCapacity", "ChartData", Role.OUTPUT, (
    _c("resource", "Resource", TEXT, "Rows of one resource are contiguous (one chart series each)."),
    _c("period", "Period", PERIOD),
    _c("utilisation", "Utilisation", PERCENT, "Required / available regular hours.", nullable=True),
    _c("required_hours", "Required Hours", NUMBER, fmt="hours", unit="hours", nullable=True),
    _c("available_hours", "Available Hours", NUMBER, fmt="hours", unit="hours", nullable=True),
), "Series behind the Dashboard's capacity chart.")

KPIS = Table("KPIs", "KPIs", Role.OUTPUT, (
    _c("level", "Level", TEXT, choices=("Item", "Family", "Total")),
    _c("name", "Name", TEXT, "Item or family name, or Total."),
    _c("metric", "Metric", TEXT),
    _c("step", "Step", TEXT, "Forecast step or owner (for forecast value added).", nullable=True),
    _c("lag", "Lag", INTEGER, "Months ahead the forecast was made.", nullable=True),
    _c("value", "Value", NUMBER, nullable=True, fmt="ratio"),
    _c("observations", "Observations", INTEGER, nullable=True),
    _c("cycle", "Cycle", PERIOD, "Cycle month of the published plan measured (blank: all cycles together).",
       nullable=True),
    _c("basis", "Basis", TEXT, "published: archived plans vs actuals; backtest: forecasts recomputed from History; "
       "plan: the current plan.", nullable=True, choices=("published", "backtest", "plan")),
), "Performance indicators where actuals exist (definitions: docs/kpis.md).")

_R = dict(fmt="percent", nullable=True)
KPI_TREND = Table("KPITrend", "KPIs", Role.OUTPUT, (
    _c("name", "Name", TEXT, "Family, or Total; the rows of one name are contiguous (one chart each)."),
    _c("cycle", "Cycle", PERIOD, "Cycle month of the published plan (its last revision)."),
    _c("accuracy_lag1", "Accuracy Lag 1", NUMBER, "1 - WAPE of the consensus forecast made 1 month ahead.", **_R),
    _c("accuracy_lag2", "Accuracy Lag 2", NUMBER, **_R),
    _c("accuracy_lag3", "Accuracy Lag 3", NUMBER, **_R),
    _c("bias_lag1", "Bias Lag 1", NUMBER, "Sum(F - A) / sum(A) of the consensus at lag 1: + over-forecast.", **_R),
    _c("bias_lag2", "Bias Lag 2", NUMBER, **_R),
    _c("bias_lag3", "Bias Lag 3", NUMBER, **_R),
), "Consensus accuracy and bias per published cycle: the series behind the KPIs sheet's charts.")

PLAN_VERSION = Table("PlanVersion", "Dashboard", Role.OUTPUT, (
    _c("version", "Plan Version", TEXT),
    _c("cycle_month", "Cycle", PERIOD),
    _c("content_hash", "Input Hash", TEXT, "SHA-256 of the inputs the plan was computed from.", width=16),
    _c("approver", "Approver", TEXT, nullable=True),
    _c("status", "Status", TEXT, "Draft until `snop-xl publish` stores the plan in the archive.",
       choices=("Draft", "Published")),
    _c("published_at", "Published At", DATE, "When it was published (UTC).", nullable=True, fmt="datetime",
       width=19),
    _c("archive", "Archive", TEXT, "SQLite file holding the published versions.", nullable=True),
    _c("scenario", "Scenario", TEXT, "Scenario chosen: the latest decision naming one (Decisions), else base.",
       nullable=True),
    _c("decisions", "Decisions", INTEGER, "Rows of the Decisions log archived with the version.", nullable=True),
), "Identity of the plan in this workbook.")

PLAN_DIFF = Table("PlanDiff", "PlanDiff", Role.OUTPUT, (
    _c("rank", "Rank", INTEGER, "0 = the measure's total; 1 = the family that moved most."),
    _c("measure", "Measure", TEXT, "What changed: demand, supply (units) or revenue, margin (money)."),
    _c("family", "Family", TEXT, "Family, or Total."),
    _c("from_value", "From", NUMBER, "Value in the older version over the months both versions plan.", **_Q),
    _c("to_value", "To", NUMBER, **_Q),
    _c("change", "Change", NUMBER, "To - From.", **_Q),
    _c("change_pct", "Change %", PERCENT, nullable=True),
    _c("from_version", "From Version", TEXT),
    _c("to_version", "To Version", TEXT),
), "What changed between two published plan versions (`snop-xl diff`), biggest movers first.")

LOG = Table("Log", "Log", Role.OUTPUT, (
    _c("timestamp", "Timestamp", DATE, fmt="datetime", width=19),
    _c("step", "Step", TEXT),
    _c("level", "Level", TEXT, choices=("INFO", "WARNING", "ERROR")),
    _c("message", "Message", TEXT),
    _c("location", "Where", TEXT, "Sheet!Cell the message is about.", nullable=True),
), "What each run did, appended.")

# ----------------------------------------------------------------------------------------------------------------
AGGREGATE_PLAN = Table("AggregatePlan", "AggregatePlan", Role.OUTPUT, (
    _c("family", "Family", TEXT),
    _c("strategy", "Strategy", TEXT),
    _c("period", "Period", PERIOD),
    _c("demand", "Demand", NUMBER, **_Q),
    _c("workforce", "Workforce", NUMBER, fmt="qty1", unit="workers"),
    _c("hired", "Hired", NUMBER, fmt="qty1", unit="workers"),
    _c("laid_off", "Laid Off", NUMBER, fmt="qty1", unit="workers"),
    _c("regular_production", "Regular Production", NUMBER, **_Q),
    _c("overtime_hours", "Overtime Hours", NUMBER, fmt="hours", unit="hours"),
    _c("overtime_production", "Overtime Production", NUMBER, **_Q),
    _c("subcontract", "Subcontract", NUMBER, **_Q),
    _c("production", "In-house Production", NUMBER, "Regular + overtime units.", **_Q),
    _c("inventory", "Inventory", NUMBER, "End of month.", **_Q),
    _c("backlog", "Backlog", NUMBER, "Demand owed at month end.", **_Q),
), "Family aggregate production plan under the strategy chosen in AggregateParams.")

AGGREGATE_COSTS = Table("AggregateCosts", "AggregatePlan", Role.OUTPUT, (
    _c("family", "Family", TEXT),
    _c("strategy", "Strategy", TEXT, "optimal, level or chase."),
    _c("chosen", "Chosen", BOOL, "The strategy shown in AggregatePlan."),
    _c("total_cost", "Total Cost", NUMBER, **_M),
    _c("material", "Material", NUMBER, **_M),
    _c("regular_time", "Regular Time", NUMBER, **_M),
    _c("overtime", "Overtime", NUMBER, **_M),
    _c("subcontract", "Subcontract", NUMBER, **_M),
    _c("hire", "Hiring", NUMBER, **_M),
    _c("layoff", "Layoffs", NUMBER, **_M),
    _c("holding", "Holding", NUMBER, **_M),
    _c("backlog", "Backlog", NUMBER, **_M),
    _c("note", "Note", TEXT, "Why a strategy has no plan for the family (blank when it has one).", required=False,
       nullable=True),
), "Cost of each family's plan under every strategy, by component, for the pre-S&OP comparison.")

# ----------------------------------------------------------------------------------------------------------------
# Sheets, in workbook order
# ----------------------------------------------------------------------------------------------------------------
#: Output sheets laid out as planning grids (no Excel table; see snop_xl.contract.review) and the data sheet each shows
REVIEW_SHEETS = {"DemandReview": "DemandPlan", "SupplyReview": "SupplyPlan", "FinancialReview": "Financials",
                 "KPIReview": "KPIs"}
#: The model's sheets in the order of the cycle: first what people read in the meeting (the review sheets with the
#: reconciliation, scenarios and dashboard between them), then the long data tables behind them
OUTPUT_SHEET_ORDER = ("DemandReview", "SupplyReview", "Exceptions", "Reconciliation", "ScenarioComparison",
                      "FinancialReview", "Dashboard", "KPIReview",
                      "DemandPlan", "SupplyPlan", "CapacityPlan", "AggregatePlan", "Financials", "KPIs", "PlanDiff",
                      "Log", "ChartData")
#: machine-only sheets, hidden in every book (the charts that read them still show)
HIDDEN_SHEETS = ("ChartData",)
#: sheets whose first screen is a canvas of tiles and charts, its tables to the right of it: the columns it takes
#: (the Dashboard: six tiles a row, each a wide column and a narrow gap, then one empty column)
CANVAS_COLUMNS = {"Dashboard": 2 * 6 + 1}

_SHEET_DOCS = {
    "Settings": "Cycle parameters.",
    "Items": "Item master.",
    "History": "Sales history.",
    "Events": "Promotions and market intelligence.",
    "Overrides": "Sales and marketing overrides.",
    "Orders": "Open customer orders (optional).",
    "Pipeline": "Sales opportunities (optional).",
    "Inventory": "Stock and safety stock policy.",
    "Capacity": "Resource capacity.",
    "BillOfResources": "Load per unit.",
    "Suppliers": "Supplier terms.",
    "AggregateParams": "Family aggregate-plan parameters (optional).",
    "Budget": "Finance's budget.",
    BUDGET_PASTE_SHEET: "Paste area for finance's budget in any layout, from A1; Import budget reads it.",
    "Scenarios": "What-if scenarios.",
    "Decisions": "Executive decisions.",
    "DemandReview": "Step 1 review: Total, families and items down the rows, months across; contributors type "
                    "their numbers into the yellow rows and the consensus, family and total rows recalculate.",
    "DemandPlan": "Step 1 output.",
    "SupplyReview": "Step 2 review: demand, supply, projected inventory against safety stock, shortages and days "
                    "of supply by family and item, and each resource's load against capacity as a heat map.",
    "SupplyPlan": "Step 2 output.",
    "CapacityPlan": "Step 2 output.",
    "AggregatePlan": "Step 2 output: family aggregate plans and strategy costs.",
    "Exceptions": "Step 3: what the pre-S&OP meeting should look at, ranked by money at stake, each with a link to "
                  "the cell it is about.",
    "Reconciliation": "Step 3 output: demand vs supply gaps per family and month, and per short item.",
    "ScenarioComparison": "Step 3-4 output.",
    "FinancialReview": "Step 4 review: revenue by family and month against budget and last year, with margin, "
                       "quarters and fiscal years; variances coloured favourable / unfavourable.",
    "Financials": "Step 4 output.",
    "Dashboard": "Step 4-5 output.",
    "KPIReview": "Step 5 review: forecast accuracy, bias and value added per step and contributor, by lag, for the "
                 "Total and each family (items folded below).",
    "KPIs": "Step 5 output.",
    "PlanDiff": "Changes between two published versions (snop-xl diff --sheet).",
    "Log": "Run log.",
    "ChartData": "Series behind the Dashboard charts (step 4 output).",
}

INPUT_TABLES: tuple[Table, ...] = (SETTINGS_TABLE, ITEMS, HISTORY, EVENTS, OVERRIDES, ORDERS, PIPELINE,
                                   INVENTORY, CAPACITY,
                                   BILL_OF_RESOURCES, SUPPLIERS, AGGREGATE_PARAMS, BUDGET, SCENARIOS, DECISIONS)
OUTPUT_TABLES: tuple[Table, ...] = (DEMAND_PLAN, CONTRIBUTIONS, SUPPLY_PLAN, CAPACITY_PLAN, AGGREGATE_PLAN,
                                    AGGREGATE_COSTS, GAPS, EXCEPTIONS, SCENARIO_COMPARISON,
                                    FINANCIALS, DASHBOARD, PLAN_VERSION, KPIS, KPI_TREND, PLAN_DIFF, LOG,
                                    CHART_DEMAND, CHART_CAPACITY)
TABLES: dict[str, Table] = {t.name: t for t in INPUT_TABLES + OUTPUT_TABLES}


def _sheets() -> dict[str, Sheet]:
    order: dict[str, list[Table]] = {}
    for t in INPUT_TABLES + OUTPUT_TABLES:
        order.setdefault(t.sheet, []).append(t)
    sheets = {}
    for name, tables in order.items():
        roles = {t.role for t in tables}
        assert len(roles) == 1, f"sheet {name} mixes inputs and outputs"
        role = roles.pop()
        if role is Role.OUTPUT:
            continue
        sheets[name] = Sheet(name, role, _SHEET_DOCS[name], tuple(tables))
        if name == BUDGET.sheet:  # the table-less paste area sits right after the Budget sheet
            sheets[BUDGET_PASTE_SHEET] = Sheet(BUDGET_PASTE_SHEET, Role.INPUT, _SHEET_DOCS[BUDGET_PASTE_SHEET])
    assert set(OUTPUT_SHEET_ORDER) == {n for n, ts in order.items() if ts[0].role is Role.OUTPUT} | set(
        REVIEW_SHEETS), "every output sheet has its place in OUTPUT_SHEET_ORDER"
    for name in OUTPUT_SHEET_ORDER:  # review sheets hold no table
        sheets[name] = Sheet(name, Role.OUTPUT, _SHEET_DOCS[name], tuple(order.get(name, ())),
                             hidden=name in HIDDEN_SHEETS, canvas_columns=CANVAS_COLUMNS.get(name, 0))
    return sheets


SHEETS.update(_sheets())
INPUT_SHEETS = tuple(s for s in SHEETS if SHEETS[s].role is Role.INPUT)
OUTPUT_SHEETS = tuple(s for s in SHEETS if SHEETS[s].role is Role.OUTPUT)


def moved_by_contract(spec: Table, sheet: str, column: int) -> bool:
    """An output table found on `sheet` at `column` where an older contract put it: on another of the model's
    sheets that no longer holds it (Exceptions sat beside Gaps on Reconciliation), or elsewhere on its own sheet
    (the Dashboard's tables sat left of its tiles). The engine owns those cells, so the stray table is cleared and
    written where it belongs; anything else (an input, a renamed sheet) is left to the user."""
    if spec.role is not Role.OUTPUT or sheet not in SHEETS or SHEETS[sheet].role is not Role.OUTPUT:
        return False
    if sheet == spec.sheet:
        return column != spec.first_column
    return spec not in SHEETS[sheet].tables


def table(name: str) -> Table:
    """The table called `name` (engine name like "Items" or ListObject name like "tblItems")."""
    key = name[3:] if name.startswith("tbl") and name[3:] in TABLES else name
    try:
        return TABLES[key]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known: {', '.join(TABLES)}") from None
