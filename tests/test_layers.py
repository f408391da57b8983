"""The house in layers (../shared/design/ARCHITECTURE.md): every module imports only the layers below its own, no
import closes a circle, and no import hides inside a function except an optional heavy dependency.

Read from the source with `ast` (nothing is imported), so a violation fails here before it can grow a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: layer of each part of the project, lowest first; a module may import its own layer and those below it
LAYERS: dict[str, int] = {
    "snop_xl": 0, "snop_xl.errors": 0,
    "snop_xl.contract": 1,
    "snop_xl.calc": 2, "snop_xl.io": 2,
    "snop_xl.paste": 3, "snop_xl.archive": 3,
    "snop_xl.inputs": 4,
    "snop_xl.steps": 5,
    "snop_xl.cycle": 6,
    "snop_xl.commands": 7,
    "macros": 8,  # the ribbon: thin, calls commands
    "snop_xl.build": 9,  # developer/CI tools (template, recalc, docs): may load the udfs
    "snop_xl.cli": 10,  # argparse over every command, the developer ones included
    "udfs": 3,  # worksheet functions: calc, contract and io.parse only (below)
}
#: parts that may not import each other although one sits below the other
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "snop_xl.calc": ("snop_xl.io",),  # pure numerics: no workbook
    "snop_xl.io": ("snop_xl.calc",),  # engines know the contract, never the numbers
    "udfs": ("snop_xl.io.base", "snop_xl.io.openpyxl_book", "snop_xl.io.xlwings_book", "snop_xl.paste",
             "snop_xl.archive"),
    "snop_xl.io.openpyxl_book": ("snop_xl.io.xlwings_book",),  # engines never import each other
    "snop_xl.io.xlwings_book": ("snop_xl.io.openpyxl_book",),
}
#: what a function may import locally: optional heavy dependencies, loaded only when used
LAZY_OK = ("matplotlib", "xlwings", "uno", "pyopenvba", "olefile", "snop_xl.io.pictures", "snop_xl.commands.report",
           "udfs")


def modules() -> dict[str, Path]:
    found = {}
    for package in ("snop_xl", "udfs", "macros"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = modules()


def part_of(name: str, table: dict[str, object]) -> str | None:
    """The longest key of `table` that is `name` or a package above it."""
    keys = [k for k in table if name == k or name.startswith(k + ".")]
    return max(keys, key=len) if keys else None


def imports(name: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported project module, line, inside a function) of every import in the module."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    local_lines = {n.lineno for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                   for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        out += [(t, node.lineno, node.lineno in local_lines) for t in dict.fromkeys(targets)]
    return out


def project_edges() -> list[tuple[str, str, int, bool]]:
    edges = []
    for name, path in MODULES.items():
        for target, line, local in imports(name, path):
            module = part_of(target, MODULES)
            if module and module != name:
                edges.append((name, module, line, local))
    return edges


EDGES = project_edges()


def test_every_module_has_a_layer() -> None:
    assert [n for n in MODULES if part_of(n, LAYERS) is None] == []


def test_no_import_runs_up_a_layer_or_across_a_forbidden_line() -> None:
    wrong = []
    for source, target, line, _ in EDGES:
        a, b = part_of(source, LAYERS), part_of(target, LAYERS)
        if LAYERS[b] > LAYERS[a] and not (a == "udfs" and b in ("snop_xl.calc", "snop_xl.contract")):
            wrong.append(f"{MODULES[source].relative_to(ROOT)}:{line} imports {target} (layer {b} above {a})")
        for banned_for in (p for p in FORBIDDEN if source == p or source.startswith(p + ".")):
            if any(target == f or target.startswith(f + ".") for f in FORBIDDEN[banned_for]):
                wrong.append(f"{MODULES[source].relative_to(ROOT)}:{line} imports {target} ({banned_for} must not)")
    assert wrong == []


def test_udfs_reach_io_only_through_typed_cells() -> None:
    reached = {t for s, t, _, _ in EDGES if s.startswith("udfs") and t.startswith("snop_xl.io")}
    assert reached <= {"snop_xl.io.parse"}


def test_no_import_circle() -> None:
    graph: dict[str, set[str]] = {}
    for source, target, _, _ in EDGES:
        graph.setdefault(source, set()).add(target)
    graph = {k: {t for t in v if not k.startswith(t + ".")} for k, v in graph.items()}  # a package's own __init__
    state: dict[str, int] = {}
    circles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                circles.append(trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert circles == []


def test_no_function_local_import_but_optional_heavy_dependencies() -> None:
    hidden = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        for f in ast.walk(tree):
            if not isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(f):
                if isinstance(node, ast.ImportFrom):
                    targets = [node.module or ""]
                elif isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                else:
                    continue
                for t in targets:
                    if not any(t == ok or t.startswith(ok + ".") for ok in LAZY_OK):
                        hidden.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {t} inside {f.name}()")
    assert hidden == []


def test_openpyxl_is_touched_only_by_io_and_build() -> None:
    outside = []
    for name, path in MODULES.items():
        if part_of(name, LAYERS) in ("snop_xl.io", "snop_xl.build"):
            continue
        for target, line, _ in imports(name, path):
            if target == "openpyxl" or target.startswith("openpyxl."):
                outside.append(f"{path.relative_to(ROOT)}:{line}")
    assert outside == []


@pytest.mark.parametrize("source, target", [("snop_xl.io.openpyxl_book", "snop_xl.steps.review"),
                                            ("snop_xl.calc.kpi", "snop_xl.cycle")])
def test_the_check_finds_a_violation(source: str, target: str) -> None:
    """The checks above are not vacuous: an import up the layers is caught."""
    a, b = part_of(source, LAYERS), part_of(target, LAYERS)
    assert LAYERS[b] > LAYERS[a]
