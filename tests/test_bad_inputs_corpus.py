"""A seeded corpus of bad inputs: every one refused with a clear error, none crashes, no input file changes.

Bad budget pastes (CSV and .xlsx, each mutated one way from a good paste) go through `snop-xl import-budget`; hostile
or broken workbooks go through `snop-xl validate` and `import-budget` as the BOOK. Prints the counts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import multiprocessing as mp
import random
import struct
import threading
import time
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.utils import get_column_letter, range_boundaries

from snop_xl import archive
from snop_xl import contract as C
from snop_xl.commands.import_budget import import_budget
from snop_xl.commands.import_table import import_table
from snop_xl.cli import main as cli
from snop_xl.errors import SnopError, ValidationError
from snop_xl.inputs import load_inputs, parse_settings
from snop_xl.io import OpenpyxlBook
from snop_xl.io.parse import month_name_readings

from .conftest import make_book, small_frames
from .test_budget_import import FAMILIES, make_budget_book, write_csv

try:
    import resource
except ImportError:  # not on Windows: the memory bound of the bombs is checked where it can be
    resource = None  # type: ignore[assignment]

MONTHS = [f"2027-{m:02d}" for m in range(1, 13)]


def good_rows(rng: random.Random) -> list[list[object]]:
    rows = [["Family", "Measure", *MONTHS]]
    for f in FAMILIES:
        rows.append([f, "units", *[rng.randint(0, 5000) for _ in MONTHS]])
        rows.append([f, "revenue", *[rng.randint(0, 10**6) for _ in MONTHS]])
    return rows


def _cell(rng):
    return rng.randrange(1, 7), rng.randrange(2, 14)


def m_error(rows, rng):
    r, c = _cell(rng)
    rows[r][c] = rng.choice(["#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?"])
    return r, c


def m_text(rows, rng):
    r, c = _cell(rng)
    rows[r][c] = rng.choice(["abc", "12%", "1,23,4", "n/a", "TBD", "1..2", "1.2.3,4,5", "?"])
    return r, c


def m_blank(rows, rng):
    r, c = _cell(rng)
    rows[r][c] = ""
    return r, c


def m_unknown(rows, rng):
    r = rng.randrange(1, 7)
    rows[r][0] = rng.choice(["Power Toolz", "Gardening", "Hand-Tools", "XX", "Tools"])
    return r, 0


def m_measure(rows, rng):
    r = rng.randrange(1, 7)
    rows[r][1] = rng.choice(["margin", "cost", "", "headcount"])
    return r, 1


def m_duplicate(rows, rng):
    r = rng.randrange(1, 6)
    rows.append(list(rows[r]))
    return len(rows) - 1, 0


def m_month_header(rows, rng):
    c = rng.randrange(2, 14)
    rows[0][c] = rng.choice(["Mar", "2027-13", "Month 3", "#REF!", "Q1"])
    return 0, c


def m_gap(rows, rng):
    c = rng.randrange(3, 13)
    for row in rows:
        del row[c]
    return 0, c


def m_horizon(rows, rng):
    rows[0][2:] = [f"20{rng.choice([25, 26, 30])}-{m:02d}" for m in range(1, 13)]
    return 0, None


def m_ambiguous(rows, rng):
    for row in rows[1:]:
        row[2:] = [f"{rng.randint(1, 9)}.{rng.randint(100, 999)}" for _ in MONTHS]
    return None, None


def m_total(rows, rng):
    sums = [sum(rows[r][c] for r in (1, 3, 5)) for c in range(2, 14)]
    k = rng.randrange(12)
    sums[k] += rng.choice([-7, 3, 1000])
    rows.append(["Total", "units", *sums])
    return len(rows) - 1, 2 + k


MUTATIONS = [m_error, m_text, m_blank, m_unknown, m_measure, m_duplicate, m_month_header, m_gap, m_horizon,
             m_ambiguous, m_total]


def hostile_books(folder: Path, good: Path, rng: random.Random) -> list[Path]:
    """Broken or hostile workbook files, all named .xlsx."""
    out = []
    raw = good.read_bytes()
    for i in range(12):
        p = folder / f"trunc{i}.xlsx"
        p.write_bytes(raw[: rng.randrange(10, len(raw) - 10)])
        out.append(p)
    for i in range(8):
        p = folder / f"flip{i}.xlsx"
        data = bytearray(raw)
        for _ in range(20):
            data[rng.randrange(len(data))] = rng.randrange(256)
        p.write_bytes(bytes(data))
        out.append(p)
    for i, content in enumerate([b"", b"hello,world\n", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512,
                                 bytes(rng.randrange(256) for _ in range(4096)), b"PK\x03\x04" + b"\0" * 100]):
        p = folder / f"junk{i}.xlsx"
        p.write_bytes(content)
        out.append(p)
    bomb = folder / "bomb.xlsx"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info.filename))
        zout.writestr("xl/media/big.bin", b"\0" * (4 * 2**20))
    out.append(bomb)
    return out


def broken_csvs(folder: Path, rng: random.Random) -> list[Path]:
    """Budget CSV files no one typed: a giant cell, a NUL past the first bytes, random bytes, blank, one cell."""
    header = "family,measure," + ",".join(MONTHS) + "\n"
    contents = [header + "Garden,units," + "9" * 200_000 + "\n",
                header + "Garden,units,1" + " " * 9000 + "\x00\n",
                bytes(rng.randrange(1, 256) for _ in range(3000)),
                b"   \n\n \t\n", b"x", header.encode(), (header + '"Garden,units,1,2\n').encode(),
                header.encode("utf-16-le"), b"\xef\xbb\xbf" + header.encode() + b"\xff\xfe\xfa\n"]
    out = []
    for i, content in enumerate(contents):
        path = folder / f"broken{i}.csv"
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        out.append(path)
    return out


#: what the corpus above found, for the closing note (`test_corpus_closing_note`)
CORPUS_TOTALS: dict[str, int] = {}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("corpus")
    rng = random.Random(20261125)
    pastes = []
    for i in range(176):
        rows = good_rows(rng)
        mutation = MUTATIONS[i % len(MUTATIONS)]
        mutation(rows, rng)
        if i % 2:
            path = folder / f"paste{i:03d}.xlsx"
            wb = openpyxl.Workbook()
            for row in rows:
                wb.active.append([None if v == "" else v for v in row])
            wb.save(path)
        else:
            path = write_csv(folder / f"paste{i:03d}.csv", rows, sep=rng.choice([",", ";", "\t"]))
        pastes.append((mutation.__name__, path))
    pastes += [("broken csv", path) for path in broken_csvs(folder, rng)]
    book = make_budget_book(folder / "book.xlsx", horizon=12)
    return folder, book, pastes, hostile_books(folder, book, rng)


def test_corpus_of_bad_inputs(corpus, capsys) -> None:
    folder, book, pastes, hostile = corpus
    counts: Counter = Counter()
    crashes, changed, unclear = [], [], []
    book_digest = digest(book)
    opened = OpenpyxlBook(book)  # one book for the API path: a refused import must leave it as it was
    for i, (kind, src) in enumerate(pastes):
        src_digest = digest(src)
        try:
            import_budget(opened, src)
            counts["accepted"] += 1
            unclear.append((kind, src.name, "accepted"))
        except ValidationError as exc:
            counts["refused with cells"] += 1
            if not exc.problems or not all(p.cell and p.sheet and p.expected for p in exc.problems):
                unclear.append((kind, src.name, str(exc)))
        except SnopError:
            counts["refused (file)"] += 1
        except Exception as exc:  # noqa: BLE001 - the point: count crashes
            crashes.append((kind, src.name, repr(exc)))
        if i % 4 == 0 and cli(["import-budget", str(book), str(src), "--yes"]) == 0:  # and via the CLI
            unclear.append((kind, src.name, "CLI accepted"))
        if digest(book) != book_digest or digest(src) != src_digest:
            changed.append(src.name)
    for path in hostile:
        before = digest(path)
        for argv in (["validate", str(path)], ["import-budget", str(path), str(pastes[0][1]), "--yes"]):
            try:
                rc = cli(argv)
                counts["hostile refused" if rc else "hostile accepted"] += 1
                if rc == 0:
                    unclear.append(("hostile", path.name, "accepted"))
            except Exception as exc:  # noqa: BLE001
                crashes.append(("hostile", path.name, repr(exc)))
        if digest(path) != before:
            changed.append(path.name)
    assert opened.read_table("Budget")[0].empty
    total = len(pastes) + 2 * len(hostile)
    CORPUS_TOTALS.update(cases=total, crashes=len(crashes), changed=len(changed), unclear=len(unclear))
    with capsys.disabled():
        print(f"\nbad-input corpus: {total} cases ({len(pastes)} budget pastes, {len(hostile)} hostile books x 2 "
              f"commands); {dict(counts)}; crashes {len(crashes)}; files changed {len(changed)}; "
              f"unclear {len(unclear)}")
    assert total >= 200
    assert crashes == []
    assert changed == []
    assert unclear == []


# ==== the families issue #12 names beyond its list ===========================================================
# History month headers, duplicated headers in input tables, numbers in note rows above a paste, archive
# concurrency, and bombs that evade the size guard. Each case is classified; the closing note prints the totals.

class Tally:
    """Outcomes of one family's cases: read exactly, refused (with the cell, or the file), and the failures that must
    stay at 0: tracebacks, wrong acceptances (accepted but a value landed wrong, or accepted where a refusal was
    due), data losses (an input changed by a refusal, or values dropped without a word), unclear refusals (no cell,
    or not the cell at fault)."""

    FAILURES = ("tracebacks", "wrong acceptances", "data losses", "unclear")

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.failures: dict[str, list] = {k: [] for k in self.FAILURES}

    def ok(self, kind: str) -> None:
        self.counts[kind] += 1

    def fail(self, kind: str, case: str, detail: object) -> None:
        self.counts[kind] += 1
        self.failures[kind].append((case, detail))

    @property
    def cases(self) -> int:
        return sum(self.counts.values())


FAMILY_TALLIES: dict[str, Tally] = {}


def family_tally(name: str) -> Tally:
    return FAMILY_TALLIES.setdefault(name, Tally())


def clear_refusal(exc: ValidationError) -> bool:
    return bool(exc.problems) and all(p.cell and p.sheet and p.expected for p in exc.problems)


# ---- (1) History month headers -------------------------------------------------------------------------------
HIST_MONTHS = [pd.Period(f"2026-{m:02d}", "M") for m in range(1, 13)]


def history_book(path: Path) -> Path:
    """The small book (cycle 2027-01) with a different quantity in every History cell: A sold 100 + month, B 200 +
    month, so a month read into the wrong column shows."""
    frames = small_frames()
    frames["History"] = pd.DataFrame([(item, p, float(base + p.month)) for item, base in (("A", 100), ("B", 200))
                                      for p in HIST_MONTHS], columns=["item", "period", "qty"])
    return make_book(path, frames, {"approver": "Ann"})


def locale_headers() -> dict[str, list[str]]:
    """Whole History header rows as each language's Excel writes its months (CLDR, through Babel)."""
    from babel.dates import format_date

    from snop_xl.io.parse import MONTH_LOCALES

    rows = {}
    for locale in MONTH_LOCALES:
        for pattern in ("MMM y", "MMMM y", "LLL-yy"):
            rows[f"{locale} {pattern}"] = [format_date(p.to_timestamp().date(), pattern, locale=locale)
                                           for p in HIST_MONTHS]
    return rows


MAR = 3  # History column D: 2026-03 in the base book
HISTORY_READ = {  # header typed over 2026-03 -> the month its values must land in
    "iso": "2026-03", "iso one digit": "2026-3", "slash": "2026/3", "month/year": "03/2026", "dotted month": "3.2026",
    "Mar 2026": "Mar 2026", "March 2026": "March 2026", "Mar-26": "Mar-26", "Mar '26": "Mar '26",
    "2026 Mar": "2026 Mar", "iso date": "2026-03-01", "iso datetime": "2026-03-01 00:00:00", "spaces": " 2026-03 ",
    "excel date": dt.datetime(2026, 3, 1), "mid-month date": dt.datetime(2026, 3, 15), "date": dt.date(2026, 3, 1),
    "excel serial": 46082, "excel serial float": 46082.0, "de Mär": "Mär 2026", "de März": "März 2026",
    "de unaccented": "Marz 2026", "fr": "mars 2026", "es": "marzo 2026", "it": "mar 2026", "nl": "mrt 2026",
    "nl maart": "maart 2026", "pt": "mar. 2026", "pt março": "março 2026", "de date": "15.03.2026",
    "day first only": "15/03/2026", "month first only": "03/15/2026", "de date 1st": "01.03.2026",
}
HISTORY_REFUSED = {  # header over 2026-03 -> the header cell the refusal must name
    "ambiguous d/m": ("3/1/2026", "D1"), "number yyyymm": (202603, "D1"), "text yyyymm": ("202603", "D1"),
    "duplicated month": ("2026-04", "E1"), "duplicated via locale": ("Dez 2026", "M1"),
    "duplicated first": ("Jan-26", "D1"), "after the cycle month": ("2027-03", "D1"),
    "the cycle month": ("2027-01", "D1"), "a later excel date": (dt.datetime(2027, 2, 1), "D1"),
    "far future": ("2030-06", "D1"), "quarter": ("Q1 2026", "D1"), "no year": ("Mar", "D1"), "year": ("2026", "D1"),
    "words": ("Month 3", "D1"), "excel error": ("#REF!", "D1"), "month 13": ("2026-13", "D1"),
    "no such day": ("31.02.2026", "D1"), "total": ("Total", "D1"), "two-digit ambiguous": ("26-03", "D1"),
    "blank header over values": (None, "D1"), "small number": (3, "D1"), "bool": (True, "D1"),
}


class HistoryHeaders:
    """The base book opened once; each case types its headers over History's, is read, and is typed back."""

    def __init__(self, base: Path):
        self.base = base
        self.book = OpenpyxlBook(base)
        self.ws = self.book.wb["History"]
        self.saved = [[c.value for c in row] for row in self.ws.iter_rows()]

    @contextlib.contextmanager
    def typed(self, change):
        change(self.ws)
        try:
            yield self.book
        finally:
            for r, row in enumerate(self.saved, start=1):
                for c, v in enumerate(row, start=1):
                    self.ws.cell(r, c).value = v

    def saved_as(self, path: Path, change) -> Path:
        """The case as a file, for the CLI."""
        with self.typed(change):
            self.book.wb.save(path)
        return path


def _over_march(header: object):
    return lambda ws: setattr(ws.cell(1, 1 + MAR), "value", header)


def _check_history_read(tally: Tally, case: str, book: OpenpyxlBook, expect: dict[pd.Period, pd.Period],
                        dropped: pd.Period | None = None) -> None:
    """`expect`: base month -> the month its values must be read as."""
    try:
        history = load_inputs(book).history
    except ValidationError as exc:
        tally.fail("wrong acceptances", case, f"refused: {[str(p) for p in exc.problems][:2]}")
        return
    except Exception as exc:  # noqa: BLE001 - the point: count them
        tally.fail("tracebacks", case, repr(exc))
        return
    got = {(i, p): q for i, p, q in history[["item", "period", "qty"]].itertuples(index=False)}
    want = {(item, expect[p]): float(base + p.month) for item, base in (("A", 100), ("B", 200)) for p in HIST_MONTHS
            if p != dropped}
    if got != want:
        tally.fail("wrong acceptances" if len(got) == len(want) else "data losses", case,
                   sorted(set(got.items()) ^ set(want.items()))[:4])
    else:
        tally.ok("read exactly")


def _check_refused(tally: Tally, case: str, path: Path | None, cells: set[str], run, sheet: str | None = None) -> None:
    """`run()` must raise a ValidationError naming one of `cells` (on `sheet`), every problem with its cell, and
    leave the file at `path` (if any) as it was."""
    before = digest(path) if path else None
    try:
        run()
        tally.fail("wrong acceptances", case, "accepted")
    except ValidationError as exc:
        named = {p.cell for p in exc.problems if sheet is None or p.sheet == sheet}
        if not clear_refusal(exc) or not cells & named:
            tally.fail("unclear", case, [str(p) for p in exc.problems][:3])
        else:
            tally.ok("refused with cells")
    except SnopError as exc:
        tally.fail("unclear", case, f"refused without a cell: {exc}")
    except Exception as exc:  # noqa: BLE001
        tally.fail("tracebacks", case, repr(exc))
    if path and digest(path) != before:
        tally.fail("data losses", case, "the refused input changed")


def test_history_month_headers(tmp_path: Path) -> None:
    tally = family_tally("History month headers")
    base = history_book(tmp_path / "base.xlsx")
    headers = HistoryHeaders(base)
    identity = {p: p for p in HIST_MONTHS}
    for i, (case, header) in enumerate(HISTORY_READ.items()):
        with headers.typed(_over_march(header)) as book:
            _check_history_read(tally, case, book, identity)
        if i % 8 == 0:  # and through the CLI
            path = headers.saved_as(tmp_path / f"read{i}.xlsx", _over_march(header))
            assert cli(["validate", str(path)]) == 0, case
    for case, row in locale_headers().items():
        def whole_row(ws, row=row):
            for k, text in enumerate(row):
                ws.cell(1, 2 + k).value = text
        with headers.typed(whole_row) as book:
            _check_history_read(tally, case, book, identity)

    def spacer(ws):  # a blank, empty column between months: the other months read exactly, nothing else
        for r in range(1, ws.max_row + 1):
            ws.cell(r, 1 + MAR).value = None
    with headers.typed(spacer) as book:
        _check_history_read(tally, "blank empty column", book, identity, dropped=HIST_MONTHS[MAR - 1])
    for i, (case, (header, cell)) in enumerate(HISTORY_REFUSED.items()):
        with headers.typed(_over_march(header)) as book:
            _check_refused(tally, case, None, {cell}, lambda b=book: load_inputs(b), "History")
        if i % 6 == 0:  # and through the CLI: exit 2, the book unchanged
            path = headers.saved_as(tmp_path / f"bad{i}.xlsx", _over_march(header))
            _check_refused(tally, f"{case} (CLI)", path, {cell}, lambda p=path: load_inputs(OpenpyxlBook(p)),
                           "History")
            before = digest(path)
            assert cli(["validate", str(path)]) == 2 and digest(path) == before, case
    # --cycle-month: month names of other languages read exactly, the rest refused with the option named
    items = tmp_path / "items.csv"
    items.write_text("Item,Family,Unit Price,Unit Cost\nA,F,10,5\n", encoding="utf-8")
    for i, (text, want) in enumerate([("Dez 2026", "2026-12"), ("janv. 2027", "2027-01"), ("mrt-27", "2027-03"),
                                      ("3/1/2027", None), ("202701", None), ("Dez", None), ("2027-13", None)]):
        book = tmp_path / f"new{i}.xlsx"
        try:
            rc = cli(["new", str(book), "--items", str(items), "--cycle-month", text])
        except Exception as exc:  # noqa: BLE001
            tally.fail("tracebacks", f"--cycle-month {text!r}", repr(exc))
            continue
        if want is None:
            if rc == 2 and not book.exists():
                tally.ok("refused (option)")
            else:
                tally.fail("wrong acceptances", f"--cycle-month {text!r}", rc)
            continue
        settings, _ = parse_settings(OpenpyxlBook(book).read_table(C.SETTINGS_TABLE)[0])
        if rc == 0 and settings is not None and str(settings.cycle_month) == want:
            tally.ok("read exactly")
        else:
            tally.fail("wrong acceptances", f"--cycle-month {text!r}", (rc, settings and settings.cycle_month))
    # a month name two languages give different months is refused, never guessed (none among MONTH_LOCALES)
    assert len(month_name_readings(("hr", "pl"))["listopad"]) == 2
    assert all(len(r) == 1 for r in month_name_readings().values())
    assert_family(tally, 80)


def assert_family(tally: Tally, at_least: int) -> None:
    assert tally.cases >= at_least
    assert {k: v for k, v in tally.failures.items() if v} == {}


# ---- (2) duplicated headers in input tables -------------------------------------------------------------------
DUPLICATES = [  # sheet, header repeated, where (None: beside the table; a column number: over that column), text
    ("Items", "Unit Price", None, None), ("Items", "Unit Price", None, "unit  price"), ("Items", "Unit Price", None,
                                                                                       "unit_price"),
    ("Items", "Unit Price", 2, None), ("Items", "Family", None, "FAMILY"), ("Items", "Item", None, None),
    ("History", "Item", None, None), ("History", "Item", 3, None), ("Inventory", "On Hand", None, None),
    ("Capacity", "Available Hours", None, None), ("Budget", "Units", None, None), ("Budget", "Family", None, None),
    ("Settings", "Value", None, None), ("Events", "From", None, None), ("BillOfResources", "Resource", None, None),
]


def test_duplicated_headers(tmp_path: Path) -> None:
    tally = family_tally("duplicated headers")
    base = history_book(tmp_path / "base.xlsx")
    for i, (sheet, header, over, text) in enumerate(DUPLICATES):
        wb = openpyxl.load_workbook(base)
        ws = wb[sheet]
        table = next(iter(ws.tables.values()))
        c0, r0, c1, r1 = range_boundaries(table.ref)
        heads = [ws.cell(r0, c).value for c in range(c0, c1 + 1)]
        source = c0 + heads.index(header)
        col = c1 + 1 if over is None else c0 + over - 1
        ws.cell(r0, col).value = text or header
        for r in range(r0 + 1, max(r1, r0 + 1) + 1):  # a copy that disagrees: using either one silently is wrong
            v = ws.cell(r, source).value
            ws.cell(r, col).value = v * 3 if isinstance(v, (int, float)) and not isinstance(v, bool) else v
        path = tmp_path / f"dup{i}.xlsx"
        wb.save(path)
        second = f"{get_column_letter(max(col, source))}{r0}"  # the header further right
        _check_refused(tally, f"{sheet} {header} x2 ({'beside' if over is None else f'over column {over}'})", path,
                       {second}, lambda p=path: load_inputs(OpenpyxlBook(p)), sheet)
        if i % 5 == 0:
            assert cli(["validate", str(path)]) == 2
    # ERP extracts and budget pastes: two columns for one field, refused at the second header
    files = [
        ("Items", ["Item", "Family", "Unit Price", "Unit Cost", "Unit Price"], ["A", "F", 10, 5, 12], "E1"),
        ("Items", ["Material", "Product Group", "List Price", "Price", "Std Cost"], ["A", "F", 10, 12, 5], "D1"),
        ("History", ["Material", "Billing Date", "Billed Qty", "Material"], ["A", "2026-11-03", 5, "B"], "D1"),
        ("History", ["Item", "Billing Date", "Quantity", "Qty"], ["A", "2026-11-03", 5, 6], "D1"),
        ("Inventory", ["Item", "On Hand", "Unrestricted"], ["A", 5, 7], "C1"),
        ("Capacity", ["Resource", "Month", "Hours", "Capacity"], ["Line", "2027-01", 100, 90], "D1"),
    ]
    for i, (table, header, row, cell) in enumerate(files):
        src = write_csv(tmp_path / f"extract{i}.csv", [header, row])
        book = tmp_path / f"target{i}.xlsx"
        book.write_bytes(base.read_bytes())
        _check_refused(tally, f"{table} extract {header}", book, {cell},
                       lambda b=book, t=table, s=src: import_table(OpenpyxlBook(b), t, s))
        if i % 3 == 0:
            assert cli(["import", str(book), table, str(src), "--yes"]) == 2
    budget = make_budget_book(tmp_path / "budget.xlsx", horizon=12)
    pastes = [  # header labels, the label cells of a row (family f, measure m), the second header's cell
        (["Family", "Family", "Measure"], lambda f, m: [f, "Garden", m], "B1"),
        (["Family", "Measure", "Measure"], lambda f, m: [f, m, m], "C1"),
        (["Family", "Product family", "Measure"], lambda f, m: [f, "Garden", m], "B1"),
        (["Family", "Measure", MONTHS[0]], lambda f, m: [f, m, 1.0], "D1"),  # a month header twice
    ]
    for i, (labels, cells, cell) in enumerate(pastes):
        rows = [labels + MONTHS] + [cells(r[0], r[1]) + r[2:] for r in good_rows(random.Random(i))[1:]]
        src = write_csv(tmp_path / f"paste{i}.csv", rows)
        _check_refused(tally, f"budget paste {labels}", budget, {cell},
                       lambda s=src: import_budget(OpenpyxlBook(budget), s))
    assert_family(tally, 25)


# ---- (3) numbers in note rows above a budget paste ------------------------------------------------------------
NOTE_ROWS = {
    "version": [["FY2027 budget", None, "Version 3"]],
    "year title": [["2026 budget"], [], ["Version", 3]],
    "number title": [[2027, "Budget", None, 3]],
    "printed date": [["Printed on", dt.datetime(2026, 11, 15)], ["Version", 3]],
    "printed date text": [["Printed on", "2026-11-15", "rev", 3]],
    "approved month": [["Approved", "Nov 2026", "by", "CFO"], ["Scale", 1]],
    "month and number": [["Budget", "2027-01", 3]],
    "a row of numbers": [[None, None, *range(1, 13)]],
    "year row": [[None, None, 2027]],
    "serial date": [["Issued", 46341, "Version", 3]],
    "months in a title": [["Budget Jan 2027 - Dec 2027"], ["Version 3 of 2026-11-15"]],
    "two dates": [["From", "2027-01", "to", "2027-12"], ["Versions", 3, 4]],
    "date over a month": [[None, None, "2026-11-15"], [None, None, 12]],
    "fiscal year": [["FY27", 2027, "units and revenue", 1000]],
    "percent": [["Growth", "5%", "vs", 2026]],
}


def budget_body(shape: str) -> tuple[list[list[object]], dict[tuple[str, str], float]]:
    """A budget paste of one shape and the units it holds per (family, month)."""
    units = {(f, m): float(100 * (i + 1) + k) for i, f in enumerate(FAMILIES) for k, m in enumerate(MONTHS)}
    revenue = {key: 10 * v for key, v in units.items()}
    if shape == "wide":
        rows = [["Family", "Measure", *MONTHS]]
        for f in FAMILIES:
            rows += [[f, "units", *[units[f, m] for m in MONTHS]], [f, "revenue", *[revenue[f, m] for m in MONTHS]]]
    elif shape == "rows":
        rows = [["Month", *[f"{f} {w}" for f in FAMILIES for w in ("units", "revenue")]]]
        rows += [[m, *[v for f in FAMILIES for v in (units[f, m], revenue[f, m])]] for m in MONTHS]
    else:
        rows = [["Family", "Month", "Units", "Revenue"]] + [[f, m, units[f, m], revenue[f, m]] for f in FAMILIES
                                                            for m in MONTHS]
    return rows, units


def test_note_rows_above_a_paste(tmp_path: Path) -> None:
    tally = family_tally("note rows above a paste")
    master = make_budget_book(tmp_path / "master.xlsx", horizon=12)
    cases = [(name, notes, shape, where) for name, notes in NOTE_ROWS.items() for shape, where in
             (("wide", "csv"), ("wide", "sheet"))]
    cases += [(name, NOTE_ROWS[name], shape, "csv") for name in ("printed date text", "two dates", "approved month")
              for shape in ("rows", "long")]
    for i, (name, notes, shape, where) in enumerate(cases):
        body, units = budget_body(shape)
        rows = [list(r) for r in notes] + body
        path = tmp_path / f"book{i}.xlsx"
        path.write_bytes(master.read_bytes())
        book = OpenpyxlBook(path)
        if where == "csv":
            src = write_csv(tmp_path / f"notes{i}.csv", [["" if v is None else v for v in r] for r in rows])
        else:  # pasted on the book's BudgetPaste sheet, cells typed as they were
            src, ws = None, book.wb[C.BUDGET_PASTE_SHEET]
            for r, row in enumerate(rows, start=1):
                for c, v in enumerate(row, start=1):
                    if v is not None:
                        ws.cell(r, c, v)
        case = f"{name} above a {shape} paste ({where})"
        try:
            import_budget(book, src)
        except ValidationError as exc:  # a refusal is fine when it is clear
            tally.ok("refused with cells") if clear_refusal(exc) else tally.fail("unclear", case, str(exc))
            continue
        except Exception as exc:  # noqa: BLE001
            tally.fail("tracebacks", case, repr(exc))
            continue
        frame = book.read_table(C.BUDGET)[0]
        got = {(f, str(p)): u for f, p, u in frame[["family", "period", "units"]].itertuples(index=False)}
        if got == units:
            tally.ok("read exactly")
        else:
            tally.fail("wrong acceptances", case, sorted(set(got.items()) ^ set(units.items()))[:4])
        if i % 6 == 0 and where == "csv":  # and through the CLI, saved
            assert cli(["import-budget", str(path), str(src), "--yes"]) == 0
    assert_family(tally, 35)


# ---- (4) archive concurrency ----------------------------------------------------------------------------------
def _publish_in_child(argv: list[str], barrier, queue) -> None:
    barrier.wait()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            queue.put((argv[1], cli(argv)))
        except BaseException as exc:  # noqa: BLE001
            queue.put((argv[1], repr(exc)))


def _run_together(calls: list[list[str]]) -> list[object]:
    """`cli(argv)` for every call at once, in threads; the exit code, or the exception's repr."""
    results: list[object] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def call(k: int) -> None:
        start.wait()
        try:
            results[k] = cli(calls[k])
        except BaseException as exc:  # noqa: BLE001
            results[k] = repr(exc)

    threads = [threading.Thread(target=call, args=(k,)) for k in range(len(calls))]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    return results


def test_archive_concurrency(tmp_path: Path) -> None:
    tally = family_tally("archive concurrency")
    book = history_book(tmp_path / "book.xlsx")
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli(["run", str(book)]) == 0
    copy = tmp_path / "copy.xlsx"
    copy.write_bytes(book.read_bytes())
    db = archive.default_path(book)

    def agree(case: str, expected_versions: int) -> None:
        versions = archive.versions(db)
        revisions = sorted(v.revision for v in versions)
        if revisions != list(range(1, expected_versions + 1)):
            tally.fail("data losses", case, revisions)
        stamp, _ = OpenpyxlBook(book).read_table(C.PLAN_VERSION)
        if stamp["version"].iloc[0] not in {v.version for v in versions if v.book == book.name}:
            tally.fail("data losses", case, f"the book says {stamp['version'].iloc[0]}")

    # two processes publish the same book at once, the archive not made yet (both make it)
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_publish_in_child, args=(argv, barrier, queue))
             for argv in (["publish", str(book)], ["publish", str(copy), "--archive", str(db)])]
    for p in procs:
        p.start()
    got = [queue.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    case = "two processes publish at once, making the archive"
    if any(rc != 0 for _, rc in got):
        tally.fail("tracebacks" if any(isinstance(rc, str) for _, rc in got) else "wrong acceptances", case, got)
    else:
        tally.ok("published, distinct revisions")
    agree(case, 2)
    # threads: the same book twice, a copy into the same archive, and kpis and diff reading the archive meanwhile
    rounds = [[["publish", str(book)], ["publish", str(book)], ["publish", str(copy), "--archive", str(db)],
               ["kpis", str(book)], ["kpis", str(book), "--versions"],
               ["diff", str(book), "--from", "2027-01-r1", "--to", "latest"]],
              [["publish", str(copy), "--archive", str(db)], ["publish", str(book)], ["kpis", str(book), "--items"],
               ["publish", str(copy), "--archive", str(db)], ["kpis", str(copy), "--archive", str(db)]]]
    published = 2
    for calls in rounds:
        results = _run_together(calls)
        for argv, rc in zip(calls, results):
            case = "concurrent " + " ".join(argv[:1] + argv[2:])
            if isinstance(rc, str):
                tally.fail("tracebacks", case, rc)
            elif rc != 0:
                tally.fail("wrong acceptances", case, rc)
            else:
                tally.ok("published, distinct revisions" if argv[0] == "publish" else "read while publishing")
        published += sum(argv[0] == "publish" for argv in calls)
        agree(f"{len(calls)} commands at once, publishing and reading", published)
    if leftovers_beside(book):
        tally.fail("data losses", "concurrent publishes", f"left beside the book: {leftovers_beside(book)}")
    assert_family(tally, 12)


def leftovers_beside(book: Path) -> list[str]:
    return sorted(p.name for p in book.parent.iterdir() if p.name.startswith("."))


def test_threads_creating_one_archive_at_once(tmp_path: Path) -> None:
    errors = []
    for i in range(30):
        path = tmp_path / f"a{i}.snop.sqlite"

        def make(path=path) -> None:
            try:
                archive.connect(path).close()
            except Exception as exc:  # noqa: BLE001
                errors.append(repr(exc))
        threads = [threading.Thread(target=make) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []


# ---- (5) bombs that evade the size guard ----------------------------------------------------------------------
def _deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def raw_zip(path: Path, entries: list[tuple[str, bytes, int, int, int | None]], count: int | None = None) -> Path:
    """A zip written by hand, so that it can say what it likes: `entries` are (name, deflated bytes, crc, size,
    declared size or None); `count`: the number of parts its end record declares."""
    out, directory = bytearray(), bytearray()
    for name, packed, crc, size, declared in entries:
        raw, offset, usize = name.encode(), len(out), size if declared is None else declared
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(packed), usize, len(raw), 0)
        out += raw + packed
        directory += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(packed), usize,
                                 len(raw), 0, 0, 0, 0, 0, offset) + raw
    n = min(len(entries) if count is None else count, 0xFFFF)
    out += directory + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n, n, len(directory), len(out), 0)
    path.write_bytes(bytes(out))
    return path


def entry(name: str, data: bytes, declared: int | None = None, packed: bytes | None = None) -> tuple:
    return name, _deflate(data) if packed is None else packed, zlib.crc32(data), len(data), declared


SHEET_HEAD = b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
EMPTY_CELLS = b"<row>" + b"<c/>" * 1000 + b"</row>"  # each <c/> an openpyxl cell (~100 bytes of memory) from 4


def bomb_books(folder: Path, good: Path) -> list[tuple[str, Path, str]]:
    """(case, file, words its refusal must say): zips with huge cells or strings under a small compressed size,
    deep nesting, many tiny parts, sizes that lie. Each would cost seconds and hundreds of MB to GBs if opened."""
    with zipfile.ZipFile(good) as z:
        parts = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    plain = [entry(n, d) for n, d in parts]

    def with_sheets(n: int, sheet: bytes) -> list[tuple]:
        """The good book plus `n` sheets of `sheet`, registered in the workbook so openpyxl reads them all."""
        extra = {"xl/workbook.xml": (b"</sheets>", "".join(f'<sheet name="B{i}" sheetId="{900 + i}" r:id="rIdB{i}"/>'
                                                           for i in range(n))),
                 "xl/_rels/workbook.xml.rels": (b"</Relationships>", "".join(
                     f'<Relationship Id="rIdB{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                     f'relationships/worksheet" Target="worksheets/b{i}.xml"/>' for i in range(n))),
                 "[Content_Types].xml": (b"</Types>", "".join(
                     f'<Override PartName="/xl/worksheets/b{i}.xml" ContentType="application/vnd.openxmlformats-'
                     f'officedocument.spreadsheetml.worksheet+xml"/>' for i in range(n)))}
        out = [entry(name, data.replace(extra[name][0], extra[name][1].encode() + extra[name][0])
                     if name in extra else data) for name, data in parts]
        packed = _deflate(sheet)
        return out + [entry(f"xl/worksheets/b{i}.xml", sheet, packed=packed) for i in range(n)]

    def nested(target: str, depth: int) -> list[tuple]:
        out = []
        for name, data in parts:
            if name == target:
                root = data.index(b">", data.index(b"<", data.index(b"?>") + 2 if data.startswith(b"<?xml") else 0))
                data = data[:root + 1] + b"<x>" * depth + b"</x>" * depth + data[root + 1:]
            out.append(entry(name, data))
        return out

    cells = SHEET_HEAD + b"<sheetData>" + EMPTY_CELLS * (1_900_000 // len(EMPTY_CELLS)) + b"</sheetData></worksheet>"
    small = SHEET_HEAD + b"<sheetData>" + EMPTY_CELLS * (250_000 // len(EMPTY_CELLS)) + b"</sheetData></worksheet>"
    strings = (b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
               + b"<si><t>a</t></si>" * 110_000 + b"</sst>")
    rng = random.Random(7)
    noise = bytes(rng.randrange(256) for _ in range(600_000))  # compresses ~1:1: declared as 100 MB, 170:1

    def lying_sheet(dimension: bytes) -> list[tuple]:
        data = SHEET_HEAD + dimension + b"<sheetData>" + noise
        return [entry(n, d) if n != "xl/worksheets/sheet1.xml" else entry(n, data, declared=100 * 2**20)
                for n, d in parts]
    tiny = entry("xl/media/t.bin", b"")
    cases = [
        ("3 sheets of 1.8 MB of empty cells (60 KB file)", with_sheets(3, cells), None, "zip bomb"),
        ("20 sheets of 250 KB of empty cells, each under the part floor", with_sheets(20, small), None, "zip bomb"),
        ("1.9 MB of shared strings from 3 KB", plain + [entry("xl/sharedStrings.xml", strings)], None, "zip bomb"),
        ("sheet declaring 100 MB of XML and no dimension", lying_sheet(b""), None, "declares no dimension"),
        ("sheet declaring 100 MB of XML and the dimension A1", lying_sheet(b'<dimension ref="A1"/>'), None,
         "declares only A1"),
        ("sheet inflating past its declared size", [entry(n, d, declared=100) if n == "xl/worksheets/sheet1.xml"
                                                    else entry(n, d) for n, d in parts], None, "damaged"),
        ("sheet nested 250,000 deep (1.7 MB)", nested("xl/worksheets/sheet1.xml", 250_000), None, "zip bomb"),
        ("workbook.xml nested 20,000 deep (140 KB)", nested("xl/workbook.xml", 20_000), None, "deep"),
        ("styles.xml nested 20,000 deep", nested("xl/styles.xml", 20_000), None, "deep"),
        ("[Content_Types].xml nested 20,000 deep", nested("[Content_Types].xml", 20_000), None, "deep"),
        ("20,000 tiny parts", plain + [(f"xl/media/t{i}.bin",) + tiny[1:] for i in range(20_000)], None,
         "many tiny parts"),
        ("60,000 tiny parts, the end record saying 50", plain + [(f"xl/media/t{i}.bin",) + tiny[1:]
                                                                 for i in range(60_000)], 50, "many tiny parts"),
    ]
    return [(case, raw_zip(folder / f"bomb{i}.xlsx", entries, count), words)
            for i, (case, entries, count, words) in enumerate(cases)]


def test_bombs_that_evade_the_size_guard(tmp_path: Path, capsys, monkeypatch) -> None:
    tally = family_tally("bombs")
    good = make_budget_book(tmp_path / "good.xlsx", horizon=12)
    paste = write_csv(tmp_path / "paste.csv", good_rows(random.Random(1)))
    bombs = bomb_books(tmp_path, good)
    parsed: list[str] = []  # zip directories zipfile parsed: never a many-parts bomb's
    real = zipfile.ZipFile._RealGetContents

    def spy(self) -> None:
        parsed.append(Path(str(self.filename)).name)
        real(self)
    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", spy)
    capsys.readouterr()
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if resource else 0
    for case, path, words in bombs:
        before = digest(path)
        for argv in (["validate", str(path)], ["import-budget", str(path), str(paste), "--yes"]):
            started = time.perf_counter()
            try:
                rc = cli(argv)
            except Exception as exc:  # noqa: BLE001
                tally.fail("tracebacks", f"{case}: {argv[0]}", repr(exc))
                continue
            said = capsys.readouterr().err
            if rc == 0:
                tally.fail("wrong acceptances", f"{case}: {argv[0]}", "accepted")
            elif words not in said or path.name not in said or time.perf_counter() - started > 20:
                tally.fail("unclear", f"{case}: {argv[0]}", said.strip()[-300:])
            else:
                tally.ok("refused before opening")
        if digest(path) != before:
            tally.fail("data losses", case, "the file changed")
    many = {path.name for case, path, _ in bombs if "tiny parts" in case}
    assert not many & set(parsed), "a directory of many parts was parsed before it was refused"
    if resource is not None:  # the high-water mark: a bomb opened even once would raise it by GBs
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - grown  # KB on Linux
        assert grown < 300 * 1024, f"opening the bombs grew the process by {grown // 1024} MB"
    assert_family(tally, 20)


def test_corpus_closing_note(capsys) -> None:
    """The totals of the families above (run after them: pytest keeps a module's order)."""
    if not FAMILY_TALLIES:
        pytest.skip("no family ran")
    failures = {k: sum(len(t.failures[k]) for t in FAMILY_TALLIES.values()) for k in Tally.FAILURES}
    cases = sum(t.cases for t in FAMILY_TALLIES.values())
    parts = "; ".join(f"{name} {t.cases} ({', '.join(f'{k} {v}' for k, v in sorted(t.counts.items()))})"
                      for name, t in FAMILY_TALLIES.items())
    with capsys.disabled():
        print(f"\nbad-input corpus, issue #12 families: {cases} cases: {parts}\n"
              f"bad-input corpus totals: {cases + CORPUS_TOTALS.get('cases', 0)} cases; "
              f"tracebacks {failures['tracebacks'] + CORPUS_TOTALS.get('crashes', 0)}; "
              f"wrong acceptances {failures['wrong acceptances'] + CORPUS_TOTALS.get('unclear', 0)}; "
              f"data losses {failures['data losses'] + CORPUS_TOTALS.get('changed', 0)}; "
              f"unclear {failures['unclear']}")
    assert all(v == 0 for v in failures.values())
