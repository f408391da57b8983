"""Files and messages (#12): read-only books and folders, a full disk, file modes, VBA by content, damaged and hostile
packages, folders and truncated files given as BOOK. Real files on disk; a read-only drive and a full disk are small
tmpfs mounts (root only: skipped otherwise). Each test checks what happened to the files, then what was said.
"""

from __future__ import annotations

import gc
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from snop_xl import archive
from snop_xl.cli import main
from snop_xl.inputs import write_inputs
from snop_xl.io import OpenpyxlBook
from snop_xl.io.atomic import os_error_message

from .conftest import ROOT, small_frames, small_tmpfs

TEMPLATE = ROOT / "workbook" / "SNOP_Template.xlsm"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Exit code and stderr of `snop-xl argv`; a Python traceback fails the test (it escapes main)."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "[Errno" not in err, err
    return code, err


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---- read-only books, file modes ----------------------------------------------------------------------------------
def test_a_read_only_book_is_refused_and_left_as_it_was(small_book: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = small_book.read_bytes()
    os.chmod(small_book, 0o444)
    code, err = _run(capsys, "run", small_book)
    assert code == 1 and "read-only" in err and small_book.name in err
    assert small_book.read_bytes() == before and _mode(small_book) == 0o444
    assert _listing(small_book.parent) == [small_book.name]


def test_publish_refuses_a_read_only_book_before_archiving(small_book: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(small_book)]) == 0
    capsys.readouterr()
    before = small_book.read_bytes()
    os.chmod(small_book, 0o444)
    code, err = _run(capsys, "publish", small_book, "--approver", "Lead")
    assert code == 1 and "read-only" in err
    assert small_book.read_bytes() == before
    db = archive.default_path(small_book)
    assert not db.exists() or not archive.versions(db)


def test_a_save_keeps_the_books_mode(small_book: Path) -> None:
    os.chmod(small_book, 0o664)  # a book shared with the team
    assert main(["run", str(small_book)]) == 0
    assert _mode(small_book) == 0o664
    os.chmod(small_book, 0o640)
    book = OpenpyxlBook(small_book)
    book.log("test", "saved again")
    book.save()
    assert _mode(small_book) == 0o640


def test_a_folder_as_output_is_refused(small_book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    for argv in (["export", small_book, "Items", "-o", folder], ["run", small_book, "-o", folder]):
        code, err = _run(capsys, *argv)
        assert code == 1 and "is a folder" in err
        assert _listing(folder) == []


def test_an_output_folder_that_cannot_be_created_is_a_message(small_book: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    blocker = small_book.parent / "plain-file"
    blocker.write_text("not a folder")
    code, err = _run(capsys, "export", small_book, "Items", "-o", blocker / "sub" / "items.csv")
    assert code == 1 and "items.csv" in err and "not written" in err
    assert blocker.read_text() == "not a folder"


# ---- read-only drive, full disk (small tmpfs mounts: root only) ---------------------------------------------------
@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs mounted under tmp_path (unmounted afterwards); skipped where mounting is not allowed."""
    with small_tmpfs(tmp_path, "256k") as point:
        yield point


def _fill(folder: Path, leave: int) -> None:
    """Fill the drive of `folder` until `leave` bytes are free."""
    st = os.statvfs(folder)
    (folder / "filler").write_bytes(b"\0" * max(st.f_bavail * st.f_frsize - leave, 0))


def test_a_full_disk_is_a_message_and_leaves_the_book_and_nothing_else(small_book: Path, mount: Path,
                                                                        capsys: pytest.CaptureFixture[str],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    book = Path(shutil.copy(small_book, mount / "book.xlsx"))
    before = book.read_bytes()
    _fill(mount, 8192)
    late: list[object] = []  # an error in a finaliser (a zip left open) would print a second, raw '[Errno 28]'
    monkeypatch.setattr(sys, "unraisablehook", late.append)
    code, err = _run(capsys, "run", book, "--steps", "demand")
    gc.collect()
    assert code == 1 and "disk is full" in err and "book.xlsx" in err and not late
    assert book.read_bytes() == before
    assert _listing(mount) == ["book.xlsx", "filler"]  # no temp file left behind
    (mount / "filler").unlink()
    _fill(mount, 0)
    code, err = _run(capsys, "export", small_book, "Items", "-o", mount / "items.csv")
    assert code == 1 and "disk is full" in err and _listing(mount) == ["book.xlsx", "filler"]


def test_a_book_on_a_read_only_drive_is_a_message(small_book: Path, mount: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    book = Path(shutil.copy(small_book, mount / "book.xlsx"))
    before = book.read_bytes()
    assert subprocess.run(["mount", "-o", "remount,ro", str(mount)]).returncode == 0
    code, err = _run(capsys, "run", book, "--steps", "demand")
    assert code == 1 and "read-only drive" in err
    assert book.read_bytes() == before and _listing(mount) == ["book.xlsx"]
    code, err = _run(capsys, "export", small_book, "Items", "-o", mount / "items.csv")
    assert code == 1 and "read-only drive" in err and _listing(mount) == ["book.xlsx"]


def test_a_read_only_folder_is_a_message(small_book: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Without root: the folder's mode refuses the temp file (root writes anyway: see the read-only drive)."""
    if os.geteuid() == 0:
        pytest.skip("root writes into a read-only folder; the read-only drive test covers root")
    folder = tmp_path / "shared"
    folder.mkdir()
    book = Path(shutil.copy(small_book, folder / "book.xlsx"))
    before = book.read_bytes()
    os.chmod(folder, 0o555)
    try:
        code, err = _run(capsys, "run", book, "--steps", "demand")
    finally:
        os.chmod(folder, 0o755)
    assert code == 1 and "permission denied" in err and book.read_bytes() == before
    assert _listing(folder) == ["book.xlsx"]


# ---- VBA by content, not by name ----------------------------------------------------------------------------------
def _parts(path: Path, *names: str) -> list[bytes]:
    with zipfile.ZipFile(path) as package:
        return [package.read(n) for n in names]


@pytest.mark.skipif(not TEMPLATE.exists(), reason="the macro template is not built")
def test_a_macro_book_renamed_xlsx_keeps_its_vba_project_and_ribbon(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    book_path = Path(shutil.copy(TEMPLATE, tmp_path / "renamed.xlsx"))
    parts = ("xl/vbaProject.bin", "customUI/customUI.xml")
    vba = _parts(book_path, *parts)
    book = OpenpyxlBook(book_path)
    frames = small_frames()
    budget = frames.pop("Budget")
    write_inputs(book, frames, {"cycle_month": pd.Period("2027-01", "M"), "horizon": 6})
    book.save()
    assert _parts(book_path, *parts) == vba
    source = tmp_path / "budget.csv"
    budget.assign(period=budget["period"].astype(str)).drop(columns="item").to_csv(source, index=False)
    code, err = _run(capsys, "import-budget", book_path, source, "--yes")
    assert code == 0, err
    assert _parts(book_path, *parts) == vba
    with zipfile.ZipFile(book_path) as package:
        assert b"macroEnabled" in package.read("[Content_Types].xml")


def test_a_plain_xlsx_stays_plain(small_book: Path) -> None:
    book = OpenpyxlBook(small_book)
    book.log("test", "saved")
    book.save()
    with zipfile.ZipFile(small_book) as package:
        assert "xl/vbaProject.bin" not in package.namelist()
        assert b"macroEnabled" not in package.read("[Content_Types].xml")


# ---- damaged and hostile packages in recalc -----------------------------------------------------------------------
def _with_part(source: Path, target: Path, name: str, data: bytes) -> Path:
    """A copy of the package `source` with part `name` replaced by `data`."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, data if info.filename == name else src.read(info.filename))
    return target


_BOMB = (b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
         b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
         b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">&lol3;</workbook>')


@pytest.mark.parametrize("name, data", [
    ("not well-formed", b'<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                        b'2006/main"><sheets><sheet name="Items"'),
    ("entity bomb", b'<?xml version="1.0"?>' + _BOMB),
    ("entity bomb after a long comment", b'<?xml version="1.0"?><!--' + b" " * 100_000 + b"-->" + _BOMB),
    ("entity bomb in UTF-16", ('<?xml version="1.0" encoding="UTF-16"?>' + _BOMB.decode()).encode("utf-16")),
])
def test_recalc_refuses_a_damaged_or_hostile_workbook_xml(small_book: Path, tmp_path: Path, name: str, data: bytes,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    book = _with_part(small_book, tmp_path / "hostile.xlsx", "xl/workbook.xml", data)
    for command in ("recalc", "validate"):
        code, err = _run(capsys, command, book)
        assert code == 1 and "hostile.xlsx" in err, (name, err)
        if "bomb" in name:
            assert "entity" in err


# ---- messages -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [["validate"], ["run"], ["export", "Items"], ["kpis"], ["recalc"],
                                     ["import-budget"]])
def test_a_folder_given_as_book_says_it_is_a_folder(tmp_path: Path, command: list[str],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "plans.xlsx"
    folder.mkdir()
    code, err = _run(capsys, command[0], folder, *command[1:])
    assert code == 1 and "is a folder" in err and "no such" not in err
    assert _listing(folder) == []


def test_an_empty_or_truncated_book_says_what_to_do(small_book: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(small_book.read_bytes()[:4000])
    for book, what in ((empty, "empty"), (truncated, "truncated")):
        before = book.read_bytes()
        code, err = _run(capsys, "run", book)
        assert code == 1 and what in err and "backup" in err and "renamed" not in err
        assert book.read_bytes() == before


def test_no_raw_errno_reaches_the_user(small_book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """_run fails on any '[Errno' in what is said; these used to print one or a traceback."""
    folder = tmp_path / "dir"
    folder.mkdir()
    cases = [("export", small_book, "Items", "-o", folder),
             ("export", small_book, "Items", "-o", Path("/proc/no-such/items.csv")),
             ("import-budget", small_book, tmp_path / "missing.csv"),
             ("new", tmp_path / "new.xlsx", "--items", tmp_path / "missing.csv")]
    for argv in cases:
        code, _ = _run(capsys, *argv)
        assert code == 1, argv
    assert _listing(folder) == []


def test_os_errors_in_words() -> None:
    assert os_error_message(PermissionError(13, "Permission denied", "/x/book.xlsx")) == \
        "/x/book.xlsx: permission denied; check the file's and the folder's permissions"
    assert "[Errno" not in os_error_message(OSError(28, "No space left on device", "b.xlsx"))
    assert os_error_message(FileNotFoundError("book.xlsx: no such workbook")) == "book.xlsx: no such workbook"
