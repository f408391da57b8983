"""Compare every output table of the demo built by an earlier commit with the one built by the working tree.

A refactor's proof that behaviour did not change: `python scripts/compare_outputs.py [REF]` (default `main`) checks
REF out into a temporary worktree, runs `snop-xl demo` with each version of the code, and compares every Excel
table of the two books value by value (numbers to 1e-9 relative). Prints one line per table; exit code 1 when a
table differs. Run-specific cells (timestamps, the archive's path) are listed but do not fail the comparison.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parents[1]
#: columns whose values depend on when or where the demo ran, not on the numbers
RUN_SPECIFIC = {"Timestamp", "Started", "Finished", "Published At", "Archive", "Seconds", "Duration (s)"}


def build_demo(code_dir: Path, out: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(code_dir)}
    subprocess.run([sys.executable, "-c", "import sys; from snop_xl.cli import main; sys.exit(main())",
                    "demo", "--out", str(out)], cwd=code_dir, env=env, check=True, stdout=subprocess.DEVNULL)


def tables(path: Path) -> dict[str, list[list[object]]]:
    book = openpyxl.load_workbook(path, data_only=False)
    found = {}
    for sheet in book.worksheets:
        for table in sheet.tables.values():
            rows = sheet[table.ref]
            found[f"{sheet.title}!{table.name}"] = [[cell.value for cell in row] for row in rows]
    return found


def same(a: object, b: object) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def compare(before: dict, after: dict) -> bool:
    all_same = True
    for name in sorted(set(before) | set(after)):
        if name not in before or name not in after:
            print(f"{name}: only in {'after' if name in after else 'before'}")
            all_same = False
            continue
        old, new = before[name], after[name]
        if len(old) != len(new) or old[0] != new[0]:
            print(f"{name}: shape or header differs ({len(old)} vs {len(new)} rows)")
            all_same = False
            continue
        header = old[0]
        diffs = [(r, header[c], x, y) for r, (ro, rn) in enumerate(zip(old, new)) for c, (x, y) in
                 enumerate(zip(ro, rn)) if not same(x, y)]
        hard = [d for d in diffs if d[1] not in RUN_SPECIFIC]
        if hard:
            all_same = False
            print(f"{name}: {len(hard)} cells differ, first: row {hard[0][0]} {hard[0][1]!r}: "
                  f"{hard[0][2]!r} -> {hard[0][3]!r}")
        else:
            note = f" (run-specific columns differ: {sorted({d[1] for d in diffs})})" if diffs else ""
            print(f"{name}: same, {len(old) - 1} rows{note}")
    return all_same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ref", nargs="?", default="main", help="the commit to compare against (default main)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        worktree = tmp / "ref"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(worktree), args.ref], cwd=ROOT, check=True)
        try:
            build_demo(worktree, tmp / "before" / "demo.xlsm")
            build_demo(ROOT, tmp / "after" / "demo.xlsm")
            ok = compare(tables(tmp / "before" / "demo.xlsm"), tables(tmp / "after" / "demo.xlsm"))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, check=False)
    print("every output table is the same" if ok else "outputs differ")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
