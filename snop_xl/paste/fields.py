"""What the columns of an ERP extract hold, by the names ERPs and planners give them: the fields each input table's
import reads (History from billing lines, Items, Inventory, Capacity) and their header synonyms.

A `Field` says what a column means and how its cells read (text, number, month, flag); `records.RecordReader`
finds the columns of a grid by these names. Fields that are not `stored` are read and shown in the preview only
(net value, customer, plant): the table has no place for them yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from snop_xl.paste.names import FAMILY_HEADERS, ITEM_HEADERS, header_words

TEXT, NUMBER, MONTH, FLAG = "text", "number", "month", "flag"


@dataclass(frozen=True)
class Field:
    """One thing a column may hold: its key, how it is named in messages, how its cells read, its header names."""

    key: str
    label: str
    kind: str
    synonyms: frozenset[str]
    required: bool = False
    stored: bool = True  # False: read and shown in the preview, not written to the table

    def names(self, text: str) -> bool:
        return header_words(text) in self.synonyms


def field(key: str, label: str, kind: str, *names: str | set[str], required: bool = False,
          stored: bool = True) -> Field:
    """A Field whose synonyms are `names` (strings or sets) and its own label and key, as `header_words` gives them."""
    flat: set[str] = {label, key}
    for n in names:
        flat |= n if isinstance(n, set) else {n}
    return Field(key, label, kind, frozenset(header_words(n) for n in flat), required, stored)


_ITEM = ITEM_HEADERS | {"material number", "material no", "item number", "item no", "item id", "part number",
                        "part no", "sku code", "sku number", "article number", "article no", "product id",
                        "product number", "material code", "item code"}
_UOM = {"uom", "unit of measure", "sales unit", "base unit", "base unit of measure", "unit", "bun", "su", "um"}
_CURRENCY = {"currency", "curr", "document currency", "doc currency", "currency key", "crcy"}

#: billing (or order) lines: one sale or return per line, summed to item x month
HISTORY_FIELDS = (
    field("item", "Item", TEXT, _ITEM, required=True),
    field("date", "Date", MONTH, {"billing date", "invoice date", "posting date", "document date", "order date",
                                  "ship date", "shipping date", "delivery date", "goods issue date", "date", "month",
                                  "period", "sales date", "transaction date", "created on"}, required=True),
    field("qty", "Quantity", NUMBER, {"billed qty", "billed quantity", "quantity", "qty", "units", "sales qty",
                                      "sales quantity", "invoiced qty", "invoiced quantity", "order qty",
                                      "ordered qty", "order quantity", "shipped qty", "shipped quantity",
                                      "delivered qty", "delivered quantity", "volume", "qty sold", "units sold",
                                      "quantity sold"}, required=True),
    field("value", "Net value", NUMBER, {"net value", "net amount", "revenue", "net revenue", "sales", "net sales",
                                         "amount", "value", "sales value", "extended price", "line total",
                                         "line amount", "invoice amount", "gross value", "sales amount"},
          stored=False),
    field("uom", "Unit of measure", TEXT, _UOM, stored=False),
    field("currency", "Currency", TEXT, _CURRENCY, stored=False),
    field("customer", "Customer", TEXT, {"customer", "sold to", "sold to party", "ship to", "ship to party",
                                         "customer name", "customer number", "customer no", "customer id", "payer",
                                         "bill to", "account", "client"}, stored=False),
    field("site", "Site", TEXT, {"plant", "site", "warehouse", "location", "storage location", "sales org",
                                 "sales organization", "sales organisation", "sales office", "distribution channel",
                                 "channel", "division", "region", "country", "branch"}, stored=False),
)

#: the item master as ERPs export it
ITEMS_FIELDS = (
    field("item", "Item", TEXT, _ITEM, required=True),
    field("description", "Description", TEXT, {"description", "desc", "material description", "item description",
                                               "product description", "product name", "item name", "name",
                                               "short text", "material name"}),
    field("family", "Family", TEXT, FAMILY_HEADERS | {"material group", "item group", "product category",
                                                      "product hierarchy", "family code", "product family code"}),
    # not required of the file: a price list updating the book's items needs none; a new item does (checked)
    field("unit_price", "Unit Price", NUMBER, {"unit price", "price", "list price", "selling price", "sales price",
                                               "net price", "sell price", "price per unit"}),
    field("unit_cost", "Unit Cost", NUMBER, {"unit cost", "cost", "std cost", "standard cost", "cost price",
                                             "unit std cost", "cost per unit", "unit standard cost", "cogs"}),
    field("lead_time", "Lead Time", NUMBER, {"lead time", "lt", "replenishment lead time", "planned delivery time",
                                             "delivery time", "lead time days", "lead time in days",
                                             "lead time weeks", "lead time in weeks", "lead time months",
                                             "lead time in months", "lead time d", "lead time wks", "lead time wk",
                                             "lt days", "lt weeks", "lt months", "planned delivery time days"}),
    field("min_lot", "Min Lot", NUMBER, {"min lot", "moq", "minimum order quantity", "min order qty",
                                         "minimum lot size", "min lot size", "minimum lot", "min order quantity"}),
    field("lot_multiple", "Lot Multiple", NUMBER, {"lot multiple", "rounding value", "order multiple", "pack size",
                                                   "case pack", "rounding quantity", "lot size multiple"}),
    field("active", "Active", FLAG, {"active", "is active"}),
)

#: an on-hand snapshot, one line per item (and location)
INVENTORY_FIELDS = (
    field("item", "Item", TEXT, _ITEM, required=True),
    field("on_hand", "On Hand", NUMBER, {"on hand", "on hand qty", "qty on hand", "quantity on hand", "unrestricted",
                                         "unrestricted stock", "unrestricted use", "unrestricted use stock", "stock",
                                         "stock qty", "stock quantity", "inventory", "available stock",
                                         "free stock", "onhand", "soh", "stock on hand", "qty", "quantity"},
          required=True),
    field("ss_policy", "Safety Stock Policy", TEXT, {"safety stock policy", "ss policy", "policy"}),
    field("ss_value", "Policy Value", NUMBER, {"policy value", "ss value"}),
    field("safety_stock", "Safety stock (units)", NUMBER, {"safety stock", "safety stock qty", "ss qty",
                                                           "safety stock units"}),
    field("uom", "Unit of measure", TEXT, _UOM, stored=False),
    field("site", "Location", TEXT, {"plant", "site", "warehouse", "location", "storage location", "sloc",
                                     "bin", "store"}, stored=False),
)

_RESOURCE = {"resource", "work center", "work centre", "workcenter", "workcentre", "line", "machine", "crew",
             "resource name", "production line"}

#: capacity per resource and month (or day / week: hours summed to the month)
CAPACITY_FIELDS = (
    field("resource", "Resource", TEXT, _RESOURCE, required=True),
    field("period", "Period", MONTH, {"period", "month", "date", "week", "day", "capacity date"}, required=True),
    field("available_hours", "Available Hours", NUMBER, {"available hours", "capacity", "capacity hours", "hours",
                                                         "available", "regular hours", "avail hours",
                                                         "available capacity", "capacity h"}, required=True),
    field("overtime_hours", "Overtime Limit", NUMBER, {"overtime", "overtime hours", "overtime limit",
                                                       "max overtime", "ot hours", "overtime capacity"}),
    field("regular_cost", "Regular Cost/h", NUMBER, {"regular cost", "regular cost per hour", "cost per hour",
                                                     "hourly rate", "rate", "regular rate"}),
    field("overtime_cost", "Overtime Cost/h", NUMBER, {"overtime cost", "overtime cost per hour", "ot rate",
                                                       "overtime rate", "ot cost"}),
)

#: a time unit's hours, as a routing's Unit column or its Standard Value's header gives it (SAP: HUR, MIN, SEC;
#: German SAP shows hours as STD)
_HOUR_CODES = ("hur", "std", "stunde", "stunden")  # a Unit cell's, not a header's: "Std Value" is no hour
TIME_UNIT_HOURS = {**dict.fromkeys(("h", "hr", "hrs", "hour", "hours") + _HOUR_CODES, 1.0),
                   **dict.fromkeys(("min", "mins", "minute", "minutes"), 1 / 60),
                   **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1 / 3600)}
_TIMES = {"standard value", "std value", "std val", "machine time", "labor time", "labour time", "run time",
          "processing time", "operation time", "cycle time", "time per unit", "time", "duration"}

#: routings, as ERPs list them: an item's operations, each on a resource (work center) with a standard value per
#: base quantity in a time unit (a `Unit` column, the header's `Std Value (min)`, else hours); or hours per unit
BOR_FIELDS = (
    field("item", "Item", TEXT, _ITEM),
    field("family", "Family", TEXT, FAMILY_HEADERS | {"material group", "product family"}),
    field("resource", "Resource", TEXT, _RESOURCE, required=True),
    field("hours_per_unit", "Hours per Unit", NUMBER, {"hours per unit", "hours unit", "hrs per unit", "hrs unit",
                                                       "hours per piece", "standard hours per unit",
                                                       "std hours per unit", "run hours per unit"}),
    field("time", "Standard Value", NUMBER, _TIMES | {f"{t} {u}" for t in _TIMES for u in TIME_UNIT_HOURS
                                                  if u not in _HOUR_CODES}),
    field("time_unit", "Time unit", TEXT, {"unit", "time unit", "std value unit", "unit of time", "uom", "un"}),
    field("base_qty", "Base Quantity", NUMBER, {"base quantity", "base qty", "operation quantity", "per quantity",
                                                "per"}),
    field("operation", "Operation", TEXT, {"operation", "operation no", "operation number", "op", "op no",
                                           "activity", "step", "sequence", "operation short text"}, stored=False),
)

_QTY = {"quantity", "qty", "units", "volume", "order qty", "order quantity", "open qty", "open quantity",
        "qty open", "open order qty", "open order quantity", "outstanding qty", "outstanding quantity", "backlog qty",
        "confirmed qty", "product quantity", "deal quantity", "qty ordered", "ordered qty", "ordered quantity"}

#: an open order book from an ERP (sales order lines not yet delivered)
ORDERS_FIELDS = (
    field("order_id", "Order", TEXT, {"order", "order id", "order no", "order number", "sales order",
                                      "sales order number", "sales order no", "sales document", "so", "so number",
                                      "document", "document number", "auftrag", "commande"}, required=True),
    field("item", "Item", TEXT, _ITEM, required=True),
    field("customer", "Customer", TEXT, {"customer", "sold to", "sold to party", "ship to", "ship to party",
                                         "customer name", "customer number", "customer no", "customer id", "account",
                                         "account name", "client"}),
    field("period", "Requested Month", MONTH, {"requested month", "requested date", "requested delivery date",
                                               "req delivery date", "req date", "request date", "due date",
                                               "delivery date", "requested ship date", "ship date", "schedule date",
                                               "schedule line date", "month", "period", "date"}, required=True),
    field("qty", "Qty", NUMBER, _QTY, required=True),
    field("uom", "Unit of measure", TEXT, _UOM, stored=False),
    field("value", "Net value", NUMBER, {"net value", "net amount", "amount", "value", "open value", "order value"},
          stored=False),
)

#: a CRM opportunity report (Salesforce, Dynamics, HubSpot exports)
PIPELINE_FIELDS = (
    field("opportunity", "Opportunity", TEXT, {"opportunity", "opportunity id", "opp id", "opportunity number",
                                               "deal id", "deal", "deal number", "record id"}),
    field("name", "Opportunity Name", TEXT, {"opportunity name", "deal name", "opp name", "name", "topic"}),
    field("item", "Item", TEXT, _ITEM | {"product code", "product", "product sku", "item code"}),
    field("family", "Family", TEXT, FAMILY_HEADERS | {"product family"}),
    field("qty", "Quantity", NUMBER, _QTY, required=True),
    field("close_date", "Close Date", MONTH, {"close date", "expected close date", "close month", "closing date",
                                              "est close date", "estimated close date", "expected close"},
          required=True),
    field("stage", "Stage", TEXT, {"stage", "sales stage", "deal stage", "opportunity stage", "status", "phase"},
          required=True),
    field("probability", "Probability", TEXT, {"probability", "probability %", "win probability", "prob",
                                               "likelihood", "confidence", "win %", "probability pct"}),
    field("owner", "Owner", TEXT, {"opportunity owner", "owner", "deal owner", "sales rep", "salesperson",
                                   "account manager", "owner name", "sales owner"}),
    field("account", "Account", TEXT, {"account name", "account", "customer", "customer name", "company",
                                       "company name", "client"}),
    field("amount", "Amount", NUMBER, {"amount", "deal amount", "opportunity amount", "value", "deal value",
                                       "total amount"}),
    field("snapshot", "Snapshot date", MONTH, {"snapshot date", "snapshot", "last modified date", "last modified",
                                               "modified date", "as of", "as of date", "report date",
                                               "last activity", "last updated", "updated"}, stored=False),
)

FIELDS = {"History": HISTORY_FIELDS, "Items": ITEMS_FIELDS, "Inventory": INVENTORY_FIELDS,
          "Capacity": CAPACITY_FIELDS, "BillOfResources": BOR_FIELDS, "Orders": ORDERS_FIELDS,
          "Pipeline": PIPELINE_FIELDS}
