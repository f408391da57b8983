"""A seeded corpus of bad inputs: every one refused with a clear error, none crashes, no input file changes.

Bad budget pastes (CSV and .xlsx, each mutated one way from a good paste) go through `snop-xl import-budget`; hostile
or broken workbooks go through `snop-xl validate` and `import-budget` as the BOOK. Prints the counts.
"""

from __future__ import annotations

import hashlib
import random
import zipfile
from collections import Counter
from pathlib import Path

import openpyxl
import pytest

from snop_xl.commands.import_budget import import_budget
from snop_xl.cli import main as cli
from snop_xl.errors import SnopError, ValidationError
from snop_xl.io import OpenpyxlBook

from .test_budget_import import FAMILIES, make_budget_book, write_csv

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
    with capsys.disabled():
        print(f"\nbad-input corpus: {total} cases ({len(pastes)} budget pastes, {len(hostile)} hostile books x 2 "
              f"commands); {dict(counts)}; crashes {len(crashes)}; files changed {len(changed)}; "
              f"unclear {len(unclear)}")
    assert total >= 200
    assert crashes == []
    assert changed == []
    assert unclear == []
