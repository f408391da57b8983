"""Render chosen sheets of a workbook to PNG with LibreOffice headless, to look at them without Excel.

    python scripts/render_sheets.py workbook/SNOP_Template.xlsm Settings Dashboard Examples -o out/render

Needs `soffice` and `pdftoppm` (Debian: apt-get install -y --no-install-recommends libreoffice-calc-nogui
fonts-crosextra-carlito poppler-utils). The workbook is copied with only the chosen sheets, converted to PDF with one
page per sheet (SinglePageSheets) in a private LibreOffice profile, and each page is written as <sheet>.png. The
source workbook is never touched (LibreOffice rewrites whatever it saves).

With --computed, formulas (SNOP_* functions included) show their values: the book is first recalculated by
`snop_xl.build.recalc` (LibreOffice with the SNOP_* bridge, docs/excel.md) and the values are rendered. Without it, cells
with SNOP_* formulas show #NAME? (LibreOffice does not know them).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from openpyxl import load_workbook

PDF_FILTER = 'pdf:calc_pdf_Export:{"SinglePageSheets":{"type":"boolean","value":"true"}}'


def render(book: str | Path, sheets: list[str], out_dir: str | Path, dpi: int = 80,
           computed: bool = False) -> list[Path]:
    """One PNG per sheet in `sheets` (in that order) under `out_dir`; `computed`: formulas as their values."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if computed:
            from snop_xl.build.recalc import recalc_file

            book = recalc_file(book, tmp / "recalc")
        wb = load_workbook(book, data_only=computed)
        missing = [s for s in sheets if s not in wb.sheetnames]
        if missing:
            raise SystemExit(f"{book}: no sheet(s) {missing}")
        # The other sheets stay (hidden, so not printed): charts and formulas may read their cells.
        wb._sheets.sort(key=lambda ws: sheets.index(ws.title) if ws.title in sheets else len(sheets))
        for ws in wb.worksheets:
            ws.sheet_state = "visible" if ws.title in sheets else "hidden"
        wb.active = 0
        copy = tmp / "render.xlsx"
        wb.save(copy)
        subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp / 'profile'}", "--headless",
                        "--convert-to", PDF_FILTER, "--outdir", str(tmp), str(copy)],
                       check=True, capture_output=True, timeout=180)
        pngs = []
        for page, name in enumerate(sheets, start=1):
            stem = tmp / f"page{page}"
            subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile",
                            str(tmp / "render.pdf"), str(stem)], check=True, capture_output=True, timeout=60)
            target = out_dir / f"{name}.png"
            shutil.move(stem.with_suffix(".png"), target)
            pngs.append(target)
    return pngs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("book")
    parser.add_argument("sheets", nargs="+")
    parser.add_argument("-o", "--out", default="out/render")
    parser.add_argument("--dpi", type=int, default=80)
    parser.add_argument("--computed", action="store_true", help="show formulas' values (SNOP_* included)")
    args = parser.parse_args(argv)
    for path in render(args.book, args.sheets, args.out, args.dpi, args.computed):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
