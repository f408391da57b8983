"""Speed and memory of `snop-xl import BOOK History FILE` against `pandas.read_csv` of the same file, measured in the
same run (issue #15: target <= 3x read_csv at 1,000,000 lines, memory stated).

The file is an SAP-style billing extract written here, in a temporary folder: Material;Customer;Billing Date
(dd.mm.yyyy);Sales Org;Billed Qty;UoM;Net Value with decimal commas (some with thousands points, 1.200,50), returns
as negative lines. Each measurement runs in its own process, so its peak memory is its own (VmHWM, the
process's resident high-water mark, where Linux gives it; else ru_maxrss, which a child may inherit from this
process), and both its wall-clock and CPU seconds are shown (a shared machine slows the wall clock of both):

- pandas: `pd.read_csv(FILE, sep=";", decimal=",", thousands=".")`, the read a pandas user writes for it;
- import: what `snop-xl import` does before it asks (`read_file` + the History preview: the lenient reader, the
  items resolved against the book, lines summed per item and month, the book's History merged), without saving.

    python benchmarks/import_bench.py                  # 1,000,000 lines
    python benchmarks/import_bench.py --lines 200000
    python benchmarks/import_bench.py --repeat 3       # best and median of 3 for both
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

N_ITEMS = 2_000


def write_extract(path: Path, lines: int, seed: int = 15) -> None:
    """SAP billing lines (VF05-like), `;`-separated, German number and date formats."""
    rng = np.random.default_rng(seed)
    items = np.array([f"{100000 + i:018d}" for i in range(N_ITEMS)])  # SAP pads material numbers with zeros
    days = pd.date_range("2024-01-01", "2026-12-31").strftime("%d.%m.%Y").to_numpy()
    qty = rng.integers(1, 400, lines).astype(float)
    qty[rng.random(lines) < 0.03] *= -1  # returns
    half = rng.random(lines) < 0.05
    qty[half] += 0.5  # a few in half units: 7,5
    price = rng.uniform(0.5, 60.0, N_ITEMS)
    which = rng.integers(0, N_ITEMS, lines)
    value = qty * price[which]
    qty_text = np.where(half, np.char.replace(qty.astype(str), ".", ","), qty.astype(int).astype(str))
    value_text = [f"{v:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".") for v in value]
    frame = pd.DataFrame({
        "Material": items[which],
        "Customer": np.char.add("C", rng.integers(1000, 9000, lines).astype(str)),
        "Billing Date": rng.choice(days, lines),
        "Sales Org": rng.choice(["1000", "2000", "3000"], lines),
        "Billed Qty": qty_text,
        "UoM": "PC",
        "Net Value": value_text,
    })
    frame.to_csv(path, sep=";", index=False)


def write_book(path: Path) -> None:
    """A book whose Items name every material (without the ERP's leading zeros) and an empty History."""
    from snop_xl.inputs import write_inputs
    from snop_xl.io import OpenpyxlBook

    items = [str(100000 + i) for i in range(N_ITEMS)]
    frames = {
        "Items": pd.DataFrame({"item": items, "description": "", "family": [f"F{i % 20}" for i in range(N_ITEMS)],
                               "unit_price": 10.0, "unit_cost": 6.0, "lead_time": 0, "min_lot": 0.0,
                               "active": True}),
        "History": pd.DataFrame({"item": items[:1], "period": [pd.Period("2023-12", "M")], "qty": [1.0]}),
    }
    book = OpenpyxlBook.new(path)
    write_inputs(book, frames, {"cycle_month": pd.Period("2027-01", "M"), "horizon": 6})
    book.save()


def peak_mb() -> float:
    """This process's peak resident memory in MB: VmHWM (Linux: this program's own, from its exec), else
    ru_maxrss (which may include the parent's before the exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def child(kind: str, src: str, book: str) -> None:
    """One measurement in this process: seconds (wall and CPU) and peak memory, as JSON on stdout."""
    if kind == "pandas":
        before = peak_mb()
        start, cpu = time.perf_counter(), time.process_time()
        frame = pd.read_csv(src, sep=";", decimal=",", thousands=".")
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        rows = len(frame)
    else:
        from snop_xl.commands.import_table import read_file, read_history
        from snop_xl.io import OpenpyxlBook

        b = OpenpyxlBook(book)
        b.read_table  # the book is opened before the clock starts: the extract is what is measured
        before = peak_mb()
        start, cpu = time.perf_counter(), time.process_time()
        summary = read_history(b, read_file(src, "History"))
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        rows = len(summary.frame)
    peak = peak_mb()
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak, "added_mb": peak - before, "rows": rows}))


def measure(kind: str, src: Path, book: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(src), str(book)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "SRC", "BOOK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        src, book = Path(tmp) / "VF05.csv", Path(tmp) / "book.xlsx"
        write_extract(src, args.lines)
        write_book(book)
        size = src.stat().st_size / 1e6
        print(f"{args.lines:,} billing lines, {size:,.1f} MB ({src.name}, ';' and decimal commas), "
              f"{N_ITEMS:,} items")
        runs = {"pandas": [], "import": []}
        for _ in range(args.repeat):  # interleaved, so both see the same machine
            for kind in runs:
                runs[kind].append(measure(kind, src, book))
        best = {k: min(v, key=lambda r: r["seconds"]) for k, v in runs.items()}
        cpu = {k: min(r["cpu"] for r in v) for k, v in runs.items()}
        p, i = best["pandas"], best["import"]
        print(f"  pandas.read_csv           {p['seconds']:6.2f} s (CPU {cpu['pandas']:5.2f} s)   peak "
              f"{p['peak_mb']:6.0f} MB (+{p['added_mb']:.0f} MB while reading)")
        print(f"  import (read + aggregate) {i['seconds']:6.2f} s (CPU {cpu['import']:5.2f} s)   peak "
              f"{i['peak_mb']:6.0f} MB (+{i['added_mb']:.0f} MB while reading), {i['rows']:,} item-months")
        print(f"  ratio {i['seconds'] / p['seconds']:.2f}x read_csv (target <= 3x; CPU "
              f"{cpu['import'] / cpu['pandas']:.2f}x); peak memory {i['peak_mb']:.0f} MB, "
              f"{i['peak_mb'] / p['peak_mb']:.2f}x read_csv's")
        if args.repeat > 1:  # each run against the read_csv run just before it: a busy moment slows both
            ratios = [b["seconds"] / a["seconds"] for a, b in zip(runs["pandas"], runs["import"])]
            median = {k: float(np.median([r["seconds"] for r in v])) for k, v in runs.items()}
            print(f"  median of {args.repeat}: read_csv {median['pandas']:.2f} s, import {median['import']:.2f} s; "
                  f"ratio {median['import'] / median['pandas']:.2f}x (per run: "
                  + ", ".join(f"{r:.2f}x" for r in ratios) + ")")


if __name__ == "__main__":
    main()
