"""Where things sit on the review sheets (planning grids with no Excel table): the one layout that the grid builder
(`snop_xl.steps.grids`) writes and the reader of planners' edits (`snop_xl.inputs`) reads back.

Demand review, from the top: a title row, a help row, the header row (month headers are first-of-month dates, then
quarter and fiscal-year columns headed by text), then blocks of key-figure rows: Total, each family, and after each
family its items. Column A holds the block's name (Total, the family, the item code) on every row of the block,
column C the key figure. A row whose key figure is not one of the engine's (KEY_FIGURES) is a contributor's row:
its label is the contributor's name, its month cells are theirs to type into and its Note cell is their reason.
"""

from __future__ import annotations

DEMAND_REVIEW = "DemandReview"
TITLE_ROW, HELP_ROW, HEADER_ROW, FIRST_ROW = 1, 2, 3, 4
COL_NAME, COL_DESCRIPTION, COL_FIGURE, COL_NOTE = 1, 2, 3, 4
FIRST_MONTH_COL = 5
#: actual months shown before the plan's first month
ACTUAL_MONTHS = 12

TOTAL = "Total"
ACTUALS, STATISTICAL, EVENTS = "Actuals", "Statistical", "Events"
CONSENSUS, PUBLISHED, BUDGET = "Consensus", "Last published", "Budget"
#: open orders and weighted pipeline (rows shown when the book has Orders or Pipeline rows)
ORDERS, PIPELINE = "Orders", "Pipeline"
#: the engine's key figures; any other label in the key-figure column names a contributor
KEY_FIGURES = (ACTUALS, STATISTICAL, EVENTS, CONSENSUS, PUBLISHED, BUDGET, ORDERS, PIPELINE)
#: contributors when neither the Contributors setting nor the Overrides table names any
DEFAULT_CONTRIBUTORS = ("Sales", "Marketing")

# Supply review: title, help and header rows as above; blocks of key-figure rows for the Total, each family and
# after it its items, then one capacity block per resource. Column A the block's name, B what it is (description,
# Family, Resource), C the key figure, D its unit; months from E, then quarters and fiscal years.
SUPPLY_REVIEW = "SupplyReview"
COL_UNIT = 4
DEMAND, SUPPLY, INVENTORY, SAFETY_STOCK = "Demand", "Planned supply", "Projected inventory", "Safety stock"
SHORTAGE, DAYS_OF_SUPPLY = "Shortage", "Days of supply"
SUPPLY_FIGURES = (DEMAND, SUPPLY, INVENTORY, SAFETY_STOCK, SHORTAGE, DAYS_OF_SUPPLY)
LOAD, CAPACITY, UTILISATION = "Load", "Capacity", "Utilisation"
CAPACITY_FIGURES = (LOAD, CAPACITY, UTILISATION)
RESOURCE = "Resource"  # column B of a capacity block

# Financial review: title, help and header rows as above; blocks for the Total and each family. Column A the
# block's name, B the key figure; months (the fiscal year's past months as actuals, then the plan's) from C, then
# quarters and fiscal years.
KPI_REVIEW = "KPIReview"
FINANCIAL_REVIEW = "FinancialReview"
FIN_COL_NAME, FIN_COL_FIGURE, FIN_FIRST_MONTH_COL = 1, 2, 3
PLAN_REVENUE, BUDGET_REVENUE, VARIANCE, LAST_YEAR, MARGIN = (
    "Plan revenue", "Budget revenue", "Variance", "Last year", "Margin")
FINANCIAL_FIGURES = (PLAN_REVENUE, BUDGET_REVENUE, VARIANCE, LAST_YEAR, MARGIN)

#: docs/workbook.md's section on the review sheets: what is whose, and the rules a typed number follows
GUIDE = """\
**Demand review** (sheet DemandReview, written by step 1). Rows: Total, then each family followed by its items
(Excel outline: the book opens folded to Total and families; the [+] buttons or the 1/2/3 level buttons unfold the
items). Per item: Actuals (the last 12 months, grey), Statistical (the Note column names the model), Events, one row
per contributor, Consensus and Last published (the latest version in the plan archive); families and the Total add
Budget. Columns: 12 actual months, the plan's months, then fiscal quarters and years (a span the sheet holds only
part of says so in its header, e.g. `FY28 (5 of 12 mo)`); the Consensus quarter and year totals add the actuals of
their past months.

Planners' cells: the yellow ones, a contributor's plan months and their Note cell. Everything else is calculated:
typing over it is refused by a data validation (sheet protection would also lock the outline buttons). Contributors
are the Contributors setting (in order of precedence), then any other owner of an Overrides row.

Rules a typed number follows:
- It is that contributor's override for that item and month, exactly as an Overrides row would be (consensus, notes,
  FVA per owner, the archive); the row's Note cell is its reason.
- An item's consensus is the number of the last contributor listed who gave one, else statistical + events (at
  least 0). The Consensus cell is that formula, and family and total rows are sums, so they recalculate as you type.
  With Orders or Pipeline rows in the book, each block also shows Orders (open orders) and Pipeline (weighted
  deals) in the pipeline horizon, and the item's "else" becomes max(Orders, max(0, statistical + events) +
  max(0, Pipeline - statistical)) (docs/pipeline.md).
- Precedence: for one contributor, a number typed in the grid beats that contributor's Overrides row for the same
  item and month; a later contributor beats an earlier one whichever way either gave their number.
- The next run reads the grid before anything else: a cell that differs from what the last run wrote there (the
  Contributions table) is an edit, and is kept, run after run, until it is cleared or typed over. A number shown
  from the Overrides table is not an edit: change or delete that row to change it.
- An edit that can't be placed (text, a negative number, an item no longer active, a month outside the plan) stops
  the run with the cell's address, and nothing is written. An edit for a month that has become actual expires.
- Family-level Overrides rows are spread over the family's items when the cycle runs; between runs the grid shows
  the spread of the last run.

**Supply review** (sheet SupplyReview, written by step 2; nothing on it is typed into). Rows: Total, then each
family followed by its items (folded, as on the Demand review), each with Demand, Planned supply, Projected
inventory, Safety stock, Shortage and Days of supply (the SupplyPlan table's columns); then one block per resource:
Load (required hours), Capacity (available regular hours) and Utilisation = load / capacity, a three-colour heat
map (green below 85%, yellow, red at 100% and over). Red cells: a shortage (more than half a unit), and projected
inventory below the safety stock (as shown, whole units). Family and total rows are sums of the item rows and
utilisation is a formula; days of supply are values: the item's from SupplyPlan, a family's and the total's by the
same rule on their summed inventory and demand. Quarter and fiscal-year columns sum the flows (demand, supply,
shortage, hours) and show the stocks (inventory, safety stock, days of supply) of the span's last month.

**Financial review** (sheet FinancialReview, written by step 4; nothing on it is typed into). Rows: Total, then each
family, each with Plan revenue, Budget revenue, Variance (plan - budget, in budgeted months only: green favourable,
red unfavourable), Last year (History's units of the same month a year earlier at today's Items prices) and Margin
(gross margin). Columns: the fiscal year's past months (grey: actuals, as on the Financials sheet), the plan's
months, then fiscal quarters and years; a fiscal year's column is its Outlook (actuals to date + plan). When the
cycle month is in the fiscal year's last quarter, the next fiscal year's column is there too (`(0 of 12 mo)` when
the horizon ends before it: lengthen the horizon to plan it). Total rows and every quarter and year are formulas.

**KPI review** (sheet KPIReview, written by step 5 and by `publish` / `kpis --write`). Rows: Total, then each family
followed by its items (folded). Per block: Accuracy (1 - WAPE) and Bias of each forecast step, and the Value added
of each step and contributor (red where it removes accuracy); columns: the item-months measured at lag 1, then one
column per lag. Measured on published plans against actuals, all cycles together, when the archive has any; else on
the backtest of the statistical forecast (the title says which). Nothing on it is typed into; every number is a row
of the KPIs table.
"""
