"""Hostile files are refused before parsing; CSV exports cannot carry formulas."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from snop_xl import contract as C
from snop_xl.commands.export import export_table, neutralise, table_csv
from snop_xl.errors import SnopError
from snop_xl.io import OpenpyxlBook, open_book
from snop_xl.io.safe_open import Limits, UnsafeFileError, check_csv_file, check_workbook_file

BOMB = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">' \
       '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'


def good_book(path: Path) -> Path:
    wb = openpyxl.Workbook()
    wb.active["A1"] = "hello"
    wb.save(path)
    return path


def rewrite(src: Path, dst: Path, change) -> Path:
    """Copy a workbook package, letting `change(name, data)` replace parts (None drops one)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(info.filename, data)
    return dst


def test_openpyxl_uses_defusedxml() -> None:
    assert openpyxl.DEFUSEDXML is True


def test_a_good_workbook_passes(tmp_path: Path) -> None:
    check_workbook_file(good_book(tmp_path / "ok.xlsx"))


def refused(path: Path, words: str, limits: Limits | None = None) -> None:
    with pytest.raises(UnsafeFileError) as err:
        check_workbook_file(path, limits) if limits else check_workbook_file(path)
    assert words in str(err.value) and path.name in str(err.value)
    with pytest.raises(SnopError):  # and the book opener refuses it the same way
        open_book(path)


def test_entity_bomb(tmp_path: Path) -> None:
    good = good_book(tmp_path / "ok.xlsx")
    bad = rewrite(good, tmp_path / "bomb.xlsx",
                  lambda n, d: BOMB.encode() + d.replace(b"hello", b"&c;") if n.endswith("sheet1.xml") else d)
    refused(bad, "DTD or entity")
    with pytest.raises(Exception) as err:  # guard bypassed: defusedxml inside openpyxl still refuses
        openpyxl.load_workbook(bad)
    chain, exc = [], err.value
    while exc is not None:
        chain.append(type(exc).__name__)
        exc = exc.__cause__ or exc.__context__
    assert any(name in ("EntitiesForbidden", "DTDForbidden") for name in chain), chain


def test_zip_bomb_ratio(tmp_path: Path) -> None:
    good = good_book(tmp_path / "ok.xlsx")
    bad = rewrite(good, tmp_path / "bomb.xlsx", lambda n, d: d)
    with zipfile.ZipFile(bad, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/media/image1.bin", b"\0" * (8 * 2**20))
    refused(bad, "zip bomb")


def test_zip_bomb_total_size(tmp_path: Path) -> None:
    with pytest.raises(UnsafeFileError, match="would expand"):
        check_workbook_file(good_book(tmp_path / "ok.xlsx"), Limits(max_uncompressed_bytes=1000))


def test_oversized_sheet(tmp_path: Path) -> None:
    good = good_book(tmp_path / "ok.xlsx")
    bad = rewrite(good, tmp_path / "huge.xlsx",
                  lambda n, d: re.sub(rb'<dimension ref="A1:A1" ?/>', b'<dimension ref="A1:XFD1048576"/>', d)
                  if "sheet1" in n else d)  # any writer's spelling of the empty element
    refused(bad, "cell cap")


@pytest.mark.parametrize("content, words", [
    (b"name,value\na,1\n", "not an Excel workbook"),
    (b"", "empty"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600 + "EncryptedPackage".encode("utf-16-le") + b"\0" * 600,
     "password-protected"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 1200, "legacy .xls"),
    (b"PK\x03\x04garbage", "not an Excel workbook"),
])
def test_not_workbooks(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "renamed.xlsx"
    path.write_bytes(content)
    refused(path, words)


def test_word_document_renamed(tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<document/>")
    refused(path, "Word document")


def test_truncated_workbook(tmp_path: Path) -> None:
    good = good_book(tmp_path / "ok.xlsx")
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(SnopError):
        open_book(cut)


def test_binary_csv_refused(tmp_path: Path) -> None:
    path = tmp_path / "budget.csv"
    path.write_bytes(good_book(tmp_path / "ok.xlsx").read_bytes())
    with pytest.raises(UnsafeFileError, match="not a CSV"):
        check_csv_file(path)


@pytest.mark.parametrize("value, out", [("=1+1", "'=1+1"), ("+SUM(A1)", "'+SUM(A1)"), ("-2+3", "'-2+3"),
                                        ("@cmd", "'@cmd"), ("\t=x", "'\t'=x"), ("plain", "plain"), (-5.0, -5.0),
                                        (None, None), ("a=b", "a=b")])
def test_neutralise(value, out) -> None:
    assert neutralise(value) == out


def test_export_neutralises_cells(tmp_path: Path) -> None:
    from snop_xl.cli import main as cli
    from snop_xl.inputs import write_inputs
    import pandas as pd

    book = OpenpyxlBook.new(tmp_path / "b.xlsx")
    items = pd.DataFrame({"item": ["-HYPERLINK(\"http://x\")", "@A"], "description": ["+1", "-2"],
                          "family": ["F", "F"], "unit_price": [1.0, 2.0], "unit_cost": [1.0, 1.0],
                          "lead_time": [0, 0], "min_lot": [0.0, 0.0], "active": [True, True]})
    write_inputs(book, {"Items": items}, {})
    book.save()
    out = tmp_path / "items.csv"
    assert cli(["export", str(tmp_path / "b.xlsx"), "Items", "-o", str(out)]) == 0
    text = out.read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["Item", "Description", "Family"]
    assert rows[1][:4] == ["'-HYPERLINK(\"http://x\")", "'+1", "F", "1.0"]
    assert rows[2][:4] == ["'@A", "'-2", "F", "2.0"]
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "@")) and not (cell.startswith("-") and not cell[1:2].isdigit())
    assert export_table(OpenpyxlBook(tmp_path / "b.xlsx"), "tblItems", None) == text
    frame = items.assign(item=['=HYPERLINK("http://evil")', "x"])
    assert next(csv.reader(io.StringIO(table_csv(C.ITEMS, frame).splitlines()[1])))[0] == \
        "'=HYPERLINK(\"http://evil\")"


def test_recalc_refuses_hostile_books_before_opening_them(tmp_path: Path, capsys) -> None:
    """`snop-xl recalc` hands the book to openpyxl and LibreOffice: the same guards run first."""
    from snop_xl.cli import main as cli
    from snop_xl.build.recalc import recalc_file

    good = good_book(tmp_path / "ok.xlsx")
    bomb = rewrite(good, tmp_path / "bomb.xlsx", lambda n, d: d)
    with zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/media/image1.bin", b"\0" * (8 * 2**20))
    renamed = tmp_path / "notes.xlsx"
    renamed.write_bytes(b"name,value\na,1\n")
    for path, words in ((bomb, "zip bomb"), (renamed, "not an Excel workbook")):
        assert cli(["recalc", str(path)]) == 1
        assert words in capsys.readouterr().err
        with pytest.raises(UnsafeFileError, match=words):
            recalc_file(path, tmp_path / "out")


def test_recalc_profile_never_updates_links_or_runs_vba() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "lo_profile", Path(__file__).resolve().parents[1] / "scripts" / "libreoffice_bridge" / "profile.py")
    profile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(profile)
    settings = {(path, name): value for path, name, _, value in profile.SETTINGS}
    assert settings[("/org.openoffice.Office.Calc/Content/Update", "Link")] == "1"  # LibreOffice's LM_NEVER
    assert settings[("/org.openoffice.Office.Calc/Filter/Import/VBA", "Executable")] == "false"


def test_a_real_password_protected_workbook_is_refused(tmp_path: Path) -> None:
    """Encrypted the way Excel does it (msoffcrypto-tool, which oletools brings), as the book and as a budget."""
    pytest.importorskip("msoffcrypto.format.ooxml")
    from msoffcrypto.format.ooxml import OOXMLFile

    from snop_xl.paste import grid_from_workbook

    plain = good_book(tmp_path / "plain.xlsx")
    locked = tmp_path / "budget.xlsx"
    with open(plain, "rb") as src, open(locked, "wb") as out:
        OOXMLFile(src).encrypt("s3cret", out)
    before = locked.read_bytes()
    refused(locked, "password-protected")
    with pytest.raises(UnsafeFileError, match="password-protected"):
        grid_from_workbook(locked)
    assert locked.read_bytes() == before


def test_links_to_other_workbooks_are_kept_not_followed(small_book: Path) -> None:
    """A planner's input formula pointing at finance's model (an external link) survives a headless save as it
    was, cached value included; openpyxl never fetches the other file (it does not exist here)."""
    from openpyxl.packaging.relationship import Relationship
    from openpyxl.workbook.external_link.external import (ExternalBook, ExternalCell, ExternalLink, ExternalRow,
                                                          ExternalSheetData, ExternalSheetDataSet,
                                                          ExternalSheetNames)

    wb = openpyxl.load_workbook(small_book)
    wb["Items"]["L1"] = "=[1]Prices!A1"
    book = ExternalBook(sheetNames=ExternalSheetNames(sheetName=["Prices"]), sheetDataSet=ExternalSheetDataSet(
        sheetData=[ExternalSheetData(sheetId=0, row=[ExternalRow(r=1, cell=[ExternalCell(r="A1", v="42")])])]))
    link = ExternalLink(externalBook=book)
    link.file_link = Relationship(Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
                                       "externalLinkPath", Target="file:///nowhere/finance.xlsx", TargetMode="External")
    wb._external_links.append(link)
    wb.save(small_book)
    part = "xl/externalLinks/externalLink1.xml"
    with zipfile.ZipFile(small_book) as z:
        before = z.read(part)
    saved = open_book(small_book)
    saved.log("test", "a headless save")
    saved.save()
    with zipfile.ZipFile(small_book) as z:
        assert z.read(part) == before and b"finance.xlsx" in z.read("xl/externalLinks/_rels/externalLink1.xml.rels")
    assert openpyxl.load_workbook(small_book)["Items"]["L1"].value == "=[1]Prices!A1"
