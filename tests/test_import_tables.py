"""`snop-xl import BOOK TABLE SOURCE`: History from ERP billing lines, Items, Inventory and Capacity from extracts
written here as an ERP writes them, imported into real books and checked against pandas computations of the raw
lines; refusals name their lines and leave the book byte for byte as it was."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snop_xl import contract as C
from snop_xl.cli import main as cli
from snop_xl.io import OpenpyxlBook

from .conftest import make_book, small_frames

SAP_LINES = [  # material; customer; billing date; sales org; billed qty; UoM; net value (German ERP locale)
    ("A", "C100", "03.01.2026", "1000", "5", "PC", "3323,93"),
    ("A", "C200", "15.01.2026", "1000", "1.200", "PC", "1.200,50"),
    ("B", "C100", "13.01.2026", "1000", "8", "PC", "80,00"),
    ("B", "C100", "03.02.2026", "1000", "30", "PC", "300,00"),
    ("B", "C300", "20.02.2026", "1000", "-50", "PC", "-500,00"),  # a return larger than the month's sales
    ("A", "C100", "28.02.2026", "1000", "12", "PC", "120,00"),
    ("A", "C100", "28.02.2026", "1000", "12", "PC", "120,00"),  # the same delivery twice: counted twice
    ("A", "C200", "01.03.2026", "2000", "7,5", "PC", "75,00"),
    ("B", "C200", "31.03.2026", "2000", "-2", "PC", "-20,00"),
    ("B", "C200", "31.03.2026", "2000", "9", "PC", "90,00"),
]
SAP_HEADER = ("Material", "Customer", "Billing Date", "Sales Org", "Billed Qty", "UoM", "Net Value")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_lines(path: Path, header: tuple, lines: list[tuple], sep: str, title: list[str] = ()) -> Path:
    text = [*title, sep.join(header), *(sep.join(line) for line in lines)]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


def history_of(path: Path) -> dict[tuple[str, str], float | None]:
    """History read back cell by cell (not through the engine's reader): (item, 'yyyy-mm') -> value."""
    ws = openpyxl.load_workbook(path)["History"]
    header = [c.value for c in ws[1]]
    out = {}
    for row in ws.iter_rows(min_row=2, values_only=True):
        if row[0] is None:
            continue
        for h, v in zip(header[1:], row[1:]):
            out[(row[0], str(h))] = v
    return out


def expected_from_pandas(path: Path, **read) -> pd.Series:
    """Independent computation: pandas reads the raw lines and sums per item and month."""
    raw = pd.read_csv(path, dtype={"Material": str, "SKU": str, "Billing Date": str, "Order Date": str}, **read)
    date = [c for c in raw.columns if "Date" in c][0]
    qty = [c for c in raw.columns if "Qty" in c][0]
    item = raw.columns[0]
    month = pd.to_datetime(raw[date], dayfirst=read.get("sep") == ";").dt.to_period("M").astype(str)
    return raw.groupby([raw[item], month])[qty].sum()


@pytest.fixture
def book(tmp_path: Path) -> Path:
    return make_book(tmp_path / "book.xlsx", small_frames())  # History A=10, B=20 for 2026-01..12; cycle 2027-01


def test_sap_billing_lines_become_item_month_history(book: Path, tmp_path: Path, capsys) -> None:
    src = write_lines(tmp_path / "VF05.csv", SAP_HEADER, SAP_LINES, ";")
    assert cli(["import", str(book), "History", str(src), "--yes"]) == 0
    out = capsys.readouterr().out
    want = expected_from_pandas(src, sep=";", decimal=",", thousands=".")
    got = history_of(book)
    for (item, month), net in want.items():
        assert got[(item, month)] == pytest.approx(max(net, 0.0)), (item, month)
    assert want[("B", "2026-02")] == -20  # nets negative: written as 0 and said so
    assert got[("B", "2026-02")] == 0
    assert "B 2026-02: sold 30, returned 50, net -20 -> 0" in out
    assert got[("A", "2026-04")] == 10 and got[("B", "2026-12")] == 20  # months not in the file are kept
    assert "decimal comma; dates day first" in out and "'Sales Org' (D1) -> Site" in out
    assert "1 line(s) repeat an earlier line" in out and "A 2026-01: 10 -> 1,205" in out
    january = next(line for line in out.splitlines() if line.strip().startswith("2026-01"))
    assert "1,213" in january and "4,604.43" in january  # 3323,93 + 1.200,50 + 80,00
    log = OpenpyxlBook(book).read_table(C.LOG)[0]
    assert log["message"].str.contains("History imported from VF05.csv").any()


def test_us_order_export_month_first_and_new_months_appended(book: Path, tmp_path: Path, capsys) -> None:
    lines = [("A", "10/13/2026", "1,500.00", "12,000.00"), ("B", "10/2/2026", "3", "30.00"),
             ("A", "11/30/2026", "2", "20.00"), ("B", "12/1/2026", "4.5", "45.00")]
    src = write_lines(tmp_path / "orders.csv", ("SKU", "Order Date", "Qty", "Amount"), lines, ",")
    quoted = src.read_text().replace("1,500.00", '"1,500.00"').replace("12,000.00", '"12,000.00"')
    src.write_text(quoted)
    assert cli(["import", str(book), "history", str(src), "--yes"]) == 0
    want = expected_from_pandas(src, sep=",", thousands=",")
    got = history_of(book)
    for (item, month), net in want.items():
        assert got[(item, month)] == pytest.approx(net)
    assert got[("B", "2026-11")] == 0  # sold before, no line this month: 0, not blank
    assert "dates month first" in capsys.readouterr().out


def test_xlsx_extract_with_a_title_row_and_new_months(book: Path, tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Notes"
    ws["A1"] = "see the Billing sheet"
    data = wb.create_sheet("Billing")
    data.append(["Billing lines 2027, exported 02.02.2027"])
    data.append([])
    data.append(["Material", "Billing Date", "Billed Qty", "Net Value"])
    data.append(["A", pd.Timestamp("2025-11-03").to_pydatetime(), 6, 60.0])
    data.append(["B", pd.Timestamp("2025-12-24").to_pydatetime(), 2, 10.0])
    wb.save(tmp_path / "extract.xlsx")
    assert cli(["import", str(book), "History", str(tmp_path / "extract.xlsx"), "--sheet", "Billing", "--yes"]) == 0
    got = history_of(book)
    assert got[("A", "2025-11")] == 6 and got[("B", "2025-12")] == 2
    assert got[("A", "2025-12")] == 0  # sold before, no line this month: 0
    assert got[("B", "2025-11")] is None  # not sold yet: blank before launch
    assert got[("A", "2026-01")] == 10  # the book's months are kept
    frame, problems = OpenpyxlBook(book).read_table(C.HISTORY)
    assert problems == [] and sorted({str(p) for p in frame["period"]})[0] == "2025-11"


@pytest.mark.parametrize(("lines", "words"), [
    ([("A", "03.01.2026", "5"), ("HAMMER-X", "04.01.2026", "1"), ("AA", "05.01.2026", "1"),
      ("HAMMER-X", "06.01.2026", "2")],
     ["VF.csv!A3: unknown item (also on lines 5) (found 'HAMMER-X')", "VF.csv!A4: unknown item (found 'AA'); "
      "expected an item from the Items sheet (closest: 'A')"]),
    ([("A", "13/01/2026", "5"), ("B", "01/14/2026", "1"), ("B", "02/01/2026", "1")],
     ["dates mix day/month and month/day order: lines 2 only read day first, lines 3 only month first"]),
    ([("A", "03/01/2026", "5"), ("B", "04/02/2026", "1")],
     ["never show whether the day or the month comes first", "on lines 2, 3"]),
    ([("A", "03.01.2027", "5")], ["VF.csv!B2: a line of 2027-01, the cycle month or later"]),
    ([("A", "03.01.2026", "1.234"), ("B", "03.01.2026", "2")], ["VF.csv!C2: unclear decimal separator in Quantity"]),
    ([("A", "03.01.2026", "5", "PC"), ("A", "04.01.2026", "1", "CS")],
     ["VF.csv!D3: Unit of measure of item A differs from line 2 ('PC')"]),
])
def test_what_cannot_be_read_exactly_is_refused_and_the_book_is_unchanged(book: Path, tmp_path: Path, capsys,
                                                                          lines, words) -> None:
    header = ("Material", "Billing Date", "Billed Qty", "UoM")[:len(lines[0])]
    src = write_lines(tmp_path / "VF.csv", header, lines, ";")
    before = digest(book)
    assert cli(["import", str(book), "History", str(src), "--yes"]) == 2
    err = capsys.readouterr().err
    for w in words:
        assert w in err
    assert digest(book) == before


def test_without_a_terminal_nothing_is_replaced_unless_yes(book: Path, tmp_path: Path, capsys) -> None:
    src = write_lines(tmp_path / "VF.csv", SAP_HEADER, SAP_LINES, ";")
    before = digest(book)
    assert cli(["import", str(book), "History", str(src)]) == 1  # pytest's stdin is no terminal
    assert "run again with --yes" in capsys.readouterr().err and digest(book) == before
    assert cli(["import", str(book), "History", str(src), "--dry-run"]) == 0 and digest(book) == before
    assert cli(["import", str(book), "Budget", str(src)]) == 1
    assert "import-budget" in capsys.readouterr().err


def test_erp_item_master_with_lead_time_in_days(book: Path, tmp_path: Path, capsys) -> None:
    header = ("Material", "Description", "Material Group", "List Price", "Std Cost", "Lead Time (days)", "Currency")
    lines = [("A", "Hammer", "F", "12,50", "6,10", "45", "EUR"), ("C", "Rake", "G", "1.099,00", "400", "30", "EUR"),
             ("D", "Saw", "G", "5", "2", "0", "EUR")]
    src = write_lines(tmp_path / "MARA.csv", header, lines, ";")
    assert cli(["import", str(book), "Items", str(src), "--yes"]) == 0
    out = capsys.readouterr().out
    items = OpenpyxlBook(book).read_table(C.ITEMS)[0].set_index("item")
    assert items.loc["A", "unit_price"] == 12.5 and items.loc["A", "unit_cost"] == 6.1
    assert items.loc["C", "unit_price"] == 1099.0 and items.loc["C", "family"] == "G"
    days = {"A": 45, "C": 30, "D": 0}
    assert {i: int(items.loc[i, "lead_time"]) for i in days} == {i: math.ceil(d / 30.4375) for i, d in days.items()}
    assert items.loc["B", "unit_price"] == 5.0  # not in the file: kept
    assert "Lead Time in days -> whole months, rounded up" in out and "'Currency' (G1)" not in out
    assert "ignored column G1 'Currency'" in out and "A Unit Price: 10 -> 12.5" in out


def test_a_price_list_updates_a_new_books_items_without_a_family_column(tmp_path: Path, capsys) -> None:
    """The new user's path: `new --items` (codes and families), then the ERP's price list fills the prices; a new
    item in such a file is refused at its cell (its family is unknown)."""
    master = tmp_path / "items.csv"
    master.write_text("Item,Family\nA,F\nB,F\n", encoding="utf-8")
    book = tmp_path / "new.xlsx"
    assert cli(["new", str(book), "--items", str(master)]) == 0
    prices = write_lines(tmp_path / "prices.csv", ("Material", "List Price", "Std Cost"),
                         [("A", "12,50", "7,10"), ("B", "3,00", "1,00")], ";")
    assert cli(["import", str(book), "Items", str(prices), "--yes"]) == 0
    items = OpenpyxlBook(book).read_table(C.ITEMS)[0].set_index("item")
    assert items.loc["A", ["family", "unit_price", "unit_cost"]].tolist() == ["F", 12.5, 7.1]
    before = digest(book)
    extra = write_lines(tmp_path / "extra.csv", ("Material", "List Price"), [("A", "13"), ("Z", "9")], ";")
    assert cli(["import", str(book), "Items", str(extra), "--yes"]) == 2
    assert "extra.csv!A3: new item Z: the file has no Family column" in capsys.readouterr().err
    assert digest(book) == before


def test_new_book_reads_erp_item_masters_like_the_import(tmp_path: Path, capsys) -> None:
    src = write_lines(tmp_path / "items.csv", ("Report: item master", ), [], ";")
    src.write_text("Item master export\n\nSKU;Product Group;List Price;Lead Time (weeks)\nA-1;Tools;12,5;6\n"
                   "B-2;Garden;1.234,5;0\n", encoding="utf-8")
    assert cli(["new", str(tmp_path / "n.xlsx"), "--items", str(src)]) == 0
    items = OpenpyxlBook(tmp_path / "n.xlsx").read_table(C.ITEMS)[0]
    assert items[["item", "family", "unit_price", "lead_time"]].values.tolist() == \
        [["A-1", "Tools", 12.5, 2], ["B-2", "Garden", 1234.5, 0]]
    bad = tmp_path / "bad.csv"
    bad.write_text("Itm;Family\nA;F\n", encoding="utf-8")
    assert cli(["new", str(tmp_path / "bad.xlsx"), "--items", str(bad)]) == 2
    assert "bad.csv!A1: missing column 'Item' (found 'Itm')" in capsys.readouterr().err
    assert not (tmp_path / "bad.xlsx").exists()


def test_stock_snapshot_sums_locations_and_zeroes_items_not_listed(book: Path, tmp_path: Path, capsys) -> None:
    lines = [("B", "1000", "0001", "12,5", "PC"), ("B", "1000", "0002", "7,5", "PC")]
    src = write_lines(tmp_path / "MB52.csv", ("Material", "Plant", "Storage Location", "Unrestricted", "Base Unit"),
                      lines, ";")
    assert cli(["import", str(book), "Inventory", str(src), "--yes"]) == 0
    out = capsys.readouterr().out
    inv = OpenpyxlBook(book).read_table(C.INVENTORY)[0].set_index("item")
    assert inv.loc["B", "on_hand"] == 20.0 and inv.loc["A", "on_hand"] == 0.0
    assert inv.loc["B", "ss_policy"] == "fixed"  # the book's policy is kept
    assert "1 item(s) of Inventory not in the snapshot set to 0: A" in out


def test_capacity_by_day_is_summed_to_months(book: Path, tmp_path: Path) -> None:
    days = pd.date_range("2027-02-01", "2027-03-31", freq="D")
    lines = [("line", d.strftime("%Y-%m-%d"), "8", "2") for d in days]
    src = write_lines(tmp_path / "cap.csv", ("Work Center", "Date", "Capacity Hours", "Overtime"), lines, ",")
    assert cli(["import", str(book), "Capacity", str(src), "--yes"]) == 0
    cap = OpenpyxlBook(book).read_table(C.CAPACITY)[0]
    got = {str(p): h for p, h in zip(cap["period"], cap["available_hours"])}
    assert got["2027-02"] == 8 * 28 and got["2027-03"] == 8 * 31 and got["2027-01"] == 100  # 'line' is 'Line'
    assert set(cap["resource"]) == {"Line"}


def test_a_large_extract_sums_exactly_like_pandas(book: Path, tmp_path: Path, capsys) -> None:
    """500,000 billing lines (the long extract's path: columns split longest first, amounts mostly distinct)."""
    import numpy as np

    rng = np.random.default_rng(15)
    n = 500_000
    days = pd.date_range("2025-01-01", "2026-12-31").strftime("%d.%m.%Y").to_numpy()
    raw = pd.DataFrame({"Material": rng.choice(["A", "B", "a "], n), "Billing Date": rng.choice(days, n),
                        "Billed Qty": rng.integers(-20, 60, n),
                        "Net Value": [f"{v:.2f}".replace(".", ",") for v in rng.uniform(-10, 1000, n)]})
    src = tmp_path / "big.csv"
    raw.to_csv(src, sep=";", index=False)
    assert cli(["import", str(book), "History", str(src), "--yes"]) == 0
    month = pd.to_datetime(raw["Billing Date"], format="%d.%m.%Y").dt.to_period("M").astype(str)
    want = raw.groupby([raw["Material"].str.strip().str.upper(), month])["Billed Qty"].sum()
    got = history_of(book)
    assert len(want) == 48
    for (item, m), net in want.items():
        assert got[(item, m)] == max(net, 0), (item, m)
    out = capsys.readouterr().out
    assert "500,000 lines" in out and f"quantity {want.sum():,}" in out
    value = float(out.split("net value ")[1].split()[0].replace(",", ""))
    assert value == pytest.approx(raw["Net Value"].str.replace(",", ".").astype(float).sum(), abs=0.006)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-1e15, max_value=1e15, allow_nan=False))
def test_quantities_are_shown_whole_without_an_exponent(v: float) -> None:
    """A preview's totals are checked against the ERP's: thousands separated, never 1.56707e+06, exact to the
    third decimal."""
    from snop_xl.commands.import_table import quantity_text

    text = quantity_text(v)
    assert "e" not in text and not text.endswith(".") and text != "-0"
    assert float(text.replace(",", "")) == pytest.approx(round(v, 3), abs=1e-9 * max(1.0, abs(v)))
    whole = text.lstrip("-").split(".")[0]
    assert whole == f"{int(whole.replace(',', '')):,}"  # groups of three


# ---- BillOfResources from routings: the hours a unit takes on each resource
ROUTING_HEADER = ("Material", "Operation", "Work Center", "Base Quantity", "Std Value (min)", "Unit")


def routings_of(path: Path) -> dict[tuple[str | None, str | None, str], float]:
    """BillOfResources read back cell by cell: (item, family, resource) -> hours per unit."""
    ws = openpyxl.load_workbook(path)["BillOfResources"]
    return {(r[0], r[1], r[2]): r[3] for r in ws.iter_rows(min_row=2, values_only=True) if r[2] is not None}


def test_sap_routing_operations_become_hours_per_unit(book: Path, tmp_path: Path, capsys) -> None:
    """An SAP routing list (CA03-like, title rows, decimal commas): each operation's standard value over its base
    quantity in its unit (the line's, else the header's); an item's operations on one work center summed; work
    center names matched to Capacity's case-insensitively; the family row the file does not touch kept."""
    lines = [("A", "0010", "LINE", "100", "30", "MIN"), ("A", "0020", "line", "100", "6", ""),
             ("A", "0030", "Paint", "1", "0,25", "H"), ("B", "0010", "Line", "10", "45", "SEC")]
    src = write_lines(tmp_path / "CA03.csv", ROUTING_HEADER, lines, ";", title=["Routings, plant 1000", ""])
    assert cli(["import", str(book), "routings", str(src), "--yes"]) == 0
    out = capsys.readouterr().out
    assert routings_of(book) == pytest.approx({
        (None, "F", "Line"): 1.0,  # small_frames' family row, kept
        ("A", None, "Line"): (30 + 6) / 60 / 100,  # 0020's unit is blank: the header's minutes
        ("A", None, "Paint"): 0.25,
        ("B", None, "Line"): 45 / 3600 / 10})
    assert "1 operation line(s) on a resource its item already uses summed" in out
    assert "not in Capacity (they limit nothing until it has their hours): Paint" in out
    family = write_lines(tmp_path / "family.csv", ("Family", "Resource", "Hours per Unit"), [("F", "Paint", "2")], ",")
    assert cli(["import", str(book), "routings", str(family), "--yes"]) == 0
    capsys.readouterr()
    # B's routing lists Line only: family F's Paint row still loads it, and the preview says so
    again = write_lines(tmp_path / "B.csv", ("Item", "Resource", "Hours per Unit"), [("B", "Line", "0.1")], ",")
    assert cli(["import", str(book), "routings", str(again), "--yes"]) == 0
    out = capsys.readouterr().out
    assert "1 item(s) also load resources their routing does not list, through their family's rows" in out
    assert "B (Paint from family F)" in out


def test_an_items_routing_is_replaced_whole_and_family_rows_by_family(book: Path, tmp_path: Path, capsys) -> None:
    first = write_lines(tmp_path / "r1.csv", ("Item", "Resource", "Hours per Unit"),
                        [("A", "Line", "0.5"), ("A", "Paint", "0.2"), ("B", "Line", "0.1")], ",")
    assert cli(["import", str(book), "BillOfResources", str(first), "--yes"]) == 0
    second = write_lines(tmp_path / "r2.csv", ("Item", "Resource", "Hours per Unit"), [("a", "Line", "0.4")], ",")
    assert cli(["import", str(book), "bor", str(second), "--yes"]) == 0
    out = capsys.readouterr().out
    assert routings_of(book) == {(None, "F", "Line"): 1.0, ("B", None, "Line"): 0.1, ("A", None, "Line"): 0.4}
    assert "A Line: 0.5 -> 0.4" in out and "A Paint: 0.2 -> removed" in out
    families = write_lines(tmp_path / "r3.csv", ("Product Family", "Work Centre", "Run Time (h)", "Base Qty"),
                           [("f", "Line", "3", "4")], ",")
    assert cli(["import", str(book), "routing", str(families), "--yes"]) == 0
    assert routings_of(book)[(None, "F", "Line")] == 0.75


def test_routings_that_cannot_be_read_exactly_are_refused_at_their_cells(book: Path, tmp_path: Path,
                                                                        capsys) -> None:
    lines = [("A", "0010", "Line", "100", "30", "MIN"), ("C", "0010", "Line", "1", "2", "MIN"),
             ("B", "0010", "Line", "1", "2", "XYZ"), ("B", "0020", "Line", "0", "2", "MIN"),
             ("B", "0030", "Line", "1", "", "MIN"), ("", "0040", "Line", "1", "2", "MIN"),
             ("a", "0010", "Line", "100", "30", "MIN")]  # A's 0010 again: its hours would count twice
    src = write_lines(tmp_path / "CA03.csv", ROUTING_HEADER, lines, ";")
    before = digest(book)
    assert cli(["import", str(book), "BillOfResources", str(src), "--yes"]) == 2
    err = capsys.readouterr().err
    assert "A3" in err and "unknown item" in err.lower()  # C: not in Items
    assert "F4" in err and "unknown time unit" in err and "XYZ" in err
    assert "D5" in err and "Base Quantity of 0" in err
    assert "E6" in err and "no hours" in err
    assert "C7" in err and "no item or family on this line" in err
    assert "B8" in err and "operation 0010 of A listed again (line 2)" in err
    assert digest(book) == before
