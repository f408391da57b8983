"""Build a private LibreOffice profile in which the SNOP_* worksheet functions compute, to check the numbers
without Excel.

    python scripts/libreoffice_bridge/profile.py out/lo-profile
    soffice -env:UserInstallation=file://$PWD/out/lo-profile book.xlsx     # SNOP_* cells compute in Calc

The profile (a LibreOffice user installation) holds three things:
- registrymodifications.xcu: recalculate OOXML formulas on every load (LibreOffice otherwise keeps the cached
  values Excel saved) and never load or run the workbook's own VBA (the template's xlwings wrappers, which would
  shadow ours);
- Basic/Standard/SnopXL: `bridge.bas` plus one Basic function per SNOP_* UDF, generated from the same `@xw.arg`
  declarations the template's VBA wrappers come from (so the argument lists cannot drift);
- Scripts/python/snop_bridge.py, with this environment's import folders written into it.
Needs `soffice` and Debian's libreoffice-script-provider-python (pulls python3-uno).
"""

from __future__ import annotations

import json
import re
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MODULE = "SnopXL"
MISSING = "<snop-xl:missing>"  # as bridge.bas's SNOP_MISSING and snop_xl.build.recalc.MISSING

#: Calc settings of the profile: recalculate always on load (0 = always), ignore documents' VBA, never update
#: external links on load (Calc's link modes: 0 always, 1 never, 2 on request), so a workbook cannot reach out.
SETTINGS = (
    ("/org.openoffice.Office.Calc/Formula/Load", "OOXMLRecalcMode", "int", "0"),
    ("/org.openoffice.Office.Calc/Formula/Load", "ODFRecalcMode", "int", "0"),
    ("/org.openoffice.Office.Calc/Filter/Import/VBA", "Load", "boolean", "false"),
    ("/org.openoffice.Office.Calc/Filter/Import/VBA", "Executable", "boolean", "false"),
    ("/org.openoffice.Office.Calc/Content/Update", "Link", "int", "1"),
)


def soffice() -> str | None:
    """The soffice executable, or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def missing_requirements() -> str | None:
    """Why the bridge cannot run here (a sentence naming the Debian packages), or None when it can."""
    exe = soffice()
    if exe is None:
        return "LibreOffice is not installed (Debian: apt-get install libreoffice-calc-nogui)"
    program = Path(exe).resolve().parent
    if not (program / "pythonscript.py").exists():
        return ("LibreOffice's Python script provider is not installed (Debian: apt-get install "
                "libreoffice-script-provider-python python3-uno)")
    ours = f"{sys.version_info.major}.{sys.version_info.minor}"
    theirs = libreoffice_python(program)
    if theirs and theirs != ours:
        return (f"LibreOffice runs Python {theirs} but this environment is Python {ours}: its compiled packages "
                f"(numpy, pandas) cannot load there; use a Python {theirs} virtual environment")
    return None


def libreoffice_python(program: Path) -> str | None:
    """The Python version (e.g. '3.11') LibreOffice's pyuno is linked against, when it can be read."""
    for name in ("libpyuno.so", "pyuno.so"):
        path = program / name
        if path.exists():
            found = re.search(rb"libpython(3\.\d+)", path.read_bytes())
            if found:
                return found.group(1).decode()
    return None


def environment_paths() -> list[str]:
    """The import folders LibreOffice's Python needs to import snop_xl and udfs: this repository, this
    environment's site-packages (pandas, numpy, scipy, ... must match LibreOffice's Python minor version)."""
    paths = [str(ROOT)]
    for p in [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()]:
        if p not in paths and Path(p).is_dir():
            paths.append(p)
    return paths


def basic_wrappers() -> str:
    """One Basic function per SNOP_* UDF, with the UDF's argument names, optional arguments marked missing."""
    sys.path.insert(0, str(ROOT)) if str(ROOT) not in sys.path else None
    from snop_xl.build.vba import decorated_udfs

    lines = []
    for func in decorated_udfs().FUNCTIONS:
        meta = func.__xlfunc__
        name, args = meta["name"], meta["args"]
        params = [("Optional " if "optional" in a else "") + f"arg_{a['name']}" for a in args]
        lines.append(f"Function {name}({', '.join(params)})")
        for a in args:
            if "optional" in a:
                lines.append(f"    If IsMissing(arg_{a['name']}) Then arg_{a['name']} = SNOP_MISSING")
        call_args = ", ".join(f"arg_{a['name']}" for a in args)
        lines.append(f'    {name} = SnopCall("{name}", Array({call_args}))')
        lines.append("End Function")
        lines.append("")
    return "\n".join(lines)


def basic_module() -> str:
    """The whole Basic module: the fixed bridge, then the generated wrappers."""
    return (HERE / "bridge.bas").read_text(encoding="utf-8").rstrip() + "\n\n" + basic_wrappers()


def _add_settings(registry: Path) -> None:
    """Add SETTINGS to the profile's registrymodifications.xcu, keeping what LibreOffice wrote there (among it
    ooSetupInstCompleted: without it the next start copies LibreOffice's presets over user/basic again)."""
    items = "\n".join(
        f'<item oor:path="{path}"><prop oor:name="{name}" oor:op="fuse"><value>{value}</value></prop></item>'
        for path, name, _type, value in SETTINGS)
    text = registry.read_text(encoding="utf-8")
    if "</oor:items>" not in text:
        raise RuntimeError(f"{registry}: not a LibreOffice registry file")
    registry.write_text(text.replace("</oor:items>", items + "\n</oor:items>"), encoding="utf-8")


_XLB = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE library:library PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "library.dtd">
<library:library xmlns:library="http://openoffice.org/2000/library" library:name="Standard" \
library:readonly="false" library:passwordprotected="false">
 <library:element library:name="Module1"/>
 <library:element library:name="{module}"/>
</library:library>
"""

_XBA = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "module.dtd">
<script:module xmlns:script="http://openoffice.org/2000/script" script:name="{module}" \
script:language="StarBasic">{source}</script:module>
"""


def build_profile(dest: str | Path, extra_paths: list[str] | None = None) -> Path:
    """A fresh LibreOffice user installation at `dest` (replaced if present) with the SNOP_* bridge; returns
    `dest`. Pass it to soffice as ``-env:UserInstallation=<dest as file URI>``."""
    problem = missing_requirements()
    if problem:
        raise RuntimeError(problem)
    dest = Path(dest).resolve()
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    # let LibreOffice lay out a new profile first: on its first start it copies its presets over user/basic
    subprocess.run([soffice(), f"-env:UserInstallation={dest.as_uri()}", "--headless", "--terminate_after_init"],
                   check=True, capture_output=True, timeout=120)
    user = dest / "user"
    _add_settings(user / "registrymodifications.xcu")
    standard = user / "basic" / "Standard"
    standard.mkdir(parents=True, exist_ok=True)
    (standard / "script.xlb").write_text(_XLB.format(module=MODULE), encoding="utf-8")
    (standard / f"{MODULE}.xba").write_text(_XBA.format(module=MODULE, source=escape(basic_module())),
                                            encoding="utf-8")
    scripts = user / "Scripts" / "python"
    scripts.mkdir(parents=True, exist_ok=True)
    source = (HERE / "snop_bridge.py").read_text(encoding="utf-8")
    paths = environment_paths() + list(extra_paths or [])
    source = source.replace("SYS_PATH = []  # replaced when the profile is built",
                            f"SYS_PATH = {json.dumps(paths)}  # written by profile.py for {sys.executable}")
    (scripts / "snop_bridge.py").write_text(source, encoding="utf-8")
    return dest


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", help="folder of the profile to create (replaced if present)")
    args = parser.parse_args(argv)
    dest = build_profile(args.dest)
    print(f"profile: {dest}\nuse: soffice -env:UserInstallation={dest.as_uri()} BOOK.xlsx")
    return 0


if __name__ == "__main__":
    sys.exit(main())
