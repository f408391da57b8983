"""Build workbook/SNOP_Template.xlsm on any OS, byte for byte the same from the same sources.

The template is the contract made visible: every sheet and Excel table of `snop_xl.contract` (via
`OpenpyxlBook.new`), input columns styled as inputs with drop-downs and checks, outputs styled as outputs, a
pre-filled Settings sheet, an Examples sheet using every SNOP_* function, a hidden ``xlwings.conf`` sheet, the VBA
project (xlwings' standalone module from the installed wheel, the ribbon callbacks in ``workbook/vba``, the UDF
wrappers generated from `udfs.functions`) and the ribbon ``workbook/customUI.xml``.

The build runs in three passes, because no single library writes all of it: openpyxl writes the sheets, pyOpenVBA
adds the VBA project, and a last pass over the zip adds the ribbon, sets the macro-enabled content type, fixes every
timestamp and writes the entries in a fixed order, so that CI can compare the committed file with a fresh build.
This is a developer/CI tool (extra ``build``); nothing here runs when planners use the workbook.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from snop_xl import contract as C
from snop_xl.build.package import finish_package
from snop_xl.build.sheets import build_sheets
from snop_xl.build.vba import UDF_VBA_NAME, add_vba, vba_modules

TEMPLATE = C.TEMPLATE
SOURCES = TEMPLATE.parent


def build_template(out: str | Path = TEMPLATE, sources: str | Path = SOURCES, write_sources: bool = False) -> Path:
    """Build the template at `out` from `sources`; with `write_sources`, refresh the committed generated .bas too."""
    out, sources = Path(out), Path(sources)
    modules = vba_modules(sources)
    if write_sources:
        (sources / "vba" / f"{UDF_VBA_NAME}.bas").write_bytes(modules[UDF_VBA_NAME][1].encode("ascii"))
    ribbon = (sources / "customUI.xml").read_bytes()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        sheets, with_vba = Path(tmp) / "sheets.xlsm", Path(tmp) / "vba.xlsm"
        build_sheets(sheets).wb.save(sheets)
        add_vba(sheets, with_vba, modules)
        staged = Path(tmp) / out.name
        finish_package(with_vba, staged, ribbon)
        staged.replace(out) if staged.stat().st_dev == out.parent.stat().st_dev else out.write_bytes(
            staged.read_bytes())
    return out
