"""Guards that run on a file before anything parses it, so that no workbook or CSV can hurt the user.

Why a separate step: openpyxl decompresses and parses whatever it is given. A 40 KB zip that expands to 40 GB, a
Word file renamed .xlsx or a password-protected workbook would otherwise end in a memory blow-up or an obscure
traceback. These checks look only at the zip directory and the first bytes of each part, so they are cheap and safe.

What is guaranteed when reading a workbook with snop-xl:
- XML entity bombs: `defusedxml` is a dependency, so openpyxl parses every part with it (``openpyxl.DEFUSEDXML``);
  on top of that a part that declares a DTD or an entity is refused here with a clear message (found by expat up to
  the root element, so neither a long comment before it nor a UTF-16 encoding hides it).
- Zip bombs: the total uncompressed size and each large part's compression ratio are capped before opening, from
  the sizes the package declares (never by inflating it): an XML part from 256 KB (real sheets compress 5-20:1; a
  sheet of empty ``<c/>`` cells compresses 1000:1 and costs openpyxl ~100 bytes of memory per 4 bytes of XML), any
  part from 2 MB, and smaller parts over the ratio together from 1 MB (many small sheets at extreme ratios). A
  part that inflates past the size it declares is refused by zipfile's own checks (it stops there: damaged).
- Many tiny parts: the part count and the size of the zip's central directory are read from its end record and
  capped before zipfile parses the directory (a 100 MB file of a million empty parts would take seconds and GBs).
- Deep nesting: a part nested more than ``max_depth`` elements deep within the bytes read for its prolog is
  refused; deeper in a part, the ratio and size caps bound it (openpyxl's readers skip unknown elements without
  recursing, so nesting costs no more than any other element).
- Not a workbook: anything that is not a zip with ``xl/workbook.xml`` is refused (legacy .xls included).
- Password-protected files (an OLE/CFB container holding ``EncryptedPackage``) are refused with that reason.
- Oversized sheets: a sheet whose declared dimension exceeds the cell cap is refused, and so is a sheet whose XML
  is larger than the cell cap's worth of the smallest cells (4 bytes, ``<c/>``) while its declared dimension (or
  none) could not need that much XML: a dimension cannot hide a bomb.
- Nothing in a file is ever executed: openpyxl never runs VBA (it only carries ``vbaProject.bin`` through a save),
  never follows or refreshes links to other workbooks (the book keeps them as they are through a save; files only
  read, such as a budget source, drop them), and never evaluates formulas.
"""

from __future__ import annotations

import os
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from xml.parsers import expat

from openpyxl import Workbook, load_workbook
from openpyxl.utils import range_boundaries

from snop_xl.errors import SnopError
from snop_xl.io.atomic import os_error_reason

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"


class UnsafeFileError(SnopError):
    """The file was refused before opening; the message names the file and the reason."""


@dataclass(frozen=True)
class Limits:
    """Caps on what a file may expand to. Defaults allow a very large real S&OP book (500k rows x 30 columns)."""

    max_file_bytes: int = 200 * 2**20  # the file on disk
    max_uncompressed_bytes: int = 1024 * 2**20  # all parts together, once decompressed
    max_ratio: float = 200.0  # uncompressed / compressed: for parts above their floor; below it, see the next two
    ratio_floor_bytes: int = 2 * 2**20  # small binary parts may compress extremely well (a plain-colour picture)
    xml_ratio_floor_bytes: int = 256 * 2**10  # XML parts: what openpyxl turns into cells, strings and trees
    max_overcompressed_bytes: int = 1 * 2**20  # parts compressed over max_ratio (each under its floor), together
    max_parts: int = 10_000
    max_directory_bytes: int = 2 * 2**20  # the zip's central directory (~80 bytes a part), before it is parsed
    max_sheet_cells: int = 20_000_000  # declared dimension rows x columns of one sheet
    min_cell_bytes: int = 4  # the smallest cell's XML (<c/>): a sheet's XML bounds how many cells it can hold
    max_cell_bytes: int = 256  # generous XML per declared cell (long formulas); more is a dimension hiding a bomb
    max_depth: int = 256  # element nesting (real parts nest under 30 deep)
    max_csv_bytes: int = 50 * 2**20


DEFAULT_LIMITS = Limits()
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)\"")
_PROLOG_BYTES = 64 * 1024  # DTDs and the dimension element come before the sheet data


def refuse(path: Path, reason: str) -> UnsafeFileError:
    return UnsafeFileError(f"{path.name}: {reason}; the file was not opened")


def existing_file(path: str | os.PathLike, what: str) -> Path:
    """`path` as a Path if it names a file; else the error that says it is a folder or that there is none."""
    path = Path(path)
    if path.is_dir():
        raise SnopError(f"{path} is a folder, not a {what}: give the path of the file itself")
    if not path.is_file():
        raise SnopError(f"{path}: no such {what}")
    return path


def _sized_file(path: str | os.PathLike, what: str, cap: int) -> Path:
    """`path` as a Path if it is a non-empty file within `cap` bytes; else the error that says which it is not."""
    path = existing_file(path, what)
    size = path.stat().st_size
    if size == 0:
        raise refuse(path, "the file is empty (0 bytes), so it was probably not saved or copied completely; use the "
                           "last good copy or a backup, or save it again from Excel")
    if size > cap:
        raise refuse(path, f"the file is {size / 2**20:.0f} MB, over the {cap / 2**20:.0f} MB cap")
    return path


def check_workbook_file(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise UnsafeFileError unless `path` looks like a safe .xlsx/.xlsm package. Reads only the zip directory
    and the first bytes of each XML part."""
    path = _sized_file(path, "workbook", limits.max_file_bytes)
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head == OLE_MAGIC:
        if _is_encrypted_ole(path):
            raise refuse(path, "the workbook is password-protected (encrypted); remove the password in Excel "
                               "(File > Info > Protect Workbook) and save it again")
        raise refuse(path, "this is a legacy .xls (or other OLE) file, not an .xlsx/.xlsm workbook; "
                           "save it as .xlsx in Excel")
    if not head.startswith(ZIP_MAGIC):
        raise refuse(path, "not an Excel workbook (the file is not an .xlsx/.xlsm zip package; "
                           "was another file renamed?)")
    if not zipfile.is_zipfile(path):  # a zip's start without its end: cut off
        raise refuse(path, TRUNCATED)
    try:
        _check_directory(path, limits)
        with zipfile.ZipFile(path) as zf:
            _check_zip(path, zf, limits)
    except OSError as exc:
        raise refuse(path, f"the workbook could not be read ({os_error_reason(exc)})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError) as exc:
        raise refuse(path, f"{DAMAGED} ({exc})") from None


#: What to do with a workbook whose package is cut off or damaged (the same advice wherever it is found).
TRUNCATED = ("not an Excel workbook as it stands: its zip package is truncated (it ends early) or damaged, so it was "
             "probably not saved or copied completely; use the last good copy or a backup, or save it again from "
             "Excel")
DAMAGED = ("the workbook is damaged; open it in Excel, which offers to repair it, and save it again, or use the last "
           "good copy or a backup")


def _check_zip(path: Path, zf: zipfile.ZipFile, limits: Limits) -> None:
    infos = zf.infolist()
    if len(infos) > limits.max_parts:
        raise refuse(path, f"the package has {len(infos)} parts, over the {limits.max_parts} cap")
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
        what = "a Word document" if "word/document.xml" in names else \
            "a PowerPoint file" if "ppt/presentation.xml" in names else "a zip file"
        raise refuse(path, f"not an Excel workbook ({what} without xl/workbook.xml)")
    if "xl/workbook.bin" in names:
        raise refuse(path, "an .xlsb binary workbook is not supported; save it as .xlsx")
    total = overcompressed = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise refuse(path, f"part {info.filename} is encrypted")
        total += info.file_size
        if total > limits.max_uncompressed_bytes:
            raise refuse(path, f"it would expand to more than {limits.max_uncompressed_bytes / 2**20:.0f} MB "
                               "(a zip bomb?)")
        floor = limits.xml_ratio_floor_bytes if info.filename.endswith(_XML_PARTS) else limits.ratio_floor_bytes
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio <= limits.max_ratio:
            continue
        if info.file_size > floor:
            raise refuse(path, f"part {info.filename} is compressed {ratio:.0f}:1 ({_size(info.file_size)} "
                               f"from {_size(info.compress_size)}), over the {limits.max_ratio:.0f}:1 cap "
                               "(a zip bomb?)")
        overcompressed += info.file_size
        if overcompressed > limits.max_overcompressed_bytes:  # many small parts, each under its floor
            raise refuse(path, f"its parts compressed over {limits.max_ratio:.0f}:1 expand to more than "
                               f"{_size(limits.max_overcompressed_bytes)} together (a zip bomb of many small "
                               f"parts? {info.filename} is compressed {ratio:.0f}:1)")
    for info in infos:
        if not info.filename.endswith(_XML_PARTS):
            continue
        with zf.open(info) as part:
            found = _scan_prolog(part, limits.max_depth)
        if found == "dtd":
            raise refuse(path, f"part {info.filename} declares an XML DTD or entity (an entity-expansion "
                               "attack?)")
        if found == "deep":
            raise refuse(path, f"part {info.filename} nests XML elements more than {limits.max_depth} deep (a "
                               "workbook's parts nest under 30; a parser bomb?)")
        if info.filename.startswith("xl/worksheets/"):
            with zf.open(info) as part:
                prolog = part.read(_PROLOG_BYTES)
            _check_dimension(path, info, prolog, limits)


_XML_PARTS = (".xml", ".rels", ".vml")


def _size(n: int) -> str:
    return f"{n / 2**20:,.1f} MB" if n >= 2**20 else f"{n / 2**10:,.1f} KB" if n >= 2**10 else f"{n} bytes"


def _check_directory(path: Path, limits: Limits) -> None:
    """The part count and central directory size the zip's end record declares, capped before zipfile parses the
    directory into one object per part (which takes seconds and GBs for a million tiny parts)."""
    end_record = getattr(zipfile, "_EndRecData", None)  # zipfile's own reader of the end record (zip64 too)
    if end_record is None:  # a Python without it: the count is checked after parsing, as before
        return
    with open(path, "rb") as fh:
        end = end_record(fh)
    if end is None:
        raise refuse(path, TRUNCATED)
    entries, size = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
    if entries > limits.max_parts:
        raise refuse(path, f"the package declares {entries:,} parts, over the {limits.max_parts:,} cap (a zip bomb "
                           "of many tiny parts?)")
    if size > limits.max_directory_bytes:
        raise refuse(path, f"the package's directory of parts is {_size(size)}, more than {limits.max_parts:,} "
                           f"parts need (cap {_size(limits.max_directory_bytes)}; a zip bomb of many tiny parts?)")


class _RootReached(Exception):
    """Raised from expat's handlers to stop reading a part where its prolog ends."""


def _scan_prolog(part: IO[bytes], max_depth: int) -> str | None:
    """'dtd' if an XML part declares a DTD (where entities are declared) before its root element, 'deep' if its
    elements nest more than `max_depth` deep within its first _PROLOG_BYTES after the root starts, else None.
    expat reads the part in its own encoding (UTF-16 too) and past any amount of comments before the root, and stops
    there, before expanding anything. A part that is not well-formed XML is left to the parser that reads it."""
    parser = expat.ParserCreate()
    depth = [0]
    found: list[str | None] = []

    def doctype(*_: Any) -> None:
        found.append("dtd")
        raise _RootReached

    def start(*_: Any) -> None:
        depth[0] += 1
        if depth[0] > max_depth:
            found.append("deep")
            raise _RootReached

    def end(*_: Any) -> None:
        depth[0] -= 1

    parser.StartDoctypeDeclHandler = doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    after_root = 0
    try:
        while chunk := part.read(_PROLOG_BYTES):
            parser.Parse(chunk, False)
            if depth[0] or after_root:  # the root has started: read one more chunk's worth, no further
                after_root += len(chunk)
                if after_root >= _PROLOG_BYTES:
                    return None
        parser.Parse(b"", True)
    except _RootReached:
        return found[0]
    except expat.ExpatError:
        return None
    return None


def load_safely(path: str | os.PathLike, **options: Any) -> Workbook:
    """openpyxl's load_workbook(path, **options) after `check_workbook_file`, any failure of openpyxl's (a part that
    is not well-formed XML, an entity defusedxml refuses, ...) a SnopError that names the file."""
    path = Path(path)
    check_workbook_file(path)
    try:
        return load_workbook(path, **options)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a file that is not a workbook
        raise refuse(path, f"it cannot be read as an Excel workbook ({type(exc).__name__}: {exc}); {DAMAGED}") \
            from None


def _check_dimension(path: Path, info: zipfile.ZipInfo, prolog: bytes, limits: Limits) -> None:
    """A sheet's declared dimension within the cell cap, and its XML no larger than the dimension allows once it is
    large enough to hold more cells than the cap (a missing or lying dimension cannot hide a bomb)."""
    part = info.filename
    match = _DIMENSION.search(prolog)
    cells = 0
    if match:
        ref = match.group(1).decode()
        try:
            min_col, min_row, max_col, max_row = range_boundaries(ref if ":" in ref else f"{ref}:{ref}")
        except ValueError:
            raise refuse(path, f"{part} has an invalid dimension {ref!r}") from None
        cells = (max_row - min_row + 1) * (max_col - min_col + 1)
        if cells > limits.max_sheet_cells:
            raise refuse(path, f"{part} spans {ref} ({cells:,} cells), over the {limits.max_sheet_cells:,}-cell cap")
    if info.file_size > limits.max_sheet_cells * limits.min_cell_bytes and \
            info.file_size > cells * limits.max_cell_bytes:
        declared = (f"declares only {match.group(1).decode()} ({cells:,} cell{'s' if cells != 1 else ''})" if match
                    else "declares no dimension")
        raise refuse(path, f"{part} is {_size(info.file_size)} of XML, room for more than the "
                           f"{limits.max_sheet_cells:,}-cell cap, but {declared} (a zip bomb?)")


def _is_encrypted_ole(path: Path) -> bool:
    """An Office file encrypted with a password is an OLE container with an EncryptedPackage stream."""
    try:
        import olefile

        with olefile.OleFileIO(str(path)) as ole:
            return ole.exists("EncryptedPackage") or ole.exists("EncryptionInfo")
    except ImportError:  # olefile is optional: the stream name sits in the OLE directory as UTF-16
        pass
    except Exception:  # a damaged container: fall back to the byte scan
        pass
    with open(path, "rb") as fh:
        data = fh.read(min(path.stat().st_size, 32 * 2**20))
    return "EncryptedPackage".encode("utf-16-le") in data


def check_csv_file(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise UnsafeFileError unless `path` is a plain text file of a reasonable size."""
    path = _sized_file(path, "file", limits.max_csv_bytes)
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if head.startswith((ZIP_MAGIC, OLE_MAGIC)):
        raise refuse(path, "this is a workbook or other binary file, not a CSV text file; use the .xlsx/.xlsm "
                           "name or export it as CSV")
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise refuse(path, "not a CSV text file (it holds binary data)")
