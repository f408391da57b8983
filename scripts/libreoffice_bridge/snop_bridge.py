"""LibreOffice's side of the SNOP_* bridge: the Basic wrappers of the profile call `snop_call` through the Python
script provider.

LibreOffice runs this file in its own Python (on Debian the system /usr/bin/python3 via python3-uno), not in the
project's virtual environment: the folders of that environment (its site-packages and the repository) are written
into SYS_PATH below by scripts/libreoffice_bridge/profile.py when the profile is built, and the environment variable
SNOP_XL_SYS_PATH (os.pathsep-separated) can add more. Everything else lives in `snop_xl.build.recalc.call_udf`, which is
plain Python and tested as such.
"""

import os
import sys

SYS_PATH = []  # replaced when the profile is built

PREFIX = "#SNOP! "


def _add_paths():
    extra = [p for p in os.environ.get("SNOP_XL_SYS_PATH", "").split(os.pathsep) if p]
    for path in reversed(extra + list(SYS_PATH)):
        if path not in sys.path:
            sys.path.insert(0, path)


def snop_call(name, args):
    """The value a SNOP_* cell shows: a number, a text, or a tuple of rows; never an exception (a Basic runtime
    error would stop a headless LibreOffice at a dialog)."""
    try:
        _add_paths()
        from snop_xl.build.recalc import call_udf

        return call_udf(name, args)
    except BaseException as exc:  # noqa: BLE001 - the cell must show why, in one line
        return PREFIX + "%s: %s: %s" % (name, type(exc).__name__, " ".join(str(exc).split()))


g_exportedScripts = (snop_call,)
