"""The contract is consistent with itself and with its documentation."""

from __future__ import annotations

from snop_xl import contract as C
from snop_xl.build.docs import workbook_markdown

from .conftest import ROOT


def test_docs_are_generated_from_the_contract() -> None:
    committed = (ROOT / "docs" / "workbook.md").read_text(encoding="utf-8")
    assert committed == workbook_markdown(), "docs/workbook.md is stale: run `snop-xl docs`"


def test_contract_is_well_formed() -> None:
    names = [t.list_object for t in C.TABLES.values()]
    assert len(names) == len(set(names))
    for spec in C.TABLES.values():
        keys = spec.keys
        assert len(keys) == len(set(keys)), spec.name
        assert len(spec.headers) == len(set(spec.headers)), spec.name
        assert all(k in keys for k in spec.key), spec.name
        assert spec.sheet in C.SHEETS
    required_inputs = {"Settings", "Items", "History", "Events", "Overrides", "Inventory", "Capacity",
                       "BillOfResources", "Suppliers", "Budget", "Scenarios"}
    required_outputs = {"DemandPlan", "SupplyPlan", "Reconciliation", "ScenarioComparison", "Financials",
                        "Dashboard", "KPIs", "Log"}
    assert required_inputs <= set(C.INPUT_SHEETS)
    assert required_outputs <= set(C.OUTPUT_SHEETS)
