"""The whole S&OP cycle on books of 500 and 2,000 items (10,000 with --large): seconds per step, peak memory, and the
ratio of the whole run to its floor (openpyxl's own load + save of the same output file, measured in the same run).

    .venv/bin/python benchmarks/cycle_bench.py [--items 500 2000] [--large] [--lot-share 0.1] [--past-cycles 6]
                                               [--rerun] [--keep DIR] [--profile FILE.prof]

--rerun: the cycle a second time on its own output, as a planner's second run of the month meets the book (every
output table there to be read and replaced).

The book is the demo's (`snop_xl.commands.demo.demo_frames`) replicated: replica 0 *is* the demo (same names, so its
events, overrides, scenarios and past cycles apply unchanged), each further replica is the demo's 36 items under new
codes with its volume scaled by a random factor. Four replicas share a family ("Garden 3"), families are spread over
resource groups (3 resources each, ~12 resources at 2,000 items) sized on the load they carry, ten replicas share a
supplier. Minimum lots sit on `--lot-share` of the items beyond the demo's own. The archive gets the demo's past
cycles (`publish_past_cycles`) so step 5 computes published KPIs as well as the backtest.

Each size runs in its own process (its peak RSS is its own: getrusage max RSS of the process, and of the scenario
worker processes separately). Step seconds are wall time on this machine, shared: compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from snop_xl.commands import demo
from snop_xl.commands.new import blank_book
from snop_xl.inputs import write_inputs

ITEMS_PER_REPLICA = 36
REPLICAS_PER_FAMILY = 4
FAMILIES_PER_RESOURCE_GROUP = 4  # family groups (of 4 replicas) per resource group
REPLICAS_PER_SUPPLIER = 10


def _name(base: str, group: int) -> str:
    """Group 0 keeps the demo's name, so every reference of the demo's tables still holds."""
    return base if group == 0 else f"{base} {group}"


def _mapped(frame: pd.DataFrame, **funcs: Callable[[object], object]) -> pd.DataFrame:
    """A copy of `frame` with each named column's values mapped through its function."""
    out = frame.copy()
    for column, fn in funcs.items():
        out[column] = [fn(v) for v in out[column]]
    return out


def scaled_frames(n_items: int, lot_share: float = 0.1, seed: int = 7) -> dict[str, pd.DataFrame]:
    """Input tables of a book of about `n_items` items (a whole number of demo replicas)."""
    base = demo.demo_frames(seed)
    rng = np.random.default_rng(seed + 1)
    k = max(1, round(n_items / ITEMS_PER_REPLICA))
    scale = np.concatenate([[1.0], rng.uniform(0.6, 1.4, k - 1)])

    def code(g: int, item: object) -> object:
        return item if g == 0 or item is None or pd.isna(item) else f"{str(item)[:2]}{g:03d}{str(item)[2:]}"

    def fam(g: int, family: object) -> object:
        return family if family is None or pd.isna(family) else _name(str(family), g // REPLICAS_PER_FAMILY)

    def resource_of(g: int, resource: str) -> str:
        return _name(resource, g // REPLICAS_PER_FAMILY // FAMILIES_PER_RESOURCE_GROUP)

    def supplier_of(g: int, supplier: str) -> str:
        return _name(supplier, g // REPLICAS_PER_SUPPLIER)

    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in base}
    for g in range(k):
        f = scale[g]
        items = base["Items"].copy()
        items = _mapped(items, item=partial(code, g), family=partial(fam, g))
        if g:
            items["min_lot"] = np.where(rng.random(len(items)) < lot_share, items["min_lot"].replace(0, 50.0), 0.0)
        parts["Items"].append(items)
        hist = _mapped(base["History"], item=partial(code, g))
        hist["qty"] = np.round(hist["qty"] * f) if g else hist["qty"]
        parts["History"].append(hist)
        inv = _mapped(base["Inventory"], item=partial(code, g))
        inv["on_hand"] = np.round(inv["on_hand"] * f)
        parts["Inventory"].append(inv)
        bor = _mapped(base["BillOfResources"], item=partial(code, g), family=partial(fam, g),
                      resource=partial(resource_of, g))
        parts["BillOfResources"].append(bor)
        cap = _mapped(base["Capacity"], resource=partial(resource_of, g))
        cap[["available_hours", "overtime_hours"]] *= f
        parts["Capacity"].append(cap)
        sup = _mapped(base["Suppliers"], item=partial(code, g), supplier=partial(supplier_of, g))
        parts["Suppliers"].append(sup)
        bud = _mapped(base["Budget"], family=partial(fam, g))
        bud[["units", "revenue"]] *= f
        parts["Budget"].append(bud)
        agg = _mapped(base["AggregateParams"], family=partial(fam, g))
        agg[["start_workforce", "max_subcontract", "min_end_inventory"]] *= f
        parts["AggregateParams"].append(agg)
    out = {name: pd.concat(p, ignore_index=True) for name, p in parts.items() if p}
    # shared rows: one per family, resource-month; BoR family rows once per family and resource
    out["Capacity"] = out["Capacity"].groupby(["resource", "period"], as_index=False, sort=False).agg(
        available_hours=("available_hours", "sum"), overtime_hours=("overtime_hours", "sum"),
        regular_cost=("regular_cost", "first"), overtime_cost=("overtime_cost", "first"))
    out["Capacity"][["available_hours", "overtime_hours"]] = out["Capacity"][
        ["available_hours", "overtime_hours"]].round(-1)
    out["BillOfResources"] = out["BillOfResources"].drop_duplicates(ignore_index=True)
    out["Budget"] = out["Budget"].groupby(["family", "period"], as_index=False, sort=False).agg(
        item=("item", "first"), units=("units", "sum"), revenue=("revenue", "sum")).round({"units": 0,
                                                                                           "revenue": -2})
    agg = out["AggregateParams"]
    summed = agg.groupby("family", sort=False)[["start_workforce", "max_subcontract", "min_end_inventory"]].sum()
    agg = agg.drop_duplicates("family", ignore_index=True)
    agg[summed.columns] = summed.reindex(agg["family"]).round().to_numpy()
    out["AggregateParams"] = agg
    for name in ("Events", "Overrides", "Scenarios", "Decisions"):
        out[name] = base[name]
    return out


def build_book(path: Path, n_items: int, lot_share: float, past_cycles: int) -> tuple[Path, float, int]:
    """Write the scaled book (and its archive of past cycles); its path, seconds taken and item count."""
    t0 = time.perf_counter()
    frames = scaled_frames(n_items, lot_share)
    book = blank_book(path)
    write_inputs(book, frames, demo.demo_settings())
    saved = Path(book.save())
    if past_cycles:
        demo.publish_past_cycles(saved, past_cycles)
    return saved, time.perf_counter() - t0, len(frames["Items"])


def floor_seconds(path: Path) -> tuple[float, float]:
    """openpyxl's own load and save of `path` (the cycle's output file): `load_workbook` (through the engine's
    guarded opener, which calls it) and `Workbook.save` (openpyxl's writer, not the engine's faster row writer)."""
    from snop_xl.io.openpyxl_book import open_workbook

    t0 = time.perf_counter()
    wb = open_workbook(path)
    t1 = time.perf_counter()
    wb.save(path.with_name("floor_" + path.name))
    return t1 - t0, time.perf_counter() - t1


def run_cycle(path: Path, profile: str | None = None) -> dict[str, float]:
    """The cycle over the book at `path` (as `snop-xl run` does), timed by phase."""
    from snop_xl.cycle import STEPS, run_book
    from snop_xl.io import open_book

    marks: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    book = open_book(path)
    opened = time.perf_counter()
    save = book.save
    saved: dict[str, float] = {}

    def timed_save(*args: object, **kwargs: object) -> Path:
        s = time.perf_counter()
        out = save(*args, **kwargs)
        saved["save"] = time.perf_counter() - s
        return out

    book.save = timed_save  # type: ignore[method-assign]

    def progress(message: str) -> None:
        marks.append((message, time.perf_counter()))

    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.runcall(run_book, book, None, progress)
        prof.dump_stats(profile)
    else:
        run_book(book, None, progress)
    end = time.perf_counter()
    times = {"open": opened - t0, "validate": marks[0][1] - opened}
    names = {f"step {s.number} {s.title}": s.name for s in STEPS}
    for (msg, start), (_, done) in zip(marks[::2], marks[1::2]):
        times[names[msg.removesuffix(" ...")]] = done - start
    times["write"] = end - marks[-1][1] - saved["save"]
    times["save"] = saved["save"]
    times["total"] = end - t0
    return times


def one_size(n_items: int, lot_share: float, past_cycles: int, keep: str | None, profile: str | None,
             rerun_too: bool = False) -> dict:
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="cycle_bench_"))
    folder.mkdir(parents=True, exist_ok=True)
    path, build_s, items = build_book(folder / f"bench_{n_items}.xlsx", n_items, lot_share, past_cycles)
    rss_built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times = run_cycle(path, profile)
    # the month's second run (a planner's edits read back): the book now holds every output table
    rerun = run_cycle(path) if rerun_too else None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    load_s, save_s = floor_seconds(path)
    return {"items": items, "build_s": build_s, "times": times, "rerun": rerun, "floor_load_s": load_s,
            "floor_save_s": save_s,
            "peak_rss_mib": rss, "peak_rss_after_build_mib": rss_built, "peak_worker_rss_mib": children,
            "file_mib": path.stat().st_size / 2 ** 20}


def report(r: dict) -> None:
    t = r["times"]
    floor = r["floor_load_s"] + r["floor_save_s"]
    print(f"\n{r['items']:,} items (book built in {r['build_s']:.1f} s, output file {r['file_mib']:.1f} MiB)")
    rerun = r.get("rerun") or {}
    print(f"  {'phase':<12} {'first run':>10}" + (f" {'rerun':>10}" if rerun else ""))
    for k, v in t.items():
        print(f"  {k:<12} {v:8.2f} s" + (f" {rerun[k]:8.2f} s" if rerun else ""))
    print(f"  floor: openpyxl load {r['floor_load_s']:.2f} s + save {r['floor_save_s']:.2f} s = {floor:.2f} s; "
          f"run / floor = {t['total'] / floor:.1f}x" + (f", rerun / floor = {rerun['total'] / floor:.1f}x"
                                                         if rerun else ""))
    print(f"  peak RSS {r['peak_rss_mib']:.0f} MiB (scenario workers {r['peak_worker_rss_mib']:.0f} MiB)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, nargs="+", default=[500, 2000])
    ap.add_argument("--large", action="store_true", help="add the 10,000-item book (slow)")
    ap.add_argument("--lot-share", type=float, default=0.1, help="share of items (beyond the demo's) with min lots")
    ap.add_argument("--past-cycles", type=int, default=demo.PAST_CYCLES)
    ap.add_argument("--keep", help="write the books into this folder (default: a temporary one)")
    ap.add_argument("--profile", help="cProfile the cycle into this file (one size only)")
    ap.add_argument("--rerun", action="store_true",
                    help="run the cycle a second time on its own output (the book then holds every output table)")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one size, print JSON
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one, args.lot_share, args.past_cycles, args.keep, args.profile, args.rerun)))
        return
    sizes = list(args.items) + ([10000] if args.large and 10000 not in args.items else [])
    if args.profile and len(sizes) > 1:
        ap.error("--profile needs a single size (--items N)")
    results = []
    for n in sizes:
        cmd = [sys.executable, __file__, "--one", str(n), "--lot-share", str(args.lot_share),
               "--past-cycles", str(args.past_cycles)] + (["--rerun"] if args.rerun else []) + \
              (["--keep", args.keep] if args.keep else []) + (["--profile", args.profile] if args.profile else [])
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        report(results[-1])
    if len(results) > 1:
        a, b = results[0], results[-1]
        grow = b["items"] / a["items"]
        print(f"\ngrowth {a['items']:,} -> {b['items']:,} items ({grow:.1f}x), per phase (1.0 = linear):")
        for k in a["times"]:
            if a["times"][k] > 0.05:
                print(f"  {k:<12} {b['times'][k] / a['times'][k] / grow:5.2f}")


if __name__ == "__main__":
    main()
